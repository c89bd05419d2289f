"""``gjj demo``: what a laptop needs to try the hall — the schema, a seeded centre, the channel
fakes with the demo members registered in them, and a banner of things to try."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from adapters.fakes import FakeAlipayGateway, FakeWeChatApi
from adapters.fakes.__main__ import (
    DEFAULT_ALIPAY_APP_ID,
    DEFAULT_WECHAT_APPID,
    DEFAULT_WECHAT_SECRET,
    prepare_keys,
)
from backend import migrate
from backend.runtime import Runtime
from backend.seed.csvfile import read_members_csv
from backend.seed.generator import SHOWCASE, channel_identities
from backend.seed.runner import SeedResult, seed_centre
from backend.settings import INSTANCE_DIR, PROJECT_ROOT, Settings

logger = logging.getLogger(__name__)

DEFAULT_MEMBERS = 200
DEFAULT_CSV = INSTANCE_DIR / "demo-members.csv"
SHOWN_LOGINS = 6


def prepare(rt: Runtime, *, members: int, seed: int, csv_path: Path) -> SeedResult:
    """Migrate, then seed unless the database already has members. Creates ``instance/`` and the
    SMS outbox's folder on demand (a fresh clone has neither)."""
    INSTANCE_DIR.mkdir(parents=True, exist_ok=True)
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
    alipay: FakeAlipayGateway
    wechat: FakeWeChatApi
    users: int

    def stop(self) -> None:
        self.alipay.stop()
        self.wechat.stop()


def fakes_keys_dir(settings: Settings) -> Path:
    # The channel clients read the same folder (settings.fakes_keys_dir once the channels
    # feature lands; the fakes CLI's default until then).
    directory = Path(getattr(settings, "fakes_keys_dir", "var/fake-channels"))
    return directory if directory.is_absolute() else PROJECT_ROOT / directory


def start_channel_fakes(
    settings: Settings,
    members: Sequence[dict[str, str]],
    *,
    alipay_port: int | None = None,
    wechat_port: int | None = None,
    keys_dir: Path | None = None,
) -> ChannelFakes:
    """Start the Alipay and WeChat fakes on loopback (daemon threads), with the app keys the
    hall's channel clients use and every demo member with a reserved phone as a user of both
    platforms (identities from :func:`channel_identities`, as the seeded bindings have them)."""
    keys = prepare_keys(keys_dir or fakes_keys_dir(settings))
    alipay = FakeAlipayGateway(
        gateway_private_key=keys["gateway_private_key"].read_text(),
        port=settings.fakes_alipay_port if alipay_port is None else alipay_port,
    )
    alipay.register_app(
        getattr(settings, "fakes_alipay_app_id", DEFAULT_ALIPAY_APP_ID),
        keys["app_public_key"].read_text(),
        keys["aes_key"].read_text().strip(),
    )
    wechat = FakeWeChatApi(port=settings.fakes_wechat_port if wechat_port is None else wechat_port)
    wechat.register_app(
        getattr(settings, "fakes_wechat_app_id", DEFAULT_WECHAT_APPID),
        getattr(settings, "fakes_wechat_app_secret", DEFAULT_WECHAT_SECRET),
    )
    users = 0
    for row in members:
        if not row["phone"]:
            continue  # without a reserved phone neither platform could match the member
        ids = channel_identities(row["id_number"])
        alipay.add_user(
            {
                "user_id": ids["alipay_user_id"],
                "open_id": ids["alipay_open_id"],
                "user_name": row["name"],
                "cert_no": row["id_number"],
                "mobile": row["phone"],
            }
        )
        wechat.add_user(
            {
                "openid": ids["wechat_openid"],
                "phone": row["phone"],
                "unionid": ids["wechat_unionid"],
            }
        )
        users += 1
    alipay.start()
    try:
        wechat.start()
    except OSError:
        alipay.stop()
        raise
    return ChannelFakes(alipay=alipay, wechat=wechat, users=users)


def banner(
    settings: Settings,
    *,
    url: str,
    members: Sequence[dict[str, str]],
    seeded: SeedResult,
    fakes: ChannelFakes | None,
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
            f"  Alipay gateway {fakes.alipay.gateway_url}  admin {fakes.alipay.url}/__admin/",
            f"  WeChat API     {fakes.wechat.url}  admin {fakes.wechat.url}/__admin/",
        ]
        if first is not None:
            ids = channel_identities(first["id_number"])
            lines += [
                "  Alipay login: mint an auth_code, then POST /api/v1/channels/alipay/sessions",
                f"    curl -s -X POST {fakes.alipay.url}/__admin/auth-codes "
                f'-d \'{{"user_id": "{ids["alipay_user_id"]}"}}\'',
                "  WeChat login: mint a js_code, then POST /api/v1/channels/wechat/sessions",
                f"    curl -s -X POST {fakes.wechat.url}/__admin/js-codes "
                f'-d \'{{"openid": "{ids["wechat_openid"]}"}}\'',
            ]
    elif fakes_error:
        lines += ["", f"Channel fakes not started: {fakes_error}"]
    lines.append("")
    return "\n".join(lines)


def demo_members(csv_path: Path) -> list[dict[str, str]]:
    return read_members_csv(csv_path) if csv_path.is_file() else []
