"""``gjj demo``: what a laptop needs to try the hall — the schema, a seeded centre, the channel
fakes with the demo members registered in them, and a banner of things to try."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from adapters.fakes import FakeAlipayGateway, FakeWeChatApi
from adapters.fakes.__main__ import load_state, prepare_keys
from backend import migrate
from backend.integration.signing import DEMO_INTERNAL_KEY
from backend.runtime import Runtime
from backend.seed.csvfile import read_members_csv
from backend.seed.generator import SHOWCASE, channel_identities
from backend.seed.runner import SeedResult, seed_centre
from backend.settings import PROJECT_ROOT, Settings

logger = logging.getLogger(__name__)

DEFAULT_MEMBERS = 200
SHOWN_LOGINS = 7
FAKES_START_TIMEOUT = 20.0  # seconds: key generation on first start takes a moment


def prepare(rt: Runtime, *, members: int, seed: int, csv_path: Path) -> SeedResult:
    """Migrate, then seed unless the database already has members. Creates the instance folder and the
    SMS outbox's folder on demand (a fresh clone has neither)."""
    rt.settings.instance_path.mkdir(parents=True, exist_ok=True)
    csv_path.parent.mkdir(parents=True, exist_ok=True)
    if rt.settings.sms_backend == "file" and rt.settings.sms_outbox:
        Path(rt.settings.sms_outbox).parent.mkdir(parents=True, exist_ok=True)
    migrate.upgrade(rt.engine)
    result = seed_centre(rt, members=members, seed=seed, csv_path=csv_path, if_empty=True)
    # Gunicorn forks after this: workers must open their own database connections.
    rt.engine.dispose()
    return result


@dataclass
class ChannelFakes:
    """The fakes running in this process (tests)."""

    alipay: FakeAlipayGateway
    wechat: FakeWeChatApi
    users: int

    @property
    def alipay_url(self) -> str:
        return self.alipay.url

    @property
    def wechat_url(self) -> str:
        return self.wechat.url

    def stop(self) -> None:
        self.alipay.stop()
        self.wechat.stop()


@dataclass
class FakesProcess:
    """The fakes in a child process (``python -m adapters.fakes serve``): threads of their own in
    gunicorn's master would be inherited half-alive by the forked worker, which then cannot exit."""

    process: subprocess.Popen[str]
    alipay_url: str
    wechat_url: str
    users: int

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=5)


def fake_users(members: Sequence[dict[str, str]]) -> dict[str, Any]:
    """Every demo member with a reserved phone as a user of both platforms, in the fakes'
    ``--state`` format, with the identities the seeded bindings carry (:func:`channel_identities`).
    Without a reserved phone neither platform could match the member."""
    alipay, wechat = [], []
    for row in members:
        if not row["phone"]:
            continue
        ids = channel_identities(row["id_number"])
        alipay.append(
            {
                "user_id": ids["alipay_user_id"],
                "open_id": ids["alipay_open_id"],
                "user_name": row["name"],
                "cert_no": row["id_number"],
                "mobile": row["phone"],
            }
        )
        wechat.append(
            {
                "openid": ids["wechat_openid"],
                "phone": row["phone"],
                "unionid": ids["wechat_unionid"],
            }
        )
    return {"alipay": {"users": alipay}, "wechat": {"users": wechat}}


def start_channel_fakes(
    settings: Settings,
    members: Sequence[dict[str, str]],
    *,
    alipay_port: int = 0,
    wechat_port: int = 0,
    keys_dir: Path | None = None,
) -> ChannelFakes:
    """The Alipay and WeChat fakes on loopback in this process, with the app keys the hall's
    channel clients use and the demo members as users."""
    keys = prepare_keys(keys_dir or settings.fakes_keys_path)
    alipay = FakeAlipayGateway(
        gateway_private_key=keys["gateway_private_key"].read_text(), port=alipay_port
    )
    alipay.register_app(
        settings.fakes_alipay_app_id,
        keys["app_public_key"].read_text(),
        keys["aes_key"].read_text().strip(),
    )
    wechat = FakeWeChatApi(port=wechat_port)
    wechat.register_app(settings.fakes_wechat_app_id, settings.fakes_wechat_app_secret)
    state = fake_users(members)
    load_state(alipay, wechat, state)
    alipay.start()
    try:
        wechat.start()
    except OSError:
        alipay.stop()
        raise
    return ChannelFakes(alipay=alipay, wechat=wechat, users=len(state["alipay"]["users"]))


def spawn_channel_fakes(
    settings: Settings, members: Sequence[dict[str, str]], *, state_path: Path
) -> FakesProcess:
    """The fakes as a child process on ``GJJ_FAKES_ALIPAY_PORT`` / ``GJJ_FAKES_WECHAT_PORT``.
    Raises ``OSError`` when they do not come up (a port in use, most likely)."""
    state = fake_users(members)
    state_path.parent.mkdir(parents=True, exist_ok=True)
    state_path.write_text(json.dumps(state, ensure_ascii=False), encoding="utf-8")
    command = [
        sys.executable, "-m", "adapters.fakes", "serve",
        "--alipay-port", str(settings.fakes_alipay_port),
        "--wechat-port", str(settings.fakes_wechat_port),
        "--keys-dir", str(settings.fakes_keys_path),
        "--state", str(state_path),
        "--alipay-app-id", settings.fakes_alipay_app_id,
        "--wechat-appid", settings.fakes_wechat_app_id,
        "--wechat-secret", settings.fakes_wechat_app_secret,
    ]  # fmt: skip
    process = subprocess.Popen(  # noqa: S603 - our own interpreter and module, no shell
        command, cwd=PROJECT_ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    ready = threading.Event()
    lines: list[str] = []

    def read_info() -> None:
        assert process.stdout is not None
        lines.append(process.stdout.readline())
        ready.set()

    threading.Thread(target=read_info, daemon=True).start()
    if not ready.wait(FAKES_START_TIMEOUT) or not lines[0].strip():
        process.kill()
        _, errors = process.communicate(timeout=5)
        last = (errors or "no answer").strip().splitlines()[-1:]
        raise OSError(f"channel fakes did not start: {' '.join(last)}")
    info = json.loads(lines[0])
    return FakesProcess(
        process=process,
        alipay_url=info["alipay_admin_url"].removesuffix("/__admin/"),
        wechat_url=info["wechat_base_url"],
        users=len(state["alipay"]["users"]),
    )


def with_demo_internal_key(settings: Settings) -> Settings:
    """Settings whose internal API has a caller, so the demo can play the core system."""
    if settings.internal_keys:
        return settings
    key_id, secret = DEMO_INTERNAL_KEY
    return settings.with_(internal_keys={key_id: secret})


def banner(
    settings: Settings,
    *,
    url: str,
    members: Sequence[dict[str, str]],
    seeded: SeedResult,
    fakes: ChannelFakes | FakesProcess | None,
    fakes_error: str | None = None,
) -> str:
    """What to try, for the terminal (the demo's logins are synthetic people)."""
    lines = [
        "",
        f"住房公积金个人网厅 demo — {url}",
        f"  API docs:  {url}/docs   (OpenAPI: {url}/openapi.json)",
        f"  H5:        {url}/   (when the mini-program's H5 build exists)",
    ]
    if seeded.skipped:
        lines.append(f"  data:      kept the {seeded.members} members already in the database")
    else:
        lines.append(f"  data:      seeded {seeded.members} members in {seeded.seconds:.1f} s")
    registered = [(i, m) for i, m in enumerate(members) if m["registered"] == "true"][:SHOWN_LOGINS]
    if registered:
        lines += ["", "Log in with an ID number or phone and the password (POST /api/v1/sessions):"]
        for i, m in registered:
            note = SHOWCASE[i].note if i < len(SHOWCASE) else ""
            lines.append(
                f"  {m['id_number']}  {m['phone'] or '-':11}  {m['password']}  {m['name']}  {note}"
            )
    unregistered = [m for m in members if m["registered"] == "false" and m["phone"]][:1]
    for m in unregistered:
        lines += [
            "",
            "Register (POST /api/v1/registrations) as a member who has not yet:",
            f"  {m['id_number']}  {m['name']}  reserved phone {m['phone']}",
        ]
    lines.append("")
    if settings.sms_backend == "file":
        lines.append(f"SMS codes are appended to {settings.sms_outbox} (one JSON line each).")
    else:
        lines.append(f"SMS codes go to the '{settings.sms_backend}' SMS backend.")
    if settings.captcha_fixed:
        lines.append(f"Every captcha answer is {settings.captcha_fixed} (GJJ_CAPTCHA_FIXED).")
    else:
        lines.append("Captchas are images; set GJJ_CAPTCHA_FIXED=1234 to make every answer 1234.")
    if fakes is not None:
        first = next((m for i, m in registered), None) or next(
            (m for m in members if m["phone"]), None
        )
        lines += [
            "",
            f"Channel fakes ({fakes.users} demo users each):",
            f"  Alipay gateway {fakes.alipay_url}/gateway.do  admin {fakes.alipay_url}/__admin/",
            f"  WeChat API     {fakes.wechat_url}  admin {fakes.wechat_url}/__admin/",
        ]
        if first is not None:
            ids = channel_identities(first["id_number"])
            lines += [
                "  Alipay login: mint an auth_code, then POST /api/v1/channels/alipay/sessions",
                f"    curl -s -X POST {fakes.alipay_url}/__admin/auth-codes "
                f'-d \'{{"user_id": "{ids["alipay_user_id"]}"}}\'',
                "  WeChat login: mint a js_code, then POST /api/v1/channels/wechat/sessions",
                f"    curl -s -X POST {fakes.wechat_url}/__admin/js-codes "
                f'-d \'{{"openid": "{ids["wechat_openid"]}"}}\'',
            ]
    elif fakes_error:
        lines += ["", f"Channel fakes not started: {fakes_error}"]
    target = next((m for i, m in registered), None)
    if target is not None and settings.internal_keys:
        key_id = next(iter(settings.internal_keys))
        body = json.dumps(
            {
                "id_number": target["id_number"],
                "dedupe_key": "demo-1",
                "business_name": "业务通知",
                "content": "这是核心业务系统发来的一条演示消息。",
            },
            ensure_ascii=False,
        )
        # The caller's name, never its secret: `gjj internal curl` finds the demo's own caller by
        # itself, and an operator's keys are in their own environment.
        own_keys = (key_id, settings.internal_keys[key_id]) != DEMO_INTERNAL_KEY
        lines += [
            "",
            f"Play the core system (internal API, caller '{key_id}'; see docs/INTERNAL_API.md):",
            f"  .venv/bin/gjj internal curl POST /internal/v1/messages --key {key_id} "
            f"--base-url {url} --body '{body}' | sh",
        ]
        if own_keys:
            lines.append("  (run it with your GJJ_INTERNAL_KEYS in the environment)")
    lines.append("")
    return "\n".join(lines)


def demo_members(csv_path: Path) -> list[dict[str, str]]:
    return read_members_csv(csv_path) if csv_path.is_file() else []
