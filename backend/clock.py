"""The one clock. Tests control time by patching :func:`utcnow` (the only mock.patch we allow)."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

SHANGHAI = ZoneInfo("Asia/Shanghai")


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def now_local() -> dt.datetime:
    """Current time in Asia/Shanghai, the centre's business time zone."""
    return utcnow().astimezone(SHANGHAI)


def today() -> dt.date:
    """The business date in Asia/Shanghai."""
    return now_local().date()


def to_local(value: dt.datetime) -> dt.datetime:
    return value.astimezone(SHANGHAI)
