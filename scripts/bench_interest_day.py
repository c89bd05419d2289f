"""The 30 June run end to end: a year's interest (结息) for every member, through the internal API.

Builds a throw-away schema in the database GJJ_DATABASE_URL names (use one of its own: the tables
are dropped and rebuilt) with --members members, each with a fund account, a WeChat binding and a
long-term consent; starts the WeChat fake and the API as separate processes on loopback, in one
of two topologies (``--topology``):

- embedded: one ``gjj serve`` (gunicorn, ``--workers``) serves the members and the core system,
  and pushes in-process (``--push-threads`` threads per worker);
- production, as ``docker-compose.yml`` runs it: the members' ``gjj serve`` (``--port``), the core
  system's instance of its own (``--internal-port``; 0: the members' instance serves it too) and
  ``--workers`` Celery push workers of ``--push-threads`` threads (``GJJ_PUSH_MODE=celery``, on
  ``GJJ_BROKER_URL``). The compose file's ``cpu_shares`` are emulated with Linux's scheduler
  weights: the members' instance runs in a session of its own whose autogroup weighs
  ``--members-nice`` (a container is a cgroup of its own; with ``kernel.sched_autogroup_enabled``
  the CPU is shared between sessions first, PostgreSQL's and Redis's among them, and a nice only
  weighs within its session), and so does the member reads' process, a stand-in for phones. The
  core system's instance and the workers run ``--background-nice`` in this process's session,
  and so do the stand-ins for hosts that are not the hall's: the WeChat fake and this process,
  which posts the batches. With ``kernel.sched_autogroup_enabled=0`` (the hall's host as the
  README deploys it without containers) the same nices weigh per process, PostgreSQL's backends
  one by one among them: the report's ``cpu_groups`` says which way the run was weighed.

Then:

1. idle: member GETs (``/fund/account``, timed in a process of their own) for ``--idle-seconds``
   (30: about 1,100 GETs, so that the idle p99 is not the second-slowest of 190) → idle p50/p99,
   once every connection and both workers are warm (the first reads open the pools'
   database connections and load the Redis script: 50-90 ms each, they are reported apart as
   ``member_get_warm_up``); and what a GET's processes ran and waited for a core, idle and in
   the run (``member_get_cpu_ms``: the members' instance and the reads' process, from Linux's
   schedstat);
2. the run: the core system posts every member's interest with ``POST
   /internal/v1/fund/transactions/batch`` (``--batch`` entries a call), while member GETs keep
   going → ledger entries/s, member GET p99 during the run (and apart: while the batches are
   booked, and after, while the pushes go out), deliveries/s until every push is final;
3. the ceiling: the same number of raw ``subscribeMessage.send`` calls to the same fake from the
   same number of threads, no database → raw sends/s;
4. the count: from the fake's side (messages per openid) and from the deliveries table — lost
   (a member without exactly one sent push) and duplicated (more than one) must both be 0; every
   account's balance must be its opening balance plus its interest.

    GJJ_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/gjj_bench_interest \\
    GJJ_REDIS_URL=redis://127.0.0.1:6379/0 python scripts/bench_interest_day.py --members 10000
    # the production topology, the broker the machine's RabbitMQ:
    GJJ_BROKER_URL=amqp://guest:guest@127.0.0.1:5672// GJJ_DATABASE_URL=… GJJ_REDIS_URL=… \
    python scripts/bench_interest_day.py --members 100000 --topology production

Only 127.0.0.1 is contacted. Figures on a shared machine are noisy: read the ratios.
"""

from __future__ import annotations

import argparse
import datetime as dt
import http.client
import json
import multiprocessing
import os
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from decimal import Decimal
from pathlib import Path
from typing import Any

from bench_api import (  # scripts/ is on the path when run
    TICKS,
    cpu_ticks,
    process_tree,
    wait_ready,
)
from sqlalchemy import func, insert, select, text

import backend.models  # noqa: F401 - every mapper
from adapters.wechat import WeChatConfig, WeChatMiniClient
from backend import migrate
from backend.accounts.models import FundAccount, FundTransaction
from backend.bootstrap import bootstrap
from backend.channels.models import ChannelIdentity, SubscriptionConsent
from backend.db import Base
from backend.identity.tokens import TokenStore
from backend.integration import signing
from backend.members.models import Employer, Member
from backend.pii import compose_id_number, mask_id_number
from backend.push.models import PushDelivery
from backend.runtime import Runtime
from backend.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
APPID = "wxinterest000001"
SECRET = "interest-bench-secret"  # noqa: S105 - the fake's throw-away app
TEMPLATE = "gjj-wx-notice"  # 结息 has no template of its own: the notice one carries it
KEY_ID, KEY_SECRET = "core", "interest-bench-key"
OPENING = Decimal("10000.00")


def interest_of(n: int) -> Decimal:
    return Decimal(100 + n % 900) + Decimal(n % 100) / 100


def rebuild(rt: Runtime) -> None:
    with rt.engine.begin() as conn:
        Base.metadata.drop_all(conn)
        conn.execute(text("DROP TABLE IF EXISTS alembic_version"))
    migrate.upgrade(rt.engine)


def seed(rt: Runtime, count: int) -> list[tuple[int, str, str]]:
    """Members, accounts, WeChat bindings and consents, in bulk: (member id, account no, openid)."""
    with rt.session() as s:
        employer_id = s.scalar(
            insert(Employer).returning(Employer.id),
            [{"name": "示范市结息测试有限公司", "unit_account_no": "990000000001"}],
        )
        members = []
        for n in range(count):
            birth = dt.date(1970, 1, 1) + dt.timedelta(days=n // 1000)
            id_number = compose_id_number("110105", birth, n % 1000)
            members.append(
                {
                    "name": f"成员{n}",
                    "id_number_enc": rt.pii.encrypt(id_number),
                    "id_number_hash": rt.pii.id_lookup(id_number),
                    "id_number_masked": mask_id_number(id_number),
                }
            )
        ids = list(
            s.scalars(insert(Member).returning(Member.id, sort_by_parameter_order=True), members)
        )
        rows = [(mid, f"{n + 1:012d}", f"o-interest-{n}") for n, mid in enumerate(ids)]
        s.execute(
            insert(FundAccount),
            [
                {
                    "account_no": no,
                    "member_id": mid,
                    "employer_id": employer_id,
                    "status": "normal",
                    "balance": OPENING,
                    "deposit_base": Decimal("8000.00"),
                    "employee_rate": Decimal("0.12"),
                    "employer_rate": Decimal("0.12"),
                    "monthly_amount": Decimal("1920.00"),
                    "opened_on": dt.date(2018, 3, 1),
                }
                for mid, no, _ in rows
            ],
        )
        s.execute(
            insert(ChannelIdentity),
            [{"member_id": mid, "channel": "wechat", "open_id": oid} for mid, _, oid in rows],
        )
        s.execute(
            insert(SubscriptionConsent),
            [
                {
                    "member_id": mid,
                    "channel": "wechat",
                    "template_id": TEMPLATE,
                    "remaining": 0,
                    "long_term": True,
                }
                for mid, _, _ in rows
            ],
        )
        s.commit()
    return rows


def start_fake(port: int, rows: list[tuple[int, str, str]], workdir: Path) -> subprocess.Popen[str]:
    state = {
        "wechat": {
            "users": [
                {"openid": oid, "phone": f"139{n:08d}"} for n, (_, _, oid) in enumerate(rows)
            ],
            "consents": [
                {"openid": oid, "template_id": TEMPLATE, "longterm": True} for *_, oid in rows
            ],
        }
    }
    state_file = workdir / "fake-state.json"
    state_file.write_text(json.dumps(state))
    command = [
        sys.executable, "-m", "adapters.fakes", "serve", f"--wechat-port={port}",
        f"--wechat-appid={APPID}", f"--wechat-secret={SECRET}", f"--state={state_file}",
        f"--keys-dir={workdir / 'keys'}",
    ]  # fmt: skip
    fake = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, text=True)
    assert fake.stdout is not None
    fake.stdout.readline()  # the info line: serving
    return fake


def get_json(port: int, path: str, token: str | None = None) -> Any:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    conn.request("GET", path, headers={"Authorization": f"Bearer {token}"} if token else {})
    body = conn.getresponse().read()
    conn.close()
    return json.loads(body)


def start_server(
    port: int, workers: int, env: dict[str, str], *, own_session: bool = False
) -> subprocess.Popen[Any]:
    """``gjj serve`` (gunicorn, ``workers`` processes) on loopback ``port``; with
    ``own_session``, in a session of its own, to be weighed (:func:`weigh`)."""
    command = [
        sys.executable,
        "-m",
        "backend.cli",
        "serve",
        f"--port={port}",
        f"--workers={workers}",
    ]
    return subprocess.Popen(command, cwd=ROOT, env=env, start_new_session=own_session)


def cpu_groups() -> str:
    """How the scheduler groups this machine's processes before it weighs them: by session
    (autogroups, a nice weighs within its session only) or not at all (a nice weighs per
    process)."""
    switch = Path("/proc/sys/kernel/sched_autogroup_enabled")
    if switch.exists() and switch.read_text().strip() == "1":
        return "autogroups: one group per session, weighed by the session's nice"
    return "none: every process weighs by its own nice"


def waits(sides: dict[str, list[int]]) -> dict[str, tuple[int, int]]:
    """Per side, the nanoseconds its processes' threads have run and have waited to run
    (``/proc/<pid>/task/<tid>/schedstat``; zeros where the kernel keeps none)."""
    totals = {}
    for side, pids in sides.items():
        ran = waited = 0
        for pid in pids:
            try:
                tasks = os.listdir(f"/proc/{pid}/task")
            except OSError:
                continue
            for tid in tasks:
                try:
                    fields = Path(f"/proc/{pid}/task/{tid}/schedstat").read_text().split()
                except OSError:
                    continue
                ran, waited = ran + int(fields[0]), waited + int(fields[1])
        totals[side] = (ran, waited)
    return totals


def weigh(pid: int, nice: int) -> str:
    """Give the session of ``pid`` (a leader that has not forked yet) the CPU weight of ``nice``:
    its autogroup's nice, and the nice of the process, which its children inherit (what counts
    when autogroups are off). A nice below 0 needs CAP_SYS_NICE; without it the weight stays, and
    the answer says so."""
    group = Path(f"/proc/{pid}/autogroup")
    try:
        os.setpriority(os.PRIO_PROCESS, pid, nice)
        if group.exists():
            group.write_text(str(nice))
    except OSError as exc:
        return f"not applied ({exc.strerror})"
    return group.read_text().strip() if group.exists() else f"nice {nice}"


def start_worker(n: int, threads: int, env: dict[str, str]) -> subprocess.Popen[Any]:
    """``gjj worker``: Celery push worker ``n``, one process of ``threads`` threads."""
    command = [
        sys.executable, "-m", "backend.cli", "worker", f"--concurrency={threads}",
        "--loglevel=WARNING", f"--name=push{n}@%h",
    ]  # fmt: skip
    return subprocess.Popen(command, cwd=ROOT, env=env)


def purge_broker(settings: Settings) -> None:
    """Drop tasks an earlier run left on the broker: their delivery ids name this run's rows."""
    from backend.worker import make_celery

    make_celery(settings).control.purge()


# the run: the core system booking, then the pushes going out after the last batch
PHASES = (None, "warm-up", "idle", "booking", "delivering")


class MemberReads:
    """Member GETs in a loop on keep-alive connections, recording latencies while ``phase``.
    They run in a process of their own: timed in this one, a GET also waited for the GIL behind
    the posting threads, which encode and sign 1,000-entry batches. With ``nice``, in a session
    of its own of that weight (:func:`weigh`): the process stands in for the members' phones,
    whose cores are not the hall's, and a GET's time must not be its own wait for a core (on 2
    busy cores it was most of what a GET lost in the run)."""

    def __init__(
        self, port: int, tokens: list[str], connections: int, pause: float, nice: int | None
    ) -> None:
        context = multiprocessing.get_context("spawn")
        self._phase = context.Value("i", 0)
        self._stop = context.Event()
        self._results = context.Queue()
        # members read, they don't hammer (``pause``): the run gets the server too
        self.process = context.Process(
            target=read_members,
            args=(port, tokens, connections, pause, nice, self._phase, self._stop, self._results),
            daemon=True,
        )

    def start(self) -> None:
        self.process.start()

    @property
    def phase(self) -> str | None:
        return PHASES[self._phase.value]

    @phase.setter
    def phase(self, name: str | None) -> None:
        self._phase.value = PHASES.index(name)

    def finish(self) -> dict[str, list[float]]:
        """Stop reading; the latencies by phase."""
        self._phase.value = 0
        self._stop.set()
        samples: dict[str, list[float]] = self._results.get()
        self.process.join()
        return samples


def read_members(
    port: int,
    tokens: list[str],
    connections: int,
    pause: float,
    nice: int | None,
    phase: Any,
    stop: Any,
    results: Any,
) -> None:
    if nice is not None:
        os.setsid()
        weigh(os.getpid(), nice)
    samples: dict[str, list[float]] = {name: [] for name in PHASES if name}
    lock = threading.Lock()

    def client(n: int) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        i = n
        while not stop.is_set():
            name = PHASES[phase.value]
            if name is None:
                time.sleep(0.05)
                continue
            token = tokens[i % len(tokens)]
            i += connections
            began = time.perf_counter()
            conn.request(
                "GET", "/api/v1/fund/account", headers={"Authorization": f"Bearer {token}"}
            )
            conn.getresponse().read()
            with lock:
                samples[name].append(time.perf_counter() - began)
            time.sleep(pause)
        conn.close()

    clients = [threading.Thread(target=client, args=(n,)) for n in range(connections)]
    for c in clients:
        c.start()
    for c in clients:
        c.join()
    results.put(samples)


def quantiles(values: list[float]) -> dict[str, float]:
    values = sorted(values)
    if not values:
        return {}
    return {
        "n": len(values),
        "p50_ms": round(values[len(values) // 2] * 1000, 1),
        "p99_ms": round(values[min(len(values) - 1, int(len(values) * 0.99))] * 1000, 1),
    }


def batch_body(rows: list[tuple[int, str, str]], start: int, size: int) -> bytes:
    """The body of the call booking the interest of ``rows[start : start + size]``."""
    entries = [
        {
            "account_no": no,
            "external_id": f"JX2026-{no}",
            "kind": "interest",
            "amount": str(interest_of(start + k)),
            "txn_date": "2026-06-30",
            "summary": "2026年度结息",
        }
        for k, (_, no, _) in enumerate(rows[start : start + size])
    ]
    return signing.encode_body({"entries": entries})


def post_batches(
    port: int, rows: list[tuple[int, str, str]], size: int, posters: int
) -> tuple[float, Counter[str]]:
    """The core system's calls: batches of ``size`` entries over ``posters`` connections at once
    (each account in one batch only, so the order of any account's entries is the order sent)."""
    outcomes: Counter[str] = Counter()
    starts = iter(range(0, len(rows), size))
    lock = threading.Lock()
    failures: list[str] = []

    def poster() -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
        while True:
            with lock:
                start = next(starts, None)
            if start is None or failures:
                break
            body = batch_body(rows, start, size)
            path = "/internal/v1/fund/transactions/batch"
            headers = signing.signed_headers(
                KEY_ID, KEY_SECRET, "POST", path, query="", body=body, timestamp=int(time.time())
            )
            conn.request(
                "POST", path, body=body, headers={**headers, "Content-Type": "application/json"}
            )
            response = conn.getresponse()
            answer = json.loads(response.read())
            with lock:
                if response.status != 200:
                    failures.append(f"batch refused: {response.status} {answer}")
                else:
                    outcomes.update(r["status"] for r in answer["results"])
        conn.close()

    began = time.perf_counter()
    pool = [threading.Thread(target=poster) for _ in range(posters)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    if failures:
        raise SystemExit(failures[0])
    return time.perf_counter() - began, outcomes


def raw_sends(
    port: int, openids: list[str], threads: int, rt: Runtime
) -> tuple[float, set[str], Counter[str]]:
    """The ceiling: the same client sending straight to the fake, no database. Returns sends/s,
    the openids it sent to and the errors by kind (a failed call neither stops its thread nor
    counts as sent)."""
    config = WeChatConfig(
        appid=APPID, secret=SECRET, base_url=f"http://127.0.0.1:{port}", timeout=10
    )
    client = WeChatMiniClient(config, rt.redis)
    data = {"thing1": "结息到账", "thing2": "您的住房公积金账户已结息", "time3": "2026-06-30 10:00"}
    work = iter(openids)
    lock = threading.Lock()
    sent: set[str] = set()
    errors: Counter[str] = Counter()

    def sender() -> None:
        while True:
            with lock:
                openid = next(work, None)
            if openid is None:
                return
            try:
                client.send_subscription(openid, TEMPLATE, data, None)
            except Exception as exc:  # noqa: BLE001 - counted and reported
                with lock:
                    errors[f"{type(exc).__name__}: {exc}"[:120]] += 1
                continue
            with lock:
                sent.add(openid)

    began = time.perf_counter()
    pool = [threading.Thread(target=sender) for _ in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    return len(sent) / (time.perf_counter() - began), sent, errors


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--members", type=int, default=10_000)
    parser.add_argument("--batch", type=int, default=1000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--push-threads", type=int, default=4, help="per gunicorn worker")
    parser.add_argument(
        "--posters", type=int, default=2, help="core-system connections posting batches at once"
    )
    parser.add_argument("--readers", type=int, default=4, help="member GET connections")
    parser.add_argument("--read-pause", type=float, default=0.1, help="seconds between GETs")
    parser.add_argument("--warm-up-seconds", type=float, default=2, help="reads not counted idle")
    parser.add_argument(
        "--idle-seconds", type=float, default=30, help="30: about 1,100 GETs at the default pace"
    )
    parser.add_argument("--timeout", type=float, default=600)
    parser.add_argument("--port", type=int, default=18720)
    parser.add_argument("--fake-port", type=int, default=18721)
    parser.add_argument(
        "--topology",
        choices=("embedded", "production"),
        default="embedded",
        help="embedded: one gunicorn serves everything and pushes in-process; production: as"
        " docker-compose.yml runs it (see the module's docstring)",
    )
    parser.add_argument("--internal-port", type=int, default=18722, help="production topology")
    parser.add_argument(
        "--members-nice",
        type=int,
        default=-10,
        help="production topology: the weight of the members' instance, as the nice of its"
        " session (-10: about docker-compose.yml's cpu_shares 8192 for api1 and api2 against"
        " PostgreSQL's 1024; needs CAP_SYS_NICE)",
    )
    parser.add_argument(
        "--background-nice",
        type=int,
        default=6,
        help="production topology: the nice of the core system's API instance, the push worker"
        " and the stand-ins for other hosts (6: about the weight of docker-compose.yml's"
        " cpu_shares 256)",
    )
    args = parser.parse_args()

    url = os.environ.get("GJJ_DATABASE_URL", "")
    redis_url = os.environ.get("GJJ_REDIS_URL", "")
    if not url.startswith("postgresql") or not redis_url:
        raise SystemExit(
            "set GJJ_DATABASE_URL (PostgreSQL, a database of its own) and GJJ_REDIS_URL"
        )
    env = {
        **os.environ,
        "GJJ_ENV": "development",
        "GJJ_LOG_LEVEL": "WARNING",
        "GJJ_INTERNAL_KEYS": f"{KEY_ID}:{KEY_SECRET}",
        "GJJ_CHANNELS": "fake",
        "GJJ_FAKES_WECHAT_PORT": str(args.fake_port),
        "GJJ_FAKES_WECHAT_APP_ID": APPID,
        "GJJ_FAKES_WECHAT_APP_SECRET": SECRET,
        "GJJ_PUSH_MODE": "inline" if args.topology == "embedded" else "celery",
        "GJJ_PUSH_INLINE_THREADS": str(args.push_threads),
        "GJJ_REDIS_PREFIX": f"gjjinterest{os.getpid()}:",
    }
    workdir = Path(tempfile.mkdtemp(prefix="gjj-interest-"))
    env["GJJ_FAKES_KEYS_DIR"] = str(workdir / "keys")  # the fake's keys, not the checkout's
    settings = Settings.from_env(env)
    rt = bootstrap(settings)
    rebuild(rt)
    began = time.perf_counter()
    rows = seed(rt, args.members)
    print(f"seeded {len(rows)} members in {time.perf_counter() - began:.1f}s", file=sys.stderr)
    store = TokenStore(rt.redis, rt.keys, settings.access_token_ttl, settings.refresh_token_ttl)
    tokens = [store.issue(mid).access_token for mid, _, _ in rows[:200]]

    production = args.topology == "production"
    if production:
        purge_broker(settings)
    # The members' side first: its server and the reads' process (production: each weighing as
    # the compose file's api1 and api2 do).
    members_nice = args.members_nice if production else None
    server = start_server(args.port, args.workers, env, own_session=production)
    members_weight = (
        weigh(server.pid, members_nice) if members_nice is not None else "this process's"
    )
    reads = MemberReads(args.port, tokens, args.readers, args.read_pause, members_nice)
    reads.start()
    background: list[subprocess.Popen[Any]] = []
    internal_port = args.port
    if production:
        # Everything else runs below the members' side: the core system's API instance and the
        # push worker (the deployment's cpu_shares), and the stand-ins for the core system and
        # WeChat, whose cores are not the hall's (this process posts the batches).
        os.nice(args.background_nice)
        if args.internal_port:
            internal_port = args.internal_port
            background.append(start_server(internal_port, args.workers, env))
        background += [start_worker(n, args.push_threads, env) for n in range(args.workers)]
    fake = start_fake(args.fake_port, rows, workdir)
    report: dict[str, Any] = {
        "members": len(rows),
        "batch": args.batch,
        "workers": args.workers,
        "push_threads_per_worker": args.push_threads,
        "posters": args.posters,
        "topology": args.topology,
        "members_weight": members_weight,
        "cpu_groups": cpu_groups(),
        "loadavg_before": os.getloadavg(),
    }
    try:
        wait_ready(args.port)
        wait_ready(internal_port)
        reads.phase = "warm-up"
        time.sleep(args.warm_up_seconds)
        members_side: dict[str, list[int]] = {
            "server": process_tree(server.pid),
            "reads": [reads.process.pid or 0],
        }
        waited = [waits(members_side)]
        reads.phase = "idle"
        time.sleep(args.idle_seconds)
        server_pids = process_tree(server.pid)
        background_pids = [pid for p in background for pid in process_tree(p.pid)]
        waited.append(waits(members_side))
        reads.phase = "booking"
        cpu_before = cpu_ticks(server_pids + background_pids)
        run_began = time.perf_counter()
        booking_seconds, outcomes = post_batches(internal_port, rows, args.batch, args.posters)
        reads.phase = "delivering"
        final = 0
        deadline = run_began + args.timeout
        while time.perf_counter() < deadline:
            with rt.session() as s:
                final = (
                    s.scalar(
                        select(func.count()).where(
                            PushDelivery.status.not_in(("pending", "sending"))
                        )
                    )
                    or 0
                )
            if final >= len(rows):
                break
            time.sleep(0.2)
        delivery_seconds = time.perf_counter() - run_began
        waited.append(waits(members_side))
        cpu_after = cpu_ticks(server_pids + background_pids)
        spent = {p: cpu_after[p] - cpu_before.get(p, cpu_after[p]) for p in cpu_after}
        server_cpu = sum(spent.values()) / TICKS
        workers = [spent[p] for p in server_pids if p != server.pid and p in spent]
        samples = reads.finish()
        ceiling, raw_sent, raw_errors = raw_sends(
            args.fake_port, [oid for *_, oid in rows], args.workers * args.push_threads, rt
        )
        sent_by_fake = Counter(
            m["openid"] for m in get_json(args.fake_port, "/__admin/messages")["messages"]
        )
    finally:
        for process in [server, *background]:
            process.terminate()
        for process in [server, *background]:
            process.wait(timeout=60)
    fake.terminate()
    fake.wait(timeout=30)

    with rt.session() as s:
        statuses = Counter(s.scalars(select(PushDelivery.status)))
        per_member = Counter(s.scalars(select(PushDelivery.member_id)))
        balances = dict(s.execute(select(FundAccount.account_no, FundAccount.balance)).all())
        entries = s.scalar(select(func.count()).select_from(FundTransaction)) or 0
    # The raw-send phase sent its openids once more: the pipeline's own sends are the rest.
    pipeline_sent = {oid: sent_by_fake[oid] - (oid in raw_sent) for *_, oid in rows}
    wrong_balance = sum(
        1 for n, (_, no, _) in enumerate(rows) if balances[no] != OPENING + interest_of(n)
    )
    deliveries_per_s = statuses.get("sent", 0) / delivery_seconds
    report.update(
        {
            "batch_outcomes": dict(outcomes),
            "ledger_entries": entries,
            "ledger_entries_per_s": round(len(rows) / booking_seconds, 1),
            "accounts_with_wrong_balance": wrong_balance,
            # booking + delivery + the paced member reads, all gunicorn processes: what an idle
            # machine would have to spend per entry, whatever the load here
            "server_cpu_ms_per_entry": round(server_cpu / len(rows) * 1000, 1),
            # each gunicorn worker's share of the workers' CPU in the run: the load spreads
            "worker_cpu_split": [round(w / max(1, sum(workers)), 2) for w in workers],
            "deliveries": dict(statuses),
            "deliveries_per_s": round(deliveries_per_s, 1),
            "raw_send_ceiling_per_s": round(ceiling, 1),
            "deliveries_vs_ceiling": round(deliveries_per_s / ceiling, 2),
            "raw_send_errors": dict(raw_errors),
            "lost_fake_side": sum(1 for v in pipeline_sent.values() if v == 0),
            "duplicated_fake_side": sum(1 for v in pipeline_sent.values() if v > 1),
            "lost_table_side": sum(1 for mid, _, _ in rows if per_member[mid] == 0)
            + sum(v for k, v in statuses.items() if k != "sent"),
            "duplicated_table_side": sum(1 for v in per_member.values() if v > 1),
            "member_get_warm_up": quantiles(samples["warm-up"]),
            "member_get_idle": quantiles(samples["idle"]),
            "member_get_during_run": quantiles(samples["booking"] + samples["delivering"]),
            "member_get_while_booking": quantiles(samples["booking"]),
            "member_get_while_delivering": quantiles(samples["delivering"]),
            "loadavg_after": os.getloadavg(),
        }
    )
    idle, run = report["member_get_idle"], report["member_get_during_run"]
    if idle and run:
        report["run_p99_vs_idle_p99"] = round(run["p99_ms"] / idle["p99_ms"], 2)
        # where a GET's time went: its server's threads and the reads' process, running and
        # waiting for a core (ms per GET; Linux's schedstat)
        report["member_get_cpu_ms"] = {
            phase: {
                side: {
                    key: round((after[side][k] - before[side][k]) / 1e6 / stats["n"], 2)
                    for k, key in enumerate(("running", "waiting_for_a_core"))
                }
                for side in members_side
            }
            for phase, stats, before, after in (
                ("idle", idle, waited[0], waited[1]),
                ("run", run, waited[1], waited[2]),
            )
        }
    print(json.dumps(report, ensure_ascii=False, indent=2))


if __name__ == "__main__":
    main()
