"""Browser end-to-end fixtures: the real backend (``gjj serve``) on a loopback port with the
demo data (``gjj seed``), serving the H5 build of the mini-program, driven by Debian's Chromium.

Non-production switches make it deterministic: every captcha answer is ``1234``
(GJJ_CAPTCHA_FIXED) and SMS codes land in a JSON-lines outbox file (GJJ_SMS_BACKEND=file).
"""

from __future__ import annotations

import csv
import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

PROJECT_ROOT = Path(__file__).resolve().parents[2]
H5_DIR = PROJECT_ROOT / "miniapp" / "dist" / "build" / "h5"
CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = PROJECT_ROOT / "test-artifacts" / "e2e"
CAPTCHA = "1234"
# The core system's key in the e2e backend (GJJ_INTERNAL_KEYS), for tests that act as the core.
CORE_KEY = ("e2e-core", "e2e-core-secret")
# The showcase members of `gjj seed` (one of each situation) come first; a few more is plenty.
SEED_MEMBERS = 20
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
TRUTHY = {"1", "true", "yes", "y", "t", "是"}


@dataclass(frozen=True)
class DemoMember:
    id_number: str
    name: str
    phone: str
    password: str
    has_loan: bool


@dataclass(frozen=True)
class Backend:
    base_url: str
    outbox: Path
    members: list[DemoMember]

    def member(self, *, has_loan: bool | None = None) -> DemoMember:
        for m in self.members:
            if has_loan is None or m.has_loan == has_loan:
                return m
        pytest.fail(f"the demo data has no registered member with has_loan={has_loan}")

    def sms_code(self, phone: str, scene: str, after: int, timeout: float = 10.0) -> str:
        """The code of the first SMS to ``phone`` in ``scene`` written after byte ``after``."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.outbox.exists():
                with self.outbox.open("rb") as f:
                    f.seek(after)
                    for line in f.read().decode("utf-8").splitlines():
                        if not line.strip():
                            continue
                        sms = json.loads(line)
                        if sms["phone"] == phone and sms["scene"] == scene:
                            return str(sms["code"])
            time.sleep(0.2)
        pytest.fail(f"no {scene} SMS reached the outbox within {timeout}s")

    def outbox_size(self) -> int:
        return self.outbox.stat().st_size if self.outbox.exists() else 0


def _require_prerequisites() -> None:
    if not CHROMIUM.exists():
        pytest.skip("/usr/bin/chromium is absent (Debian package chromium)")
    if not (H5_DIR / "index.html").is_file():
        pytest.skip("miniapp/dist/build/h5 is absent: run `npm run build:h5` in miniapp/")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _gjj(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "backend.cli", *args],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def _read_members(csv_path: Path) -> list[DemoMember]:
    with csv_path.open(encoding="utf-8-sig", newline="") as f:
        rows = list(csv.DictReader(f))
    return [
        DemoMember(
            id_number=row["id_number"],
            name=row["name"],
            phone=row["phone"],
            password=row["password"],
            has_loan=row["has_loan"].strip().lower() in TRUTHY,
        )
        for row in rows
        if row["registered"].strip().lower() in TRUTHY and row["password"]
    ]


def _wait_healthy(base_url: str, proc: subprocess.Popen[bytes], timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"gjj serve exited with {proc.returncode} before answering /healthz")
        try:
            with urllib.request.urlopen(f"{base_url}/healthz", timeout=2) as r:
                if r.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.3)
    pytest.fail(f"gjj serve did not answer /healthz within {timeout}s")


@pytest.fixture(scope="session")
def backend(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Backend]:
    _require_prerequisites()
    work = tmp_path_factory.mktemp("e2e")
    port = _free_port()
    base_url = f"http://127.0.0.1:{port}"
    outbox = work / "sms-outbox.jsonl"
    env = {
        **os.environ,
        "GJJ_ENV": "development",
        # Its own SQLite file and in-process Redis, whatever the surrounding suite points at.
        "GJJ_DATABASE_URL": f"sqlite:///{work / 'e2e.sqlite3'}",
        "GJJ_REDIS_URL": "",
        "GJJ_CAPTCHA_FIXED": CAPTCHA,
        "GJJ_SMS_BACKEND": "file",
        "GJJ_SMS_OUTBOX": str(outbox),
        "GJJ_CHANNELS": "fake",
        "GJJ_HOST": "127.0.0.1",
        "GJJ_PORT": str(port),
        "GJJ_PUBLIC_BASE_URL": base_url,
        "GJJ_LOG_JSON": "true",
        "GJJ_INTERNAL_KEYS": ":".join(CORE_KEY),
    }
    # The logins go to the run's own directory, not the developer's instance/demo-members.csv.
    demo_csv = work / "demo-members.csv"
    seed = ["seed", "--members", str(SEED_MEMBERS), "--csv", str(demo_csv)]
    for step in (["db", "upgrade"], seed):
        done = _gjj(step, env)
        assert done.returncode == 0, f"gjj {' '.join(step)} failed:\n{done.stdout}\n{done.stderr}"
    members = _read_members(demo_csv)

    log = (work / "serve.log").open("wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "backend.cli", "serve", "--host", "127.0.0.1", "--port", str(port)],
        cwd=PROJECT_ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        _wait_healthy(base_url, proc)
        yield Backend(base_url=base_url, outbox=outbox, members=members)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)
        log.close()


@pytest.fixture(scope="session")
def browser(backend: Backend) -> Iterator[object]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        # launch() gives each run a fresh temporary profile (user-data-dir) of its own.
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_FLAGS, headless=True)
        try:
            yield b
        finally:
            b.close()


@pytest.fixture()
def page(browser: object, request: pytest.FixtureRequest) -> Iterator[object]:
    context = browser.new_context(  # type: ignore[attr-defined]
        viewport={"width": 414, "height": 860},
        locale="zh-CN",
        timezone_id="Asia/Shanghai",
    )
    context.set_default_timeout(15000)
    pg = context.new_page()
    try:
        yield pg
    finally:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        try:
            pg.screenshot(
                path=str(ARTIFACTS / f"{request.node.name}-final.png"), animations="disabled"
            )
        except Exception:  # noqa: BLE001 - a closed page must not mask the test's own result
            pass
        context.close()
