"""The one clock. Tests control time by patching :data:`_now` (the only mock.patch we allow);
every module may import :func:`utcnow` by name, since it reads ``_now`` on each call."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from zoneinfo import ZoneInfo

SHANGHAI = ZoneInfo("Asia/Shanghai")


def _system_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


_now: Callable[[], dt.datetime] = _system_now


def utcnow() -> dt.datetime:
    return _now()


def now_local() -> dt.datetime:
    """Current time in Asia/Shanghai, the centre's business time zone."""
    return utcnow().astimezone(SHANGHAI)


def today() -> dt.date:
    """The business date in Asia/Shanghai."""
    return now_local().date()


def to_local(value: dt.datetime) -> dt.datetime:
    return value.astimezone(SHANGHAI)


@contextmanager
def fixed_at(moment: dt.datetime) -> Iterator[None]:
    """Run a block at one fixed moment: the seed runs live use cases "as of" its date, so the
    same seed gives the same rows. Single-threaded callers only (it swaps the one clock)."""
    global _now
    previous = _now
    _now = lambda: moment  # noqa: E731
    try:
        yield
    finally:
        _now = previous
