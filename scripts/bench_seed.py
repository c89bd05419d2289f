"""Benchmark of ``gjj seed``: seed N members into a database and report members/s and the time.

    python scripts/bench_seed.py --database-url postgresql://postgres@127.0.0.1/gjj_seed \\
        --members 100000 --reset

``--reset`` migrates the database down to nothing and up again first (it must be a scratch
database). The figure includes generation, PII encryption and the bulk load (COPY on PostgreSQL).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from backend import migrate
from backend.runtime import Runtime
from backend.settings import Settings
from devtools.seed.runner import seed_centre


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--members", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--reset", action="store_true", help="empty the database first")
    parser.add_argument("--csv", default=None, help="also write the demo-members CSV here")
    parser.add_argument("--workers", type=int, default=None, help="default: one per CPU")
    args = parser.parse_args(argv)

    runtime = Runtime.build(Settings.from_env(database_url=args.database_url))
    if args.reset:
        migrate.downgrade(runtime.engine)
    migrate.upgrade(runtime.engine)
    started = time.perf_counter()
    result = seed_centre(
        runtime,
        members=args.members,
        seed=args.seed,
        csv_path=None if args.csv is None else Path(args.csv),
        workers=args.workers,
    )
    elapsed = time.perf_counter() - started
    if result.skipped:
        print("the database already has members: use --reset on a scratch database")
        return 1
    dialect = runtime.engine.dialect.name
    print(f"database:  {dialect}")
    print(f"members:   {result.members}")
    print(f"rows:      {result.rows}")
    for table, count in sorted(result.counts.items(), key=lambda item: -item[1]):
        print(f"  {table:22} {count:>10}")
    print(f"total:     {elapsed:.1f} s")
    print(f"members/s: {result.members / elapsed:.0f}")
    print(f"rows/s:    {result.rows / elapsed:.0f}")
    runtime.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
