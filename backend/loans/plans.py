"""Computed repayment plans, kept in Redis until something they are computed from changes.

A plan is keyed by its contract and a *version*: a digest of everything the schedule engine reads
(the contract's terms and status, its repayments and its rates), taken by the same select that
finds the contract (:func:`backend.loans.queries.member_contract_versioned`). A repayment, a rate
change or a prepayment booked through the internal API changes the version, so the next read
computes the plan afresh; nothing has to remember to invalidate, and a plan computed from rows
that changed meanwhile is filed under the old version, where nobody reads it again. Entries that
are no longer read expire after ``GJJ_PLAN_CACHE_TTL``.

Each entry holds two fields: ``info`` (what 贷款信息 shows, compact JSON) and ``plan`` (the
还款计划 answer, the exact JSON body).
"""

from __future__ import annotations

import redis

from backend.cache import Keys

FIELDS = ("info", "plan")


class PlanCache:
    def __init__(self, r: redis.Redis, keys: Keys, ttl: int) -> None:
        self.r = r
        self.k = keys
        self.ttl = ttl

    @property
    def horizon_days(self) -> int:
        """Days an entry can still be read after it was put (its TTL, rounded up, plus one)."""
        return -(-self.ttl // 86400) + 1

    def _key(self, contract_id: int, version: str) -> str:
        return self.k("loan", "plan", contract_id, version)

    def get(self, contract_id: int, version: str, field: str) -> str | None:
        value = self.r.hget(self._key(contract_id, version), field)
        return value.decode() if isinstance(value, bytes) else value

    def put(self, contract_id: int, version: str, entry: dict[str, str]) -> None:
        key = self._key(contract_id, version)
        pipe = self.r.pipeline(transaction=False)
        pipe.hset(key, mapping=entry)  # type: ignore[arg-type]  # the stub: invariant key union
        pipe.expire(key, self.ttl)
        pipe.execute()
