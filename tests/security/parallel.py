"""Helpers of the security tests (no tests here): firing calls in parallel threads, counting
the password work a request really did, reading the SMS outbox."""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from argon2 import PasswordHasher

from backend.errors import AppError

REDIS_URL = os.environ.get("GJJ_REDIS_URL", "")

real_redis = pytest.mark.skipif(
    not REDIS_URL,
    reason="parallel limits need a real Redis (GJJ_REDIS_URL); CI runs them with PostgreSQL",
)


def fire(n: int, call: Callable[[int], Any]) -> list[Any]:
    """Run ``call(0..n-1)`` in ``n`` threads released together; each result is the return value
    or the error code of the ``AppError`` raised."""
    start = threading.Barrier(n)

    def one(i: int) -> Any:
        start.wait()
        try:
            return call(i)
        except AppError as error:
            return error.error_code

    with ThreadPoolExecutor(max_workers=n) as pool:
        return list(pool.map(one, range(n)))


class CountingHasher(PasswordHasher):
    """argon2 at the test cost, counting the verifications it ran (thread-safe)."""

    def __init__(self) -> None:
        super().__init__(time_cost=1, memory_cost=8, parallelism=1)
        self.verified = 0
        self.hashed = 0
        self._lock = threading.Lock()

    def hash(self, password: str | bytes, *, salt: bytes | None = None) -> str:
        with self._lock:
            self.hashed += 1
        return super().hash(password, salt=salt)

    def verify(self, hash: str | bytes, password: str | bytes) -> bool:  # noqa: A002
        with self._lock:
            self.verified += 1
        return super().verify(hash, password)


def outbox(runtime: Any, phone: str, scene: str) -> list[dict[str, Any]]:
    """The SMS the file sender wrote to ``phone`` in ``scene``, oldest first."""
    path = Path(runtime.settings.sms_outbox)
    lines = path.read_text().splitlines() if path.exists() else []
    sent = [json.loads(line) for line in lines]
    return [s for s in sent if s["phone"] == phone and s["scene"] == scene]
