"""Computed repayment plans, kept in Redis until something they are computed from changes.

A plan is keyed by its contract and a *version*: a digest of everything the schedule engine reads
(the contract's row as read, its repayments and its rates), taken by the same select that finds
the contract (:func:`backend.loans.queries.member_contract_versioned`). A repayment, a rate
change or a prepayment booked through the internal API changes the version, so the next read
computes the plan afresh; nothing has to remember to invalidate, and a plan computed from rows
that changed meanwhile is filed under the old version, where nobody reads it again. Entries that
are no longer read expire after ``GJJ_PLAN_CACHE_TTL``.

Each entry holds two fields: ``info`` (what 贷款信息 shows, compact JSON) and ``plan`` (the
还款计划 answer, the exact JSON body).

贷款信息's answer is kept beside it, one per version and day (its next instalment and overdue
figures are a day's): the version covers every column of the contract that the answer shows, so a
change of the row is seen at the next read as well. An answer is read only on its day; it expires
after a day, or after ``GJJ_PLAN_CACHE_TTL`` if that is shorter.
"""

from __future__ import annotations

import datetime as dt

import redis

from backend.cache import Keys

FIELDS = ("info", "plan")
DAY = 86400  # seconds


def _text(value: bytes | str | None) -> str | None:
    return value.decode() if isinstance(value, bytes) else value


class PlanCache:
    def __init__(self, r: redis.Redis, keys: Keys, ttl: int) -> None:
        self.r = r
        self.k = keys
        self.ttl = ttl

    @property
    def horizon_days(self) -> int:
        """Days an entry can still be read after it was put (its TTL, rounded up, plus one)."""
        return -(-self.ttl // DAY) + 1

    def _key(self, contract_id: int, version: str) -> str:
        return self.k("loan", "plan", contract_id, version)

    def get(self, contract_id: int, version: str, field: str) -> str | None:
        return _text(self.r.hget(self._key(contract_id, version), field))

    def put(self, contract_id: int, version: str, entry: dict[str, str]) -> None:
        key = self._key(contract_id, version)
        pipe = self.r.pipeline(transaction=False)
        pipe.hset(key, mapping=entry)  # type: ignore[arg-type]  # the stub: invariant key union
        pipe.expire(key, self.ttl)
        pipe.execute()

    def _answer_key(self, contract_id: int, version: str, day: dt.date) -> str:
        return self.k("loan", "answer", contract_id, version, day.isoformat())

    def get_answer(self, contract_id: int, version: str, day: dt.date) -> str | None:
        """贷款信息's JSON body as answered on ``day``, if it was."""
        return _text(self.r.get(self._answer_key(contract_id, version, day)))

    def put_answer(self, contract_id: int, version: str, day: dt.date, body: str) -> None:
        self.r.set(self._answer_key(contract_id, version, day), body, ex=min(self.ttl, DAY))
