"""Fixed-window counters in Redis for per-IP throttles, windowed by the application clock."""

from __future__ import annotations

import redis

from backend import clock
from backend.cache import Keys


class Window:
    """Counts events of one kind per subject (an IP) in windows of ``seconds``."""

    def __init__(self, r: redis.Redis, keys: Keys, name: str, limit: int, seconds: int) -> None:
        self.r = r
        self.k = keys
        self.name = name
        self.limit = limit
        self.seconds = seconds

    def _key(self, subject: str | None) -> str:
        bucket = int(clock.utcnow().timestamp()) // self.seconds
        return self.k("rl", self.name, subject or "-", bucket)

    def count(self, subject: str | None) -> int:
        return int(self.r.get(self._key(subject)) or 0)

    def exhausted(self, subject: str | None) -> bool:
        return self.count(subject) >= self.limit

    def hit(self, subject: str | None) -> int:
        key = self._key(subject)
        count = int(self.r.incr(key))
        if count == 1:
            self.r.expire(key, self.seconds * 2)
        return count

    def seconds_left(self) -> int:
        return self.seconds - int(clock.utcnow().timestamp()) % self.seconds
