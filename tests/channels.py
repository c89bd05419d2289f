"""The channel test doubles' data: the app ids the fakes register and the accounts a test adds to
them. The fixtures that start the fakes and point the app's channel clients at them live in
tests/conftest.py."""

from __future__ import annotations

import secrets
import uuid
from typing import Any

ALIPAY_APP_ID = "2021000000000099"
WECHAT_SECRET = "wx-test-secret"


def alipay_user(member: Any, **overrides: Any) -> dict[str, Any]:
    """A certified Alipay account of ``member`` (a factory-made member with plain_* attributes)."""
    n = secrets.randbelow(10**12)
    user = {
        "user_id": f"2088{n:012d}",
        "open_id": f"ali-open-{n}",
        "user_name": member.name,
        "cert_no": member.plain_id_number,
        "mobile": member.plain_phone or "13900000000",
        "is_certified": "T",
    }
    user.update(overrides)
    return user


def wechat_user(phone: str = "13900000001", **overrides: Any) -> dict[str, Any]:
    user = {"openid": "o-" + uuid.uuid4().hex[:20], "unionid": None, "phone": phone}
    user.update(overrides)
    return user
