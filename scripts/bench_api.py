"""Member API throughput and latency against a reference endpoint, side by side in one run.

Starts the API under gunicorn exactly as ``gjj serve`` runs it (same app, same server settings,
``--workers`` workers) with one extra route, ``GET /bench/reference?id=N``: one primary-key select
of a fund account through the same stack (Flask, the request's database session, JSON). Sessions
for registered members of the seeded database are opened directly in the token store. Then, round
after round, each endpoint takes ``--seconds`` of load from ``--connections`` keep-alive
connections, members rotating, and the script reports per endpoint: req/s, p50, p99 and server CPU
per request (utime+stime of every gunicorn process, from /proc), each as a ratio to the reference
measured in the same rounds, the share of CPU each worker took (load spread), and the load
average before and after.

    gjj seed --members 10000      # PostgreSQL + Redis, see README
    GJJ_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/gjj_bench \\
    GJJ_REDIS_URL=redis://127.0.0.1:6379/0 python scripts/bench_api.py --rounds 3 --seconds 2

Only 127.0.0.1 is ever contacted. Figures on a shared machine are noisy: read the ratios.
"""

from __future__ import annotations

import argparse
import datetime as dt
import http.client
import json
import os
import statistics
import subprocess
import sys
import threading
import time
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import select

import backend.models  # noqa: F401  every mapper, so the first query can configure them
from backend.accounts.models import FundAccount
from backend.bootstrap import bootstrap
from backend.identity.tokens import TokenStore
from backend.loans.models import LoanContract
from backend.members.models import Credential
from backend.runtime import Runtime
from backend.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
REFERENCE = "reference (one pk select)"
TICKS = os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True)
class Member:
    token: str
    account_id: int
    contract_no: str
    cursor: str | None = None


# Records of the last four years: ten years of history give every member a second page of them
# (the default range, 12 months, fits on one page for most members).
LEDGER_END = dt.date.today()
LEDGER_START = LEDGER_END - dt.timedelta(days=4 * 365)
LEDGER_RANGE = f"start={LEDGER_START}&end={LEDGER_END}"

# name → path template; {no} is the member's contract, {cursor} the second page of records.
ENDPOINTS: dict[str, str] = {
    REFERENCE: "/bench/reference?id={account_id}",
    "/me": "/api/v1/me",
    "/fund/account": "/api/v1/fund/account",
    "/fund/transactions (first page)": "/api/v1/fund/transactions?limit=20",
    "/fund/transactions (cursor page)": (
        f"/api/v1/fund/transactions?limit=20&{LEDGER_RANGE}&cursor={{cursor}}"
    ),
    "/messages": "/api/v1/messages?limit=20",
    "/loans": "/api/v1/loans",
    "/loans/{no}/progress": "/api/v1/loans/{no}/progress",
    "/loans/{no}": "/api/v1/loans/{no}",
    "/loans/{no}/schedule": "/api/v1/loans/{no}/schedule",
}


# --- the server -----------------------------------------------------------------------------------


def serve(port: int, workers: int) -> None:
    """The API plus the reference route, under the server settings of ``gjj serve``."""
    from flask import Blueprint, jsonify, request

    from backend.api import db
    from backend.app import create_app
    from backend.cli import run_gunicorn

    rt = bootstrap(Settings.from_env())
    app = create_app(runtime=rt)
    bench = Blueprint("bench", __name__)

    @bench.get("/bench/reference")
    def reference() -> Any:
        account = db().get(FundAccount, int(request.args["id"]))
        assert account is not None
        return jsonify({"account_no": account.account_no, "balance": str(account.balance)})

    app.register_blueprint(bench)
    run_gunicorn(app, rt, f"127.0.0.1:{port}", workers)


def wait_ready(port: int, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
        try:
            conn.request("GET", "/readyz")
            if conn.getresponse().status == 200:
                return
        except OSError:
            pass
        finally:
            conn.close()
        time.sleep(0.3)
    raise SystemExit("server did not become ready")


def process_tree(root: int) -> list[int]:
    """The gunicorn master and its workers."""
    children: dict[int, list[int]] = defaultdict(list)
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            ppid = int(stat.rsplit(")", 1)[1].split()[1])
            children[ppid].append(int(entry))
    found, todo = [], [root]
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo.extend(children.get(pid, []))
    return found


def cpu_ticks(pids: list[int]) -> dict[int, int]:
    ticks = {}
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        ticks[pid] = int(fields[11]) + int(fields[12])  # utime + stime
    return ticks


# --- the load -------------------------------------------------------------------------------------


def members_with_loans(rt: Runtime, store: TokenStore, count: int) -> list[Member]:
    with rt.session() as s:
        rows = s.execute(
            select(Credential.member_id, FundAccount.id, LoanContract.contract_no)
            .join(FundAccount, FundAccount.member_id == Credential.member_id)
            .join(LoanContract, LoanContract.member_id == Credential.member_id)
            .where(LoanContract.status == "repaying")
            .limit(count)
        ).all()
    if not rows:
        raise SystemExit("no registered member with a loan: run `gjj seed` first")
    return [Member(store.issue(m).access_token, a, no) for m, a, no in rows]


def with_cursors(port: int, members: list[Member]) -> list[Member]:
    """Each member's second page of records (members with one page keep the first)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    out = []
    for m in members:
        conn.request(
            "GET",
            f"/api/v1/fund/transactions?limit=20&{LEDGER_RANGE}",
            headers={"Authorization": f"Bearer {m.token}"},
        )
        body = json.loads(conn.getresponse().read())
        out.append(Member(m.token, m.account_id, m.contract_no, body.get("next_cursor") or ""))
    conn.close()
    return out


def path_for(template: str, m: Member) -> str:
    return template.format(no=m.contract_no, cursor=m.cursor or "", account_id=m.account_id)


def load(
    port: int, template: str, members: list[Member], connections: int, seconds: float
) -> tuple[list[float], int, float]:
    """``connections`` keep-alive clients for ``seconds``: latencies, errors, wall time."""
    latencies: list[list[float]] = [[] for _ in range(connections)]
    errors = [0] * connections
    start_gate = threading.Barrier(connections + 1)
    stop = threading.Event()

    def client(n: int) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        i = n
        start_gate.wait()
        while not stop.is_set():
            m = members[i % len(members)]
            i += connections
            began = time.perf_counter()
            conn.request(
                "GET", path_for(template, m), headers={"Authorization": f"Bearer {m.token}"}
            )
            response = conn.getresponse()
            response.read()
            latencies[n].append(time.perf_counter() - began)
            if response.status != 200:
                errors[n] += 1
        conn.close()

    threads = [threading.Thread(target=client, args=(n,)) for n in range(connections)]
    for t in threads:
        t.start()
    start_gate.wait()
    began = time.perf_counter()
    time.sleep(seconds)
    stop.set()
    for t in threads:
        t.join()
    return [x for per in latencies for x in per], sum(errors), time.perf_counter() - began


def warm(port: int, template: str, members: list[Member], connections: int) -> None:
    def client(part: list[Member]) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        for m in part:
            conn.request(
                "GET", path_for(template, m), headers={"Authorization": f"Bearer {m.token}"}
            )
            conn.getresponse().read()
        conn.close()

    threads = [
        threading.Thread(target=client, args=(members[n::connections],)) for n in range(connections)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


def quantile(values: list[float], q: int) -> float:
    return statistics.quantiles(values, n=100)[q - 1] if len(values) >= 2 else values[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=2.0, help="per endpoint per round")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--members", type=int, default=500)
    parser.add_argument("--port", type=int, default=18710)
    parser.add_argument("--only", default="", help="comma-separated endpoint names (and reference)")
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.port, args.workers)
        return

    settings = Settings.from_env()
    if not settings.redis_url:
        raise SystemExit("set GJJ_REDIS_URL: the server and this script share sessions")
    rt = bootstrap(settings)
    store = TokenStore(rt.redis, rt.keys, settings.access_token_ttl, settings.refresh_token_ttl)
    members = members_with_loans(rt, store, args.members)
    endpoints = ENDPOINTS
    if args.only:
        wanted = {REFERENCE, *args.only.split(",")}
        endpoints = {k: v for k, v in ENDPOINTS.items() if k in wanted}

    env = dict(os.environ, GJJ_LOG_LEVEL="WARNING")
    command = [sys.executable, __file__, "--serve", f"--port={args.port}"]
    server = subprocess.Popen([*command, f"--workers={args.workers}"], cwd=ROOT, env=env)
    try:
        wait_ready(args.port)
        time.sleep(1)  # let every worker boot
        members = with_cursors(args.port, members)
        pids = process_tree(server.pid)
        for template in endpoints.values():  # warm-up: every member once (plans computed)
            warm(args.port, template, members, args.connections)
        report = measure(args, endpoints, members, pids)
    finally:
        server.terminate()
        server.wait(timeout=30)
    print(json.dumps(report, ensure_ascii=False, indent=2))
    print(markdown(report))


def measure(
    args: argparse.Namespace, endpoints: dict[str, str], members: list[Member], pids: list[int]
) -> dict[str, Any]:
    loadavg_before = Path("/proc/loadavg").read_text().split()[:3]
    samples: dict[str, list[float]] = defaultdict(list)
    wall: dict[str, float] = defaultdict(float)
    errors: dict[str, int] = defaultdict(int)
    cpu: dict[str, float] = defaultdict(float)
    per_worker: dict[int, int] = defaultdict(int)
    for _ in range(args.rounds):
        for name, template in endpoints.items():
            before = cpu_ticks(pids)
            latencies, failed, seconds = load(
                args.port, template, members, args.connections, args.seconds
            )
            after = cpu_ticks(pids)
            samples[name].extend(latencies)
            wall[name] += seconds
            errors[name] += failed
            cpu[name] += sum(after[p] - before.get(p, after[p]) for p in after) / TICKS
            for p in after:
                per_worker[p] += after[p] - before.get(p, after[p])
    ref = samples[REFERENCE]
    ref_rps = len(ref) / wall[REFERENCE]
    ref_p99 = quantile(ref, 99)
    rows = {}
    for name in endpoints:
        values = samples[name]
        rps = len(values) / wall[name]
        rows[name] = {
            "requests": len(values),
            "errors": errors[name],
            "req_per_s": round(rps, 1),
            "ratio": round(rps / ref_rps, 2),
            "p50_ms": round(quantile(values, 50) * 1000, 2),
            "p99_ms": round(quantile(values, 99) * 1000, 2),
            "p99_vs_ref": round(quantile(values, 99) / ref_p99, 2),
            "cpu_ms_per_req": round(cpu[name] / len(values) * 1000, 2),
        }
    total = sum(per_worker.values()) or 1
    return {
        "workers": args.workers,
        "connections": args.connections,
        "rounds": args.rounds,
        "seconds_per_endpoint_per_round": args.seconds,
        "members": len(members),
        "loadavg_before": loadavg_before,
        "loadavg_after": Path("/proc/loadavg").read_text().split()[:3],
        "cpu_share_per_process": sorted(
            (round(v / total, 2) for v in per_worker.values()), reverse=True
        ),
        "endpoints": rows,
    }


def markdown(report: dict[str, Any]) -> str:
    lines = [
        "| endpoint | req/s | ratio to reference | p50 ms | p99 ms | p99 / ref p99 | CPU ms/req |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, r in report["endpoints"].items():
        lines.append(
            f"| {name} | {r['req_per_s']} | {r['ratio']} | {r['p50_ms']} | {r['p99_ms']} "
            f"| {r['p99_vs_ref']} | {r['cpu_ms_per_req']} |"
        )
    lines.append(
        f"\nload average before {' '.join(report['loadavg_before'])}, after "
        f"{' '.join(report['loadavg_after'])}; CPU share per gunicorn process "
        f"{report['cpu_share_per_process']}"
    )
    return "\n".join(lines)


if __name__ == "__main__":
    main()
