"""The one rate-limit primitive: counters in Redis, checked and counted by ONE Lua script.

A :class:`Limit` allows ``limit`` events per subject in a window that opens at the first event
and lasts ``seconds`` (or, with ``seconds=0``, until the next midnight of the Beijing calendar
day). :meth:`Limiter.take` checks several limits and counts an event against all of them in a
single atomic script, so no number of parallel requests gets past a limit, and a refusal by one
limit counts against none. Window ends are decided by :func:`backend.clock.utcnow` (tests control
it); the Redis TTL only collects garbage. Every refusal carries ``Retry-After``.

Callers that count only failures take a slot before the attempt and :meth:`Limiter.give_back` it
when the attempt succeeds: the slot is held while the attempt runs, so parallel attempts cannot
all see "one left" and all run.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import redis

from backend import clock
from backend.cache import Keys
from backend.errors import AppError, TooManyRequests

GC_SLACK = 60  # seconds a counter outlives its window in Redis (garbage collection only)

# KEYS: the counters. ARGV[1]: now (ms); per key i: limit, end of a window opened now (ms), TTL.
# Refused: {i, window end}. Counted: {0, count_1, end_1, count_2, end_2, ...}.
_TAKE = """
local now = tonumber(ARGV[1])
local counts, ends = {}, {}
for i = 1, #KEYS do
  local limit, fresh = tonumber(ARGV[3 * i - 1]), tonumber(ARGV[3 * i])
  local v = redis.call('HMGET', KEYS[i], 'n', 'e')
  local n, e = tonumber(v[1]), tonumber(v[2])
  if n == nil or e == nil or now >= e then n, e = 0, fresh end
  if n >= limit then return {i, e} end
  counts[i], ends[i] = n + 1, e
end
local out = {0}
for i = 1, #KEYS do
  redis.call('HSET', KEYS[i], 'n', counts[i], 'e', ends[i])
  redis.call('EXPIRE', KEYS[i], tonumber(ARGV[3 * i + 1]))
  out[#out + 1] = counts[i]
  out[#out + 1] = ends[i]
end
return out
"""

# Gives a slot back, but only to the window it was taken from (ARGV[i] is that window's end).
_GIVE_BACK = """
for i = 1, #KEYS do
  local v = redis.call('HMGET', KEYS[i], 'n', 'e')
  if tonumber(v[2]) == tonumber(ARGV[i]) and tonumber(v[1] or 0) > 0 then
    redis.call('HINCRBY', KEYS[i], 'n', -1)
  end
end
return 0
"""


def _ms(moment: dt.datetime) -> int:
    return int(moment.timestamp() * 1000)


def _from_ms(value: Any) -> dt.datetime:
    return dt.datetime.fromtimestamp(int(value) / 1000, dt.UTC)


def next_beijing_midnight(now: dt.datetime) -> dt.datetime:
    """Start of the next calendar day in Asia/Shanghai, as an aware UTC datetime."""
    tomorrow = clock.to_local(now).date() + dt.timedelta(days=1)
    return dt.datetime.combine(tomorrow, dt.time(), clock.SHANGHAI).astimezone(dt.UTC)


@dataclass(frozen=True)
class Limit:
    """``limit`` events per subject per window. ``message`` may use ``{seconds}``, ``{minutes}``
    and ``{until}`` (HH:MM, Beijing time); ``refuse`` builds another error than 429 (the limiter
    still adds ``Retry-After``)."""

    name: str
    limit: int
    seconds: int = 0  # 0: the Beijing calendar day
    message: str = "操作过于频繁，请稍后再试"
    error_code: str = "request.too_many"
    refuse: Callable[[dt.datetime], AppError] | None = None

    def window_end(self, now: dt.datetime) -> dt.datetime:
        if self.seconds:
            return now + dt.timedelta(seconds=self.seconds)
        return next_beijing_midnight(now)

    def refusal(self, until: dt.datetime) -> AppError:
        seconds = retry_after(until)
        if self.refuse is not None:
            error = self.refuse(until)
        else:
            text = self.message.format(
                seconds=seconds,
                minutes=(seconds + 59) // 60,
                until=f"{clock.to_local(until):%H:%M}",
            )
            error = TooManyRequests(text, error_code=self.error_code, retry_after=seconds)
        error.headers.setdefault("Retry-After", str(seconds))
        return error


def retry_after(until: dt.datetime) -> int:
    """Whole seconds from now until ``until``, at least 1 (the value of ``Retry-After``)."""
    return max(int((until - clock.utcnow()).total_seconds() + 0.999), 1)


@dataclass(frozen=True)
class Slot:
    """One event counted against ``limit``: the count it made and when its window ends."""

    limit: Limit
    key: str
    count: int
    window_end: dt.datetime

    @property
    def last(self) -> bool:
        """This event used the last one the window allows."""
        return self.count >= self.limit.limit


class Limiter:
    def __init__(self, r: redis.Redis, keys: Keys) -> None:
        self.r = r
        self.k = keys

    def key(self, limit: Limit, subject: Any) -> str:
        return self.k("rl", limit.name, "-" if subject in (None, "") else subject)

    def take(self, *checks: tuple[Limit, Any]) -> list[Slot]:
        """Count one event against every ``(limit, subject)``, or raise the first limit's refusal
        (in the order given) without counting anything."""
        now = clock.utcnow()
        keys = [self.key(limit, subject) for limit, subject in checks]
        args: list[int] = [_ms(now)]
        for limit, _ in checks:
            end = limit.window_end(now)
            ttl = int((end - now).total_seconds()) + GC_SLACK
            args += [limit.limit, _ms(end), ttl]
        out = self.r.eval(_TAKE, len(keys), *keys, *args)
        index = int(out[0])
        if index:
            raise checks[index - 1][0].refusal(_from_ms(out[1]))
        return [
            Slot(limit, key, int(out[1 + 2 * i]), _from_ms(out[2 + 2 * i]))
            for i, ((limit, _), key) in enumerate(zip(checks, keys, strict=True))
        ]

    def give_back(self, slots: Sequence[Slot]) -> None:
        """Uncount events that turned out not to count (an attempt that succeeded)."""
        if slots:
            self.r.eval(
                _GIVE_BACK, len(slots), *[s.key for s in slots], *[_ms(s.window_end) for s in slots]
            )

    def clear(self, *checks: tuple[Limit, Any]) -> None:
        """Forget the counts of these subjects (a success that ends a run of failures)."""
        if checks:
            self.r.delete(*[self.key(limit, subject) for limit, subject in checks])
