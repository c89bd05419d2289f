"""Cost of each member GET of ``bench_api.py`` inside one process, without HTTP or a server: CPU
time per request (best of ``--reps``), a cProfile of one endpoint, or, under callgrind,
instructions per request (repeatable on a busy machine, where times are not):

    valgrind --tool=callgrind --instr-atstart=no --callgrind-out-file=cg.%p \\
        python scripts/profile_api.py --callgrind --members 20
    python scripts/profile_api.py --profile "/fund/transactions (first page)"

Under ``--callgrind`` the script switches instrumentation on around the requests only
(``callgrind_control``) and dumps one file per endpoint; it prints the table from the dumps.
Needs the database and Redis of ``bench_api.py`` (``GJJ_DATABASE_URL``, ``GJJ_REDIS_URL``).
"""

from __future__ import annotations

import argparse
import cProfile
import importlib.util
import io
import json
import logging
import os
import pstats
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from werkzeug.test import EnvironBuilder

HERE = Path(__file__).resolve().parent


def load_bench() -> Any:
    spec = importlib.util.spec_from_file_location("bench_api", HERE / "bench_api.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["bench_api"] = module
    spec.loader.exec_module(module)
    return module


def callgrind_control(*args: str) -> None:
    """Ask callgrind about this very process; keep executing while it polls for the command."""
    command = subprocess.Popen(
        ["callgrind_control", *args, str(os.getpid())], stdout=subprocess.DEVNULL
    )
    while command.poll() is None:
        sum(range(1000))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--members", type=int, default=40)
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--only", default="", help="comma-separated endpoint names")
    parser.add_argument("--profile", default="", help="cProfile this endpoint (CPU time)")
    parser.add_argument("--callgrind", action="store_true")
    args = parser.parse_args()

    bench = load_bench()
    from flask import Blueprint, jsonify, request

    from backend.accounts.models import FundAccount
    from backend.api import db
    from backend.app import create_app
    from backend.identity.tokens import TokenStore
    from backend.runtime import Runtime
    from backend.settings import Settings

    rt = Runtime.build(Settings.from_env())
    app = create_app(runtime=rt)
    logging.getLogger().setLevel("WARNING")
    reference = Blueprint("bench", __name__)

    @reference.get("/bench/reference")
    def one_select() -> Any:  # as bench_api.py serves it
        account = db().get(FundAccount, int(request.args["id"]))
        assert account is not None
        return jsonify({"account_no": account.account_no, "balance": str(account.balance)})

    app.register_blueprint(reference)
    s = rt.settings
    store = TokenStore(rt.redis, rt.keys, s.access_token_ttl, s.refresh_token_ttl)
    members = bench.members_with_loans(rt, store, args.members)

    def environ(path: str, m: Any) -> dict[str, Any]:
        base, _, query = path.partition("?")
        headers = {"Authorization": f"Bearer {m.token}"}
        return EnvironBuilder(path=base, query_string=query, headers=headers).get_environ()

    def call(env: dict[str, Any]) -> tuple[str, bytes]:
        status: list[str] = []
        body = app(dict(env), lambda st, _h, _e=None: status.append(st))
        data = b"".join(body)
        getattr(body, "close", lambda: None)()
        return status[0], data

    with_cursor = []
    for m in members:
        _, data = call(environ(f"/api/v1/fund/transactions?limit=20&{bench.LEDGER_RANGE}", m))
        cursor = json.loads(data).get("next_cursor") or ""
        with_cursor.append(bench.Member(m.token, m.account_id, m.contract_no, cursor))
    wanted = set(filter(None, args.only.split(","))) | {bench.REFERENCE, args.profile}
    names = [n for n in bench.ENDPOINTS if not args.only and not args.profile or n in wanted]
    envs = {
        n: [environ(bench.path_for(bench.ENDPOINTS[n], m), m) for m in with_cursor] for n in names
    }
    for n in names:  # warm: plans computed, statements compiled
        for env in envs[n]:
            status, data = call(env)
            assert status.startswith("200"), (n, status, data[:200])

    if args.callgrind:
        measure_instructions(names, envs, call, args.reps)
        return
    cost = {}
    for n in names:
        best = float("inf")
        for _ in range(args.reps):
            began = time.process_time()
            for env in envs[n]:
                call(env)
            best = min(best, (time.process_time() - began) / len(envs[n]))
        cost[n] = best
        if n == args.profile:
            profiler = cProfile.Profile(time.process_time)
            for _ in range(3):
                for env in envs[n]:
                    profiler.runcall(call, env)
            out = io.StringIO()
            pstats.Stats(profiler, stream=out).sort_stats("cumulative").print_stats(60)
            print(out.getvalue())
    for n, v in cost.items():
        print(f"{n:36s} {v * 1e6:8.0f} µs CPU  x{v / cost[bench.REFERENCE]:.2f}")


def measure_instructions(names: list[str], envs: dict[str, Any], call: Any, reps: int) -> None:
    callgrind_control("-i", "on")
    for i, n in enumerate(names):
        callgrind_control("-z")
        for _ in range(reps):
            for env in envs[n]:
                call(env)
        callgrind_control(f"--dump=e{i}")
    callgrind_control("-i", "off")
    per_request = {}
    for dump in Path().glob(f"cg.{os.getpid()}.*"):
        text = dump.read_text()
        index = re.search(r"Trigger: dump e(\d+)", text)
        total = re.search(r"^summary: (\d+)", text, re.M)
        if index and total:
            n = names[int(index.group(1))]
            per_request[n] = int(total.group(1)) / (reps * len(envs[n]))
    reference = per_request[names[0]]
    for n in names:
        v = per_request[n]
        print(f"{n:36s} {v / 1e6:7.2f} M instructions  x{v / reference:.2f}")


if __name__ == "__main__":
    main()
