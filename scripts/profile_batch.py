"""CPU cost of the 30 June batch endpoint inside one process, without HTTP or a server: the same
signed ``POST /internal/v1/fund/transactions/batch`` calls ``bench_interest_day.py`` makes, through
the Flask test client, CPU-seconds per entry (this process and the database server's backends are
not separated: read the process figure), and optionally a cProfile of the calls.

    GJJ_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/gjj_profile_batch \\
    GJJ_REDIS_URL=redis://127.0.0.1:6379/0 python scripts/profile_batch.py --members 5000 --profile

The schema is rebuilt and seeded as ``bench_interest_day.py`` does it (use a database of its own).
Pushes are queued (delivery rows written) but not sent: the dispatcher does nothing, so the
figure is the booking's own. Booking runs in this thread (``GJJ_LEDGER_BATCH_THREADS=1``) so
that the profile sees it all.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import logging
import os
import pstats
import sys
import time
from typing import Any

from bench_interest_day import KEY_ID, KEY_SECRET, batch_body, rebuild, seed
from sqlalchemy import func, select

import backend.models  # noqa: F401 - every mapper
from backend.accounts.models import FundTransaction
from backend.app import create_app
from backend.bootstrap import bootstrap
from backend.integration import signing
from backend.settings import Settings

PATH = "/internal/v1/fund/transactions/batch"


class Idle:
    """A dispatcher that sends nothing: the booking's cost without the pushes'."""

    def dispatch(self, delivery_id: int, countdown: float = 0) -> None:
        return None

    def dispatch_many(self, delivery_ids: list[int]) -> None:
        return None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--members", type=int, default=5000)
    parser.add_argument("--batch", type=int, default=1000)
    parser.add_argument("--profile", action="store_true", help="cProfile the calls")
    parser.add_argument("--top", type=int, default=40, help="profile lines shown")
    parser.add_argument("--replay", action="store_true", help="then post every batch again")
    args = parser.parse_args()
    if not os.environ.get("GJJ_DATABASE_URL", "").startswith("postgresql"):
        raise SystemExit("set GJJ_DATABASE_URL (PostgreSQL, a database of its own)")

    env = {
        **os.environ,
        "GJJ_ENV": "development",
        "GJJ_LOG_LEVEL": "WARNING",
        "GJJ_INTERNAL_KEYS": f"{KEY_ID}:{KEY_SECRET}",
        "GJJ_CHANNELS": "fake",
        "GJJ_LEDGER_BATCH_THREADS": "1",
        "GJJ_REDIS_PREFIX": f"gjjprofilebatch{os.getpid()}:",
    }
    rt = bootstrap(Settings.from_env(env), dispatcher=Idle())
    app = create_app(runtime=rt)
    logging.getLogger().setLevel("WARNING")
    rebuild(rt)
    rows = seed(rt, args.members)
    client = app.test_client()
    starts = list(range(0, len(rows), args.batch))
    bodies = [batch_body(rows, start, args.batch) for start in starts]

    def post(body: bytes) -> dict[str, Any]:
        headers = signing.signed_headers(
            KEY_ID, KEY_SECRET, "POST", PATH, query="", body=body, timestamp=int(time.time())
        )
        response = client.post(
            PATH, data=body, headers={**headers, "Content-Type": "application/json"}
        )
        if response.status_code != 200:
            raise SystemExit(f"batch refused: {response.status_code} {response.get_data()[:300]!r}")
        return response.get_json()  # type: ignore[no-any-return]

    post(bodies[0])  # warm up: first-call imports, statement caches, the pool
    rounds = [("book", bodies[1:])] + ([("replay", bodies[1:])] if args.replay else [])
    for name, calls in rounds:
        profile = cProfile.Profile(time.process_time) if args.profile else None
        cpu, wall = time.process_time(), time.perf_counter()
        if profile is not None:
            profile.enable()
        for body in calls:
            post(body)
        if profile is not None:
            profile.disable()
        cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
        count = sum(len(rows[s : s + args.batch]) for s in starts[1:])
        print(
            f"{name}: {count} entries in {len(calls)} calls, "
            f"{cpu / count * 1000:.3f} ms CPU per entry (this process), "
            f"{count / wall:.0f} entries/s wall, load {os.getloadavg()}",
            file=sys.stderr,
        )
        if profile is not None:
            out = io.StringIO()
            pstats.Stats(profile, stream=out).sort_stats("tottime").print_stats(args.top)
            print(out.getvalue())
            out = io.StringIO()
            pstats.Stats(profile, stream=out).sort_stats("cumulative").print_stats(args.top)
            print(out.getvalue())
    with rt.session() as s:
        booked = s.scalar(select(func.count()).select_from(FundTransaction))
    print(f"ledger entries: {booked}", file=sys.stderr)


if __name__ == "__main__":
    main()
