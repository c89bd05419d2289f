"""Latency benchmark of the member API on loopback.

Starts `gjj serve` on the configured database and Redis (a seeded centre: run `gjj seed` first),
opens sessions for registered members directly in the token store, then sends a bounded number of
requests from several threads and prints p50/p95/p99 and throughput per endpoint.

    GJJ_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/gjj_bench \
    GJJ_REDIS_URL=redis://127.0.0.1:6379/0 python scripts/bench_api.py --requests 2000

Only 127.0.0.1 is ever contacted; the loop stops after --requests or --seconds, whichever first.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import statistics
import subprocess
import sys
import threading
import time
from collections import defaultdict
from pathlib import Path

from sqlalchemy import select

from backend.identity.tokens import TokenStore
from backend.loans.models import LoanContract
from backend.members.models import Credential
from backend.runtime import Runtime
from backend.settings import Settings

ROOT = Path(__file__).resolve().parent.parent


def wait_ready(port: int, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", "/readyz")
            if conn.getresponse().status == 200:
                return
        except OSError:
            pass
        time.sleep(0.3)
    raise SystemExit("server did not become ready")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--seconds", type=float, default=120)
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--members", type=int, default=50)
    parser.add_argument("--port", type=int, default=8765)
    args = parser.parse_args()

    settings = Settings.from_env()
    if not settings.redis_url:
        raise SystemExit("set GJJ_REDIS_URL: the server and this script must share sessions")
    rt = Runtime.build(settings)
    store = TokenStore(rt.redis, rt.keys, settings.access_token_ttl, settings.refresh_token_ttl)
    with rt.session() as s:
        member_ids = list(s.scalars(select(Credential.member_id).limit(args.members)))
        contracts = {
            c.member_id: c.contract_no
            for c in s.scalars(
                select(LoanContract).where(
                    LoanContract.member_id.in_(member_ids), LoanContract.status == "repaying"
                )
            )
        }
    if not member_ids:
        raise SystemExit("no registered members: run `gjj seed` first")
    sessions = [(store.issue(mid).access_token, contracts.get(mid)) for mid in member_ids]

    env = dict(os.environ, GJJ_PORT=str(args.port), GJJ_LOG_LEVEL="WARNING")
    server = subprocess.Popen(
        [sys.executable, "-m", "backend.cli", "serve", "--workers", "2"], cwd=ROOT, env=env
    )
    try:
        wait_ready(args.port)
        run_load(args, sessions)
    finally:
        server.terminate()
        server.wait(timeout=20)


def run_load(args: argparse.Namespace, sessions: list[tuple[str, str | None]]) -> None:
    timings: dict[str, list[float]] = defaultdict(list)
    errors: dict[str, int] = defaultdict(int)
    lock = threading.Lock()
    counter = iter(range(args.requests))
    deadline = time.monotonic() + args.seconds

    def paths(contract: str | None) -> list[tuple[str, str]]:
        out = [
            ("GET /me", "/api/v1/me"),
            ("GET /messages", "/api/v1/messages?status=unread&limit=20"),
            ("GET /fund/account", "/api/v1/fund/account"),
            ("GET /fund/transactions", "/api/v1/fund/transactions?limit=20"),
            (
                "GET /loan-calculator",
                "/api/v1/loan-calculator?principal=600000&months=360&annual_rate=2.85&method=equal_installment",
            ),
        ]
        if contract:
            out.append(("GET /loans/{no}/schedule", f"/api/v1/loans/{contract}/schedule"))
        return out

    def worker(n: int) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", args.port, timeout=10)
        i = n
        while time.monotonic() < deadline:
            try:
                next(counter)
            except StopIteration:
                return
            token, contract = sessions[i % len(sessions)]
            options = paths(contract)
            name, path = options[i % len(options)]
            i += 1
            started = time.perf_counter()
            conn.request("GET", path, headers={"Authorization": f"Bearer {token}"})
            response = conn.getresponse()
            response.read()
            elapsed = time.perf_counter() - started
            with lock:
                timings[name].append(elapsed)
                if response.status >= 400:
                    errors[name] += 1

    started = time.perf_counter()
    threads = [threading.Thread(target=worker, args=(n,)) for n in range(args.threads)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - started
    total = sum(len(v) for v in timings.values())
    report = {"requests": total, "seconds": round(wall, 2), "rps": round(total / wall, 1)}
    for name, values in sorted(timings.items()):
        values.sort()
        q = statistics.quantiles(values, n=100) if len(values) >= 2 else values * 100
        report[name] = {
            "n": len(values),
            "errors": errors[name],
            "p50_ms": round(q[49] * 1000, 1),
            "p95_ms": round(q[94] * 1000, 1),
            "p99_ms": round(q[98] * 1000, 1),
        }
    print(json.dumps(report, ensure_ascii=False, indent=2))


if __name__ == "__main__":
    main()
