"""``python -m adapters.fakes serve``: run both channel fakes on loopback until killed.

Keys live in ``--keys-dir`` (created and filled on first start, reused afterwards) so the app can
be configured once: app private key, gateway public key and the AES content key. A JSON line with
the URLs and key paths is written to stdout (and to ``--info-file`` if given).
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import secrets
import signal
import sys
import threading
from pathlib import Path
from typing import Any

from adapters.alipay import keys
from adapters.fakes.alipay_gateway import SETTINGS as ALIPAY_SETTINGS
from adapters.fakes.alipay_gateway import FakeAlipayGateway
from adapters.fakes.dysms import FakeDysms
from adapters.fakes.wechat_api import FakeWeChatApi

DEFAULT_ALIPAY_APP_ID = "2021000000000001"
DEFAULT_WECHAT_APPID = "wxfake0000000001"
DEFAULT_WECHAT_SECRET = "fake-wechat-secret"


def _key_file(directory: Path, name: str, make: Any) -> Path:
    """The file, written once and whole: concurrent preparers (every process building its
    clients) never truncate one another's file under a reader; the first one written wins."""
    path = directory / name
    if path.exists():
        return path
    temp = directory / f".{name}.{os.getpid()}.{threading.get_ident()}.tmp"
    temp.write_text(make())
    temp.chmod(0o600)
    try:
        os.link(temp, path)  # fails when another preparer got there first: theirs stands
    except FileExistsError:
        pass
    finally:
        temp.unlink()
    return path


def prepare_keys(directory: Path) -> dict[str, Path]:
    """Create (once) and return the key files both sides need."""
    directory.mkdir(parents=True, exist_ok=True)
    gateway_private = _key_file(directory, "gateway_private_key.pem", keys.generate_private_key_pem)
    app_private = _key_file(directory, "app_private_key.pem", keys.generate_private_key_pem)
    gateway_public = _key_file(
        directory,
        "gateway_public_key.pem",
        lambda: keys.public_key_pem(gateway_private.read_text()),
    )
    app_public = _key_file(
        directory, "app_public_key.pem", lambda: keys.public_key_pem(app_private.read_text())
    )
    aes_key = _key_file(
        directory, "aes_key.txt", lambda: base64.b64encode(secrets.token_bytes(16)).decode()
    )
    return {
        "gateway_private_key": gateway_private,
        "gateway_public_key": gateway_public,
        "app_private_key": app_private,
        "app_public_key": app_public,
        "aes_key": aes_key,
    }


def load_state(alipay: FakeAlipayGateway, wechat: FakeWeChatApi, state: dict[str, Any]) -> None:
    """Seed users, templates and consents from a ``--state`` JSON document."""
    ali = state.get("alipay", {})
    for user in ali.get("users", []):
        alipay.add_user(user)
    for consent in ali.get("consents", []):
        alipay.grant_consent(
            consent["user_id"],
            consent["template_id"],
            int(consent.get("count", 1)),
            bool(consent.get("longterm", False)),
        )
    for name in ALIPAY_SETTINGS:
        if name in ali:
            setattr(alipay, name, bool(ali[name]))
    wx = state.get("wechat", {})
    for user in wx.get("users", []):
        wechat.add_user(user)
    for template in wx.get("templates", []):
        wechat.add_template(template["template_id"], template.get("keys"))
    wechat.pages.update(wx.get("pages", []))
    for consent in wx.get("consents", []):
        wechat.grant_consent(
            consent["openid"],
            consent["template_id"],
            int(consent.get("count", 1)),
            bool(consent.get("longterm", False)),
        )


def serve(args: argparse.Namespace) -> int:
    key_files = prepare_keys(Path(args.keys_dir))
    alipay = FakeAlipayGateway(
        gateway_private_key=key_files["gateway_private_key"].read_text(),
        host=args.host,
        port=args.alipay_port,
    )
    alipay.register_app(
        args.alipay_app_id,
        key_files["app_public_key"].read_text(),
        key_files["aes_key"].read_text().strip(),
    )
    wechat = FakeWeChatApi(host=args.host, port=args.wechat_port)
    wechat.register_app(args.wechat_appid, args.wechat_secret)
    if args.state:
        load_state(alipay, wechat, json.loads(Path(args.state).read_text(encoding="utf-8")))
    dysms = None
    if args.dysms_port is not None:
        dysms = FakeDysms(
            access_key_id=args.dysms_key_id,
            access_key_secret=args.dysms_key_secret,
            sign_name=args.dysms_sign_name,
            template_codes=args.dysms_templates.split(","),
            host=args.host,
            port=args.dysms_port,
        )
        dysms.start()
    alipay.start()
    wechat.start()
    info = {
        "alipay_gateway_url": alipay.gateway_url,
        "alipay_admin_url": alipay.url + "/__admin/",
        "alipay_app_id": args.alipay_app_id,
        "wechat_base_url": wechat.url,
        "wechat_admin_url": wechat.url + "/__admin/",
        "wechat_appid": args.wechat_appid,
        **(
            {"dysms_url": dysms.url + "/", "dysms_admin_url": dysms.url + "/__admin/"}
            if dysms
            else {}
        ),
        **{
            name: str(path.resolve())
            for name, path in key_files.items()
            if name != "gateway_private_key"
        },
    }
    line = json.dumps(info)
    # Handlers and the info file come before the stdout line: a reader of that line may stop us
    # (or read the file) the moment it arrives.
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    if args.info_file:
        Path(args.info_file).write_text(line + "\n")
    sys.stdout.write(line + "\n")
    sys.stdout.flush()
    stop.wait()
    alipay.stop()
    wechat.stop()
    if dysms is not None:
        dysms.stop()
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m adapters.fakes")
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("serve", help="run the Alipay and WeChat fakes until killed")
    run.add_argument("--host", default="127.0.0.1")
    run.add_argument("--alipay-port", type=int, default=0)
    run.add_argument("--wechat-port", type=int, default=0)
    run.add_argument("--state", help="JSON file with users, templates and consents")
    run.add_argument("--keys-dir", default=os.environ.get("GJJ_FAKE_KEYS_DIR", "var/fake-channels"))
    run.add_argument("--alipay-app-id", default=DEFAULT_ALIPAY_APP_ID)
    run.add_argument("--wechat-appid", default=DEFAULT_WECHAT_APPID)
    run.add_argument("--wechat-secret", default=DEFAULT_WECHAT_SECRET)
    run.add_argument("--info-file", help="also write the JSON info line here")
    run.add_argument("--dysms-port", type=int, default=None, help="also run the dysms SMS fake")
    run.add_argument("--dysms-key-id", default="fake-dysms-key")
    run.add_argument("--dysms-key-secret", default="fake-dysms-secret")
    run.add_argument("--dysms-sign-name", default="示范公积金")
    run.add_argument("--dysms-templates", default="SMS_000001", help="comma-separated codes")
    args = parser.parse_args(argv)
    return serve(args)


if __name__ == "__main__":
    raise SystemExit(main())
