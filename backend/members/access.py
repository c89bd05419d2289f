"""A member's online access (``Member.online_access``): the one refusal when the centre has
switched it off, shared by the bearer check (``backend.auth``), login and the channel logins."""

from __future__ import annotations

from backend.errors import Forbidden

ACCESS_DISABLED = "您的网上业务已停用，请联系公积金中心"


def access_disabled(status_code: int = 403) -> Forbidden:
    return Forbidden(ACCESS_DISABLED, error_code="auth.access_disabled", status_code=status_code)
