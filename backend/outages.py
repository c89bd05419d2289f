"""Outages of the database or Redis: a 503 envelope with ``Retry-After`` instead of a 500, and one
log line per change of state (down, then up again) per dependency and process, not a traceback
per request (a 25 s Redis outage once wrote 9.4 MB of them).

The clients reconnect by themselves; :class:`Dependencies` only remembers which one is down so
the transitions are told once. While one is down, requests re-check it (at most once a second)
and ``/readyz`` checks both, so the recovery is noticed and logged without a restart.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

import redis
from sqlalchemy import exc as sa_exc
from sqlalchemy import text

from backend.errors import ServiceUnavailable
from backend.runtime import Core

logger = logging.getLogger(__name__)

RETRY_AFTER_SECONDS = 5
RECHECK_INTERVAL = 1.0  # seconds between re-checks of a dependency that is down

# SQLSTATE classes that mean the server is unreachable or refusing work: connection exception,
# insufficient resources (too many connections), operator intervention (shutting down). Any other
# error the server answered with (a deadlock, a serialization failure, a lock timeout) is not an
# outage. Errors without a SQLSTATE never reached a server (refused, unreachable, SQLite's file).
OUTAGE_SQLSTATE_CLASSES = frozenset({"08", "53", "57"})

DATABASE = "database"
REDIS = "redis"


def unavailable(error_code: str = "service.unavailable", **extra: Any) -> ServiceUnavailable:
    """The 503 envelope of an outage, with ``Retry-After``."""
    return ServiceUnavailable(
        "服务暂不可用，请稍后再试",
        error_code=error_code,
        headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
        **extra,
    )


def dependency_of(error: BaseException) -> str | None:
    """Which dependency ``error`` says is unreachable, or None when it is not an outage."""
    if isinstance(error, redis.exceptions.ConnectionError | redis.exceptions.TimeoutError):
        return REDIS
    if isinstance(error, sa_exc.TimeoutError):  # no pooled connection came free
        return DATABASE
    if isinstance(error, sa_exc.DBAPIError):
        if error.connection_invalidated:
            return DATABASE
        if isinstance(error, sa_exc.OperationalError | sa_exc.InterfaceError):
            sqlstate = getattr(error.orig, "sqlstate", None)
            if sqlstate and sqlstate[:2] not in OUTAGE_SQLSTATE_CLASSES:
                return None
            return DATABASE
    return None


class Dependencies:
    """The state (up or down) of the database and Redis as this process last saw them."""

    def __init__(self, rt: Core, clock: Callable[[], float] = time.monotonic) -> None:
        self._checks: dict[str, Callable[[], object]] = {
            DATABASE: lambda: _ping_database(rt),
            REDIS: lambda: rt.redis.ping(),  # looked up each time: tests swap the client
        }
        self._down: dict[str, float] = {}  # dependency → when it was last checked
        self._lock = threading.Lock()
        self._clock = clock

    @property
    def down(self) -> frozenset[str]:
        return frozenset(self._down)

    def mark_down(self, name: str, error: BaseException) -> None:
        with self._lock:
            was_down = name in self._down
            self._down[name] = self._clock()
        if not was_down:
            logger.error(
                "dependency down",
                extra={"dependency": name, "error": type(error).__name__, "state": "down"},
            )

    def mark_up(self, name: str) -> None:
        with self._lock:
            was_down = self._down.pop(name, None) is not None
        if was_down:
            logger.warning("dependency up", extra={"dependency": name, "state": "up"})

    def check(self, name: str) -> bool:
        """Ping ``name`` now; record (and log) a change of state."""
        try:
            self._checks[name]()
        except Exception as error:  # any failure to answer means down
            self.mark_down(name, error)
            return False
        self.mark_up(name)
        return True

    def check_all(self) -> dict[str, bool]:
        return {name: self.check(name) for name in self._checks}

    def recheck_down(self) -> None:
        """Re-check the dependencies that are down, each at most once a ``RECHECK_INTERVAL``."""
        if not self._down:
            return
        now = self._clock()
        for name, last in list(self._down.items()):
            if now - last >= RECHECK_INTERVAL:
                self.check(name)


def _ping_database(rt: Core) -> None:
    with rt.engine.connect() as conn:
        conn.execute(text("SELECT 1"))
