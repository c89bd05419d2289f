"""Benchmark of ``gjj seed``: seed N members into a database and report members/s and the time.

    python scripts/bench_seed.py --database-url postgresql://postgres@127.0.0.1/gjj_seed \\
        --members 100000 --reset

``--reset`` migrates the database down to nothing and up again first (it must be a scratch
database). The figure includes generation, PII encryption and the bulk load (COPY on PostgreSQL,
worker processes from 20,000 members: ``--workers``), the index builds and ANALYZE. Besides wall
time it reports the CPU seconds of this process and its workers (a busy machine stretches wall
time, not CPU), the load average before and after, and the database's size.
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import threading
import time
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import URL
from sqlalchemy.pool import NullPool

from backend import migrate
from backend.bootstrap import bootstrap
from backend.settings import Settings
from devtools.seed.runner import seed_centre


class BackendCpu:
    """The CPU seconds of the PostgreSQL backends (and their parallel workers) connected to the
    seeded database, sampled from ``/proc/<pid>/stat`` every ``interval`` seconds: the highest
    reading of each process counts (a backend's last ``interval`` before it exits is lost, a
    fraction of a second per connection). Zero when ``/proc`` does not show the server's
    processes (another machine, a container)."""

    def __init__(self, url: URL, interval: float = 0.2) -> None:
        self._engine = create_engine(url, poolclass=NullPool)  # its own: the seed forks
        self._interval = interval
        self._seen: dict[int, float] = {}
        self._stop = threading.Event()
        self._tick = os.sysconf("SC_CLK_TCK")
        self._thread = threading.Thread(target=self._run, name="backend-cpu", daemon=True)

    def __enter__(self) -> BackendCpu:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self._engine.dispose()

    @property
    def seconds(self) -> float:
        return sum(self._seen.values())

    def _run(self) -> None:
        query = text(
            "SELECT pid FROM pg_stat_activity"
            " WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
        with self._engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            while True:
                for pid in conn.execute(query).scalars():
                    cpu = self._cpu(pid)
                    if cpu is not None:
                        self._seen[pid] = max(cpu, self._seen.get(pid, 0.0))
                if self._stop.wait(self._interval):
                    return

    def _cpu(self, pid: int) -> float | None:
        try:
            with open(f"/proc/{pid}/stat") as handle:
                fields = handle.read().rsplit(")", 1)[1].split()
        except OSError:
            return None
        return (int(fields[11]) + int(fields[12])) / self._tick  # utime, stime


def _cpu(who: int) -> float:
    usage = resource.getrusage(who)
    return usage.ru_utime + usage.ru_stime


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--members", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--reset", action="store_true", help="empty the database first")
    parser.add_argument("--csv", default=None, help="also write the demo-members CSV here")
    parser.add_argument("--workers", type=int, default=None, help="default: one per CPU")
    args = parser.parse_args(argv)

    runtime = bootstrap(Settings.from_env(database_url=args.database_url))
    if args.reset:
        migrate.downgrade(runtime.engine)
    migrate.upgrade(runtime.engine)
    postgres = runtime.engine.dialect.name == "postgresql"
    load_before = os.getloadavg()
    before = _cpu(resource.RUSAGE_SELF)
    started = time.perf_counter()
    sampler = BackendCpu(runtime.engine.url)
    if postgres:
        sampler.__enter__()
    try:
        result = seed_centre(
            runtime,
            members=args.members,
            seed=args.seed,
            csv_path=None if args.csv is None else Path(args.csv),
            workers=args.workers,
        )
    finally:
        if postgres:
            sampler.__exit__()
    elapsed = time.perf_counter() - started
    load_after = os.getloadavg()
    own = _cpu(resource.RUSAGE_SELF) - before  # the seed's part: not the imports, migrations
    workers = _cpu(resource.RUSAGE_CHILDREN)
    cpu = own + workers
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
    for phase, seconds in result.phases.items():
        print(f"  {phase:22} {seconds:>10.1f} s")
    print(f"members/s: {result.members / elapsed:.0f}")
    print(f"rows/s:    {result.rows / elapsed:.0f}")
    print(f"cpu:       {cpu:.0f} s of this process and its workers (not the database's)")
    print(f"  this process {own:.1f} s from the seed's start, its workers {workers:.1f} s")
    print(f"members per cpu-second: {result.members / cpu:.0f}")
    if postgres:
        database = sampler.seconds
        print(f"db cpu:    {database:.0f} s of the database's backends for this database")
        print(f"members per cpu-second, seed + database: {result.members / (cpu + database):.0f}")
    print("load avg:  before " + " ".join(f"{x:.1f}" for x in load_before), end="")
    print(", after " + " ".join(f"{x:.1f}" for x in load_after))
    if dialect == "postgresql":
        with runtime.engine.connect() as conn:
            size = conn.execute(
                text("SELECT pg_size_pretty(pg_database_size(current_database()))")
            ).scalar_one()
        print(f"db size:   {size}")
    runtime.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
