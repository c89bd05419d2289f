"""The certificate verification page (证明核验: 缴存证明, 贷款结清证明) a bank clerk opens from the printed QR code.

Server-rendered HTML in Chinese, readable on a phone, with no external asset (no script, no font,
no image). It shows what the JSON verification API (``/api/v1/public/certificates``) answers, with
the same rate limit and the same refusal for an unknown serial and a wrong code.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from flask import Blueprint, render_template, request

from backend.api import db, runtime
from backend.auth import origin
from backend.certificates import services
from backend.clock import to_local
from backend.errors import AppError

VERIFY_PATH = "/verify/certificates/"

blp = Blueprint("certificate_pages", __name__)

HEADERS = {
    "Content-Type": "text/html; charset=utf-8",
    "Cache-Control": "no-store",
    # The code is in the address: never send it on as a referrer; nothing loads from elsewhere.
    "Referrer-Policy": "no-referrer",
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'",
    "X-Robots-Tag": "noindex",
}


def _time(value: dt.datetime | None) -> str:
    return f"{to_local(value):%Y-%m-%d %H:%M}" if value else ""


@blp.get(f"{VERIFY_PATH}<string:serial_no>")
def verify_page(serial_no: str) -> Any:
    """核验页：有效 / 已作废 / 已过期，持有人信息脱敏。"""
    code = (request.args.get("code") or "").strip()[:32]
    centre = runtime().settings.centre_name
    page: dict[str, Any] = {"centre": centre, "serial_no": serial_no[:40], "code": code}
    if not code:
        page["error"] = "请输入证明上的验证码"
        return render_template("certificate_verification.html", **page), 200, HEADERS
    rt = runtime()
    try:
        verification = services.verify_certificate(
            db(), rt.redis, rt.keys, serial_no, code, origin().ip
        )
    except AppError as exc:
        page["error"] = exc.message
        headers = HEADERS | exc.headers
        return render_template("certificate_verification.html", **page), exc.status_code, headers
    view = services.public_view(verification)
    page["cert"] = view | {
        "issued_at": _time(view["issued_at"]),
        "valid_until": _time(view["valid_until"]),
        "voided_at": _time(view["voided_at"]),
    }
    return render_template("certificate_verification.html", **page), 200, HEADERS
