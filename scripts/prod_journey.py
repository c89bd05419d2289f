"""Black-box journey and faults against the production stack (``scripts/prod_check.sh`` runs it).

Everything a member does goes through nginx's public listener; the core system's calls and the
metrics scrapes through its ops listener. The check reads the fakes (what the platforms received),
the database (what was acknowledged and how deliveries ended) and, to answer image captchas as a
person would, the captcha's record in Redis. It prints one table: each step and fault, what was
done, what was lost. Exit status 1 when anything was lost or a step failed.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
import redis
import requests

from backend.integration.signing import encode_body, signed_headers

CLIENT_TIMEOUT = 10.0  # seconds: a request answered later than this is a hang
PASSWORD = "Demo2024"


# --- the stack's controls ------------------------------------------------------------------------


class Stack:
    """Start, stop and kill the stack's parts: containers (docker) or processes (the fallback)."""

    def __init__(self, mode: str, project: str, work: Path) -> None:
        self.mode = mode
        self.project = project
        self.work = work

    def _compose(self, *args: str) -> str:
        command = [
            "docker-compose",
            "-p",
            self.project,
            "-f",
            "docker-compose.yml",
            "-f",
            "deploy/compose.hostnet.yml",
            "--env-file",
            str(self.work / "compose.env"),
            *args,
        ]
        done = subprocess.run(command, capture_output=True, text=True, check=True, timeout=300)
        return done.stdout

    def act(self, action: str, service: str) -> None:
        if self.mode == "processes":
            subprocess.run(
                ["bash", "scripts/prod_check_processes.sh", action, str(self.work), service],
                check=True,
                timeout=120,
            )
            return
        if action == "kill":
            container = self._compose("ps", "-q", service).strip()
            subprocess.run(["docker", "kill", "-s", "KILL", container], check=True, timeout=60)
        elif action == "stop":
            self._compose("stop", "-t", "10", service)
        elif action == "start":
            self._compose("start", service)
        elif action == "restart":
            self._compose("restart", "-t", "10", service)
        else:
            raise ValueError(action)

    def cli(self, *argv: str, mount: Path | None = None) -> str:
        """A one-off ``gjj`` command in the app image (or the installed wheel)."""
        if self.mode == "processes":
            done = subprocess.run(
                ["bash", "scripts/prod_check_processes.sh", "cli", str(self.work), *argv],
                capture_output=True,
                text=True,
                check=True,
                timeout=600,
            )
            return done.stdout
        volume = ["-v", f"{mount}:{mount}"] if mount else []
        return self._compose("run", "--rm", "--no-deps", *volume, "migrate", *argv)


# --- talking to the hall ---------------------------------------------------------------------------


@dataclass
class Hall:
    public: str
    ops: str
    redis_url: str
    database_url: str
    internal_secret: str
    http: requests.Session = field(default_factory=requests.Session)

    def captcha(self) -> tuple[str, str]:
        r = self.http.post(f"{self.public}/api/v1/captchas", timeout=CLIENT_TIMEOUT)
        r.raise_for_status()
        captcha_id = r.json()["captcha_id"]
        raw = redis.Redis.from_url(self.redis_url).get(f"gjj:captcha:{captcha_id}")
        assert raw is not None, "captcha not in Redis"
        return captcha_id, json.loads(raw)["a"]

    def login(self, username: str, password: str = PASSWORD) -> dict[str, str]:
        captcha_id, answer = self.captcha()
        r = self.http.post(
            f"{self.public}/api/v1/sessions",
            json={
                "username": username,
                "password": password,
                "captcha_id": captcha_id,
                "captcha_code": answer,
            },
            timeout=CLIENT_TIMEOUT,
        )
        assert r.status_code == 201, (r.status_code, r.text)
        return {"Authorization": f"Bearer {r.json()['access_token']}"}

    def internal(self, path: str, payload: dict[str, Any], http: Any = None) -> requests.Response:
        body = encode_body(payload)
        headers = signed_headers(
            "core",
            self.internal_secret,
            "POST",
            f"/internal/v1{path}",
            body=body,
            timestamp=int(time.time()),
        )
        headers["Content-Type"] = "application/json"
        return (http or self.http).post(
            f"{self.ops}/internal/v1{path}", data=body, headers=headers, timeout=CLIENT_TIMEOUT
        )

    def message(
        self, member: dict[str, str], key: str, content: str, http: Any = None
    ) -> requests.Response:
        """The core system posts ``member`` a message (its push fans out to the member's channels)."""
        payload = {
            "id_number": member["id_number"],
            "dedupe_key": key,
            "business_name": "业务通知",
            "content": content,
        }
        return self.internal("/messages", payload, http=http)

    def db(self) -> psycopg.Connection[Any]:
        return psycopg.connect(self.database_url, connect_timeout=5)


def fake_admin(base: str, name: str, payload: dict[str, Any] | None = None) -> Any:
    url = f"{base}/__admin/{name}"
    r = requests.post(url, json=payload, timeout=10) if payload else requests.get(url, timeout=10)
    r.raise_for_status()
    return r.json()


# --- the table -------------------------------------------------------------------------------------


@dataclass
class Row:
    step: str
    done: str
    lost: int = 0
    ok: bool = True
    note: str = ""


class Report:
    def __init__(self) -> None:
        self.rows: list[Row] = []

    def add(self, row: Row) -> Row:
        self.rows.append(row)
        mark = "ok" if row.ok and not row.lost else "FAILED"
        print(f"-- {row.step}: {row.done}; lost {row.lost}; {mark} {row.note}", flush=True)
        return row

    def print(self) -> bool:
        width = max(len(r.step) for r in self.rows)
        done_width = min(90, max(len(r.done) for r in self.rows))
        line = f"+-{'-' * width}-+-{'-' * done_width}-+------+--------+"
        print("\nPRODUCTION CHECK: what was done and what was lost")
        print(line)
        print(f"| {'step':<{width}} | {'done':<{done_width}} | lost | result |")
        print(line)
        for r in self.rows:
            result = "ok" if r.ok and not r.lost else "FAILED"
            print(f"| {r.step:<{width}} | {r.done:<{done_width}} | {r.lost:>4} | {result:<6} |")
            if r.note:
                print(f"| {'':<{width}} |   {r.note:<{done_width - 2}} | {'':>4} | {'':<6} |")
        print(line)
        good = all(r.ok and not r.lost for r in self.rows)
        print("RESULT:", "nothing lost, every step passed" if good else "FAILED")
        return good


# --- load under faults ------------------------------------------------------------------------------


# An answer cut off by the instance's death, too late for nginx to fail over.
BROKEN = (requests.ConnectionError, requests.exceptions.ChunkedEncodingError)


class Load:
    """Bounded traffic while a fault happens: core-system writes on the ops listener (each
    acknowledged one must be in the database afterwards) and member reads through nginx."""

    def __init__(
        self,
        hall: Hall,
        members: list[dict[str, str]],
        tokens: list[dict[str, str]],
        label: str,
        threads: int = 4,
        max_requests: int = 4000,
    ) -> None:
        self.hall = hall
        self.members = members
        self.tokens = tokens
        self.label = label
        self.threads = threads
        self.max_requests = max_requests
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.statuses: Counter[str] = Counter()
        self.acknowledged: list[str] = []
        self.slowest = 0.0
        self.refusals: Counter[str] = Counter()  # every refusal: status and error_code
        self.last_ok = 0.0
        self.count = 0
        self.retried: Counter[str] = Counter()

    def _record(self, status: str, elapsed: float, body: str = "") -> None:
        with self.lock:
            self.statuses[status] += 1
            self.count += 1
            self.slowest = max(self.slowest, elapsed)
            if not status.startswith("2"):
                try:
                    code = json.loads(body).get("error_code", "?")
                except ValueError:
                    code = "not-json"
                self.refusals[f"{status}:{code}"] += 1
            if status.startswith("2"):
                self.last_ok = time.monotonic()

    def _worker(self, n: int) -> None:
        http = requests.Session()
        i = 0
        while not self.stop.is_set() and self.count < self.max_requests:
            i += 1
            started = time.monotonic()
            try:
                if i % 2:
                    member = self.members[(n + i) % len(self.members)]
                    key = f"{self.label}-{n}-{i}-{uuid.uuid4().hex[:6]}"
                    r = self._post_as_core_system(http, member, key, f"{self.label} 负载消息 {i}")
                    if r.status_code == 201:
                        with self.lock:
                            self.acknowledged.append(key)
                else:
                    r = self._read(http, self.tokens[(n + i) % len(self.tokens)])
                self._record(str(r.status_code), time.monotonic() - started, r.text)
            except requests.Timeout:
                self._record("timeout", time.monotonic() - started)
            except requests.RequestException:
                self._record("connection-error", time.monotonic() - started)
                time.sleep(0.05)
            time.sleep(0.01)

    def _read(self, http: requests.Session, headers: dict[str, str]) -> requests.Response:
        """A member's read; a connection broken mid-answer (the instance died while answering,
        too late for nginx to fail over) is retried once, and counted as retried."""
        url = f"{self.hall.public}/api/v1/messages/unread-count"
        try:
            return http.get(url, headers=headers, timeout=CLIENT_TIMEOUT)
        except BROKEN:
            with self.lock:
                self.retried["broken read"] += 1
            return http.get(url, headers=headers, timeout=CLIENT_TIMEOUT)

    def _post_as_core_system(
        self, http: requests.Session, member: dict[str, str], key: str, content: str
    ) -> requests.Response:
        """As the core system does: a nonce refused after a failover (the dead instance had
        recorded it), a gateway error, or a connection broken before the whole answer came (the
        instance died while answering, too late for nginx to fail over) is retried with the same
        dedupe key and a new nonce, so a write the dead instance committed is not made twice."""
        for _ in range(2):
            try:
                r = self.hall.message(member, key, content, http=http)
            except BROKEN:
                with self.lock:
                    self.retried["broken write"] += 1
                continue
            retry = r.status_code in (502, 504) or (
                r.status_code == 401 and "internal.nonce_reused" in r.text
            )
            if not retry:
                return r
            with self.lock:
                self.retried[f"{r.status_code}"] += 1
        return self.hall.message(member, key, content, http=http)

    def __enter__(self) -> Load:
        self.pool = [threading.Thread(target=self._worker, args=(n,)) for n in range(self.threads)]
        for t in self.pool:
            t.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        for t in self.pool:
            t.join()

    def summary(self) -> str:
        parts = ", ".join(f"{k}×{v}" for k, v in sorted(self.statuses.items()))
        retried = sum(self.retried.values())
        again = f", {retried} retried by the client ({dict(self.retried)})" if retried else ""
        return f"{self.count} requests ({parts}){again}; slowest {self.slowest:.1f}s"

    def missing_writes(self) -> int:
        with self.hall.db() as conn:
            found = {
                row[0]
                for row in conn.execute(
                    # The hall keeps the core system's key as msg:<dedupe_key>.
                    "SELECT substr(dedupe_key, 5) FROM messages WHERE dedupe_key = ANY(%s)",
                    ([f"msg:{key}" for key in self.acknowledged],),
                )
            }
        return len(set(self.acknowledged) - found)


def recovered(hall: Hall, headers: dict[str, str], within: float = 30.0) -> float | None:
    """Seconds until a member read answers 200 again, or None."""
    started = time.monotonic()
    while time.monotonic() - started < within:
        try:
            r = requests.get(
                f"{hall.public}/api/v1/messages/unread-count",
                headers=headers,
                timeout=CLIENT_TIMEOUT,
            )
            if r.status_code == 200:
                return time.monotonic() - started
        except requests.RequestException:
            pass
        time.sleep(0.5)
    return None


# --- the steps --------------------------------------------------------------------------------------


def exposure(hall: Hall, report: Report) -> None:
    for _ in range(6):  # a few requests on each instance, for the scrape below to count
        requests.get(f"{hall.public}/healthz", timeout=5)
    checks = {
        "public /metrics": requests.get(f"{hall.public}/metrics", timeout=5).status_code == 404,
        "public /internal/v1": requests.post(
            f"{hall.public}/internal/v1/messages", json={}, timeout=5
        ).status_code
        == 404,
        "ops /metrics": "gjj_http_requests_total"
        in requests.get(f"{hall.ops}/metrics", timeout=5).text,
        "public /healthz": requests.get(f"{hall.public}/healthz", timeout=5).status_code == 200,
        "H5 at /": "<html" in requests.get(f"{hall.public}/", timeout=5).text.lower(),
    }
    failed = [name for name, good in checks.items() if not good]
    report.add(
        Row(
            "exposure through nginx",
            "public: no /metrics, no /internal (404); ops listener: both; H5 served",
            ok=not failed,
            note=f"failed: {failed}" if failed else "",
        )
    )


def metrics_consistent(hall: Hall, api_ports: list[int], report: Report) -> None:
    """Each instance's counters only grow from one scrape to the next, whichever worker answers."""

    def total(port: int) -> float:
        body = requests.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
        value = 0.0
        for line in body.splitlines():
            if line.startswith("gjj_http_requests_total{") and 'endpoint="/healthz"' in line:
                value += float(line.rsplit(" ", 1)[1])
        return value

    for _ in range(60):
        requests.get(f"{hall.public}/healthz", timeout=5)
    bad = []
    for port in api_ports:
        seen = [total(port) for _ in range(12)]
        if any(b < a for a, b in zip(seen, seen[1:], strict=False)) or seen[-1] < 20:
            bad.append((port, seen))
    report.add(
        Row(
            "metrics across gunicorn workers",
            f"60 requests, 12 scrapes of each of {len(api_ports)} instances: counters never fall",
            ok=not bad,
            note=f"inconsistent: {bad}" if bad else "",
        )
    )


def member_journey(hall: Hall, member: dict[str, str], dysms: str, report: Report) -> bool:
    steps: list[str] = []
    headers = hall.login(member["id_number"])
    steps.append("login")

    def get(path: str) -> requests.Response:
        return hall.http.get(f"{hall.public}{path}", headers=headers, timeout=CLIENT_TIMEOUT)

    def post(path: str, extra: dict[str, str] | None = None, **kw: Any) -> requests.Response:
        return hall.http.post(
            f"{hall.public}{path}",
            headers={**headers, **(extra or {})},
            timeout=CLIENT_TIMEOUT,
            **kw,
        )

    key = f"journey-{uuid.uuid4().hex[:8]}"
    r = hall.message(member, key, "欢迎使用网厅")
    assert r.status_code == 201, r.text
    messages = get("/api/v1/messages").json()["items"]
    assert any(m["content"] == "欢迎使用网厅" for m in messages), messages
    assert get(f"/api/v1/messages/{messages[0]['id']}").status_code == 200
    steps.append("messages")
    account = get("/api/v1/fund/account")
    assert account.status_code == 200, account.text
    cert = post("/api/v1/fund/certificates")
    assert cert.status_code == 201, cert.text
    serial = cert.json()["serial_no"]
    pdf = get(f"/api/v1/fund/certificates/{serial}/pdf")
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF"), pdf.status_code
    code = cert.json().get("verification_code") or cert.json().get("code")
    if code:
        public = requests.get(
            f"{hall.public}/api/v1/public/certificates/{serial}", params={"code": code}, timeout=10
        )
        assert public.status_code == 200, public.text
    steps.append("certificate")
    eligibility = get("/api/v1/withdrawals/eligibility?reason=purchase").json()
    purchase = next(r for r in eligibility["reasons"] if r["reason"] == "purchase")
    if not purchase["eligible"] or float(purchase["withdrawable"]) < 100:
        report.add(Row("member journey through nginx", ", ".join(steps) + " (no withdrawal)"))
        return False
    sent_before = len(fake_admin(dysms, "messages")["messages"])
    r = post("/api/v1/sms-codes/transaction")
    assert r.status_code == 202, r.text
    texts = fake_admin(dysms, "messages")["messages"][sent_before:]
    assert texts, "the transaction code reached dysms"
    sms_code = texts[-1]["template_param"]["code"]
    body = {
        "reason": "purchase",
        "amount": "100.00",
        "bank_name": "中国建设银行示范市分行",
        "bank_account": "6227001234567890123",
        "sms_code": sms_code,
        "document_no": "HT2026110500012",
    }
    idem = {"Idempotency-Key": uuid.uuid4().hex}
    first = post("/api/v1/withdrawals", json=body, extra=idem)
    again = post("/api/v1/withdrawals", json=body, extra=idem)
    assert first.status_code == 201, first.text
    assert again.json()["id"] == first.json()["id"], again.text
    steps.append("withdrawal (+ idempotent replay)")
    report.add(Row("member journey through nginx", ", ".join(steps)))
    return True


def bind_alipay(hall: Hall, alipay: str, member: dict[str, str], consents: int) -> dict[str, Any]:
    user_id = f"2088{uuid.uuid4().int % 10**12:012d}"
    fake_admin(
        alipay,
        "users",
        {
            "user_id": user_id,
            "user_name": member["name"],
            "cert_no": member["id_number"],
            "mobile": member["phone"] or "13900000000",
            "is_certified": "T",
        },
    )
    fake_admin(
        alipay, "consents", {"user_id": user_id, "template_id": "gjj-ali-notice", "count": 1000}
    )
    code = fake_admin(alipay, "auth-codes", {"user_id": user_id})["auth_code"]
    r = hall.http.post(
        f"{hall.public}/api/v1/channels/alipay/sessions",
        json={"auth_code": code},
        timeout=CLIENT_TIMEOUT,
    )
    assert r.status_code == 201, r.text
    headers = {"Authorization": f"Bearer {r.json()['access_token']}"}
    for _ in range(consents):
        s = hall.http.post(
            f"{hall.public}/api/v1/me/subscriptions",
            json={"channel": "alipay", "results": {"gjj-ali-notice": "accept"}},
            headers=headers,
            timeout=CLIENT_TIMEOUT,
        )
        assert s.status_code == 201, s.text
    return {"user_id": user_id, "headers": headers, **member}


def fault_api_kill(hall: Hall, stack: Stack, members: list, tokens: list, report: Report) -> None:
    with Load(hall, members, tokens, "api-kill") as load:
        time.sleep(3)
        stack.act("kill", "api1")
        time.sleep(8)
    stack.act("start", "api1")
    lost = load.missing_writes()
    five = sum(v for k, v in load.statuses.items() if not k.startswith("2"))
    report.add(
        Row(
            "SIGKILL api1 under load",
            f"{load.summary()}; {len(load.acknowledged)} writes acknowledged",
            lost=lost,
            ok=five == 0,
            note=f"client-visible failures: {dict(load.refusals)}"
            if five
            else "nginx failed over, no client saw an error",
        )
    )


def fault_outage(
    hall: Hall, stack: Stack, members: list, tokens: list, report: Report, service: str, how: str
) -> None:
    with Load(hall, members, tokens, f"{service}-outage") as load:
        time.sleep(3)
        if how == "stop10":
            stack.act("stop", service)
            time.sleep(10)
            stack.act("start", service)
        else:
            stack.act("restart", service)
        time.sleep(3)
    back = recovered(hall, tokens[0])
    lost = load.missing_writes()
    bad_5xx = {k: v for k, v in load.refusals.items() if not k.startswith("503")}
    hung = load.slowest > CLIENT_TIMEOUT or load.statuses.get("timeout", 0) > 0
    ok = not bad_5xx and not hung and back is not None
    notes = []
    if bad_5xx:
        notes.append(f"non-503 errors: {bad_5xx}")
    if hung:
        notes.append("a request hung past the client timeout")
    notes.append(
        f"503 envelopes: {sum(v for k, v in load.refusals.items() if k.startswith('503'))}"
    )
    notes.append("recovered without restarting the app" if back is not None else "NOT recovered")
    label = "stopped 10 s" if how == "stop10" else "restarted"
    report.add(
        Row(
            f"{service} {label} under load",
            f"{load.summary()}; {len(load.acknowledged)} writes acknowledged",
            lost=lost,
            ok=ok,
            note="; ".join(notes),
        )
    )


def fault_worker_kill(
    hall: Hall,
    stack: Stack,
    fakes: tuple[str, str],
    bound: list[dict[str, Any]],
    consents: int,
    report: Report,
) -> None:
    alipay, dysms = fakes
    per_member = consents + 5  # the last 5 of each member find no consent: rejected no_consent
    tokens: dict[str, int] = {}
    label = uuid.uuid4().hex[:4]
    for i in range(per_member):
        for j, member in enumerate(bound):
            token = f"K{label}{j:02d}{i:03d}"
            r = hall.message(member, token, f"{token} 通知")
            assert r.status_code == 201, r.text
            tokens[token] = r.json()["id"]
            if len(tokens) == len(bound) * per_member // 3:
                stack.act("kill", "worker")  # a third queued: the fan-out is running
    time.sleep(2)
    stack.act("start", "worker")
    ids = list(tokens.values())
    deadline = time.monotonic() + 120
    rows: list[tuple[int, str, str, str | None]] = []
    while time.monotonic() < deadline:
        with hall.db() as conn:
            rows = conn.execute(
                "SELECT message_id, channel, status, last_error_code FROM push_deliveries "
                "WHERE message_id = ANY(%s)",
                (ids,),
            ).fetchall()
        if rows and all(status in ("sent", "rejected", "failed") for _, _, status, _ in rows):
            break
        time.sleep(1)
    # What each platform received, by the token at the start of the message's text.
    received: dict[str, list[str]] = {
        "alipay": [
            m["data"].get("keyword2", "") for m in fake_admin(alipay, "messages")["messages"]
        ],
        "sms": [
            m["template_param"].get("content", "")
            for m in fake_admin(dysms, "messages")["messages"]
        ],
    }
    token_of = {message_id: token for token, message_id in tokens.items()}
    outcome: Counter[str] = Counter()
    lost = duplicated = 0
    for message_id, channel, status, code in rows:
        token = token_of[message_id]
        got = sum(token in text for text in received.get(channel, []))
        if got > 1:
            duplicated += 1
            outcome[f"{channel} DUPLICATED"] += 1
        elif status == "sent" and got == 1:
            outcome[f"{channel} sent once"] += 1
        elif status == "rejected" and got == 0 and code:
            outcome[f"{channel} rejected {code}"] += 1
        elif status == "failed" and code == "worker_lost" and got == 1:
            outcome[f"{channel} reached the platform once, written off worker_lost"] += 1
        else:
            lost += 1
            outcome[f"{channel} LOST ({status}/{code}, platform got {got})"] += 1
    without = len(set(ids) - {message_id for message_id, *_ in rows})
    if without:
        outcome["messages without a delivery"] += without
    report.add(
        Row(
            "Celery worker SIGKILLed mid fan-out",
            f"{len(tokens)} messages to {len(bound)} Alipay members, {len(rows)} deliveries; "
            + ", ".join(f"{k}: {v}" for k, v in sorted(outcome.items())),
            lost=lost + duplicated,
            note=f"duplicated {duplicated} (counted from the fake's side and the deliveries table)",
        )
    )


def seed_from_checkout(hall: Hall, work: Path, csv_path: Path) -> None:
    """The image has no seed (``devtools`` is a source checkout's, left out of the wheel): this
    checkout's ``gjj seed`` fills the stack's database with the stack's PII keys, as an operator's
    machine would."""
    app_env = dict(
        line.split("=", 1) for line in (work / "app.env").read_text().splitlines() if "=" in line
    )
    env = {key: value for key, value in os.environ.items() if not key.startswith("GJJ_")}
    env |= {
        "GJJ_DATABASE_URL": hall.database_url,
        "GJJ_REDIS_URL": hall.redis_url,
        "GJJ_PII_KEY": app_env["GJJ_PII_KEY"],
        "GJJ_LOOKUP_KEY": app_env["GJJ_LOOKUP_KEY"],
        "GJJ_INSTANCE_DIR": str(csv_path.parent),
    }
    gjj = Path(sys.executable).with_name("gjj")
    subprocess.run(
        [str(gjj), "seed", "--members", "40", "--csv", str(csv_path)],
        env=env,
        check=True,
        capture_output=True,
        timeout=600,
    )


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--public", required=True)
    parser.add_argument("--ops", required=True)
    parser.add_argument("--fakes", required=True)
    parser.add_argument("--work", required=True)
    args = parser.parse_args()
    work = Path(args.work)
    fakes = json.loads(Path(args.fakes).read_text())
    alipay = fakes["alipay_admin_url"].rsplit("/__admin/", 1)[0]
    dysms = fakes["dysms_admin_url"].rsplit("/__admin/", 1)[0]
    env = dict(
        line.split("=", 1)
        for line in (work / "compose.env").read_text().splitlines()
        if "=" in line
    )
    hall = Hall(
        public=args.public,
        ops=args.ops,
        redis_url=f"redis://127.0.0.1:{env['CHECK_REDIS_PORT']}/0",
        database_url=f"postgresql://gjj@127.0.0.1:{env['CHECK_PG_PORT']}/gjj",
        internal_secret=os.environ["CHECK_INTERNAL_SECRET"],
    )
    stack = Stack(os.environ.get("CHECK_MODE", "docker"), os.environ.get("CHECK_PROJECT", ""), work)
    report = Report()
    try:
        seed_dir = work / "seed"
        seed_dir.mkdir(exist_ok=True)
        seed_dir.chmod(0o777)
        seed_from_checkout(hall, work, seed_dir / "members.csv")
        with (seed_dir / "members.csv").open(encoding="utf-8") as handle:
            members = [
                m for m in csv.DictReader(handle) if m["registered"] == "true" and m["phone"]
            ]
        report.add(
            Row(
                "seed (the checkout's gjj seed, the stack's keys)",
                f"{len(members)} registered members",
            )
        )
        exposure(hall, report)
        metrics_consistent(hall, [int(env["CHECK_API1_PORT"]), int(env["CHECK_API2_PORT"])], report)
        journeyed = 0
        while not member_journey(hall, members[journeyed], dysms, report):
            report.rows.pop()  # that member may not withdraw for purchase: the next one
            journeyed += 1
        members = members[journeyed + 1 :]
        consents = 10
        bound = [bind_alipay(hall, alipay, m, consents) for m in members[1:5]]
        report.add(
            Row(
                "Alipay login binds by real name",
                f"{len(bound)} members bound, {consents} consents each",
            )
        )
        tokens = [hall.login(m["id_number"]) for m in members[5:9]]
        load_members = members[5:9]
        fault_api_kill(hall, stack, load_members, tokens, report)
        fault_outage(hall, stack, load_members, tokens, report, "redis", "stop10")
        fault_outage(hall, stack, load_members, tokens, report, "postgres", "restart")
        fault_worker_kill(hall, stack, (alipay, dysms), bound, consents, report)
    except Exception as exc:  # a step that could not run is a failed check, with its reason
        import traceback

        traceback.print_exc()
        report.add(Row("(check aborted)", f"{type(exc).__name__}: {str(exc)[:200]}", ok=False))
    return 0 if report.print() else 1


if __name__ == "__main__":
    sys.exit(main())
