"""Reads of the fund feature (never commit)."""

from __future__ import annotations

import datetime as dt
import functools
from typing import Any

from sqlalchemy import Row, bindparam, select
from sqlalchemy.orm import Session

from backend.accounts.models import FundTransaction
from backend.pagination import KeysetQuery


@functools.cache
def _ledger() -> KeysetQuery:
    """A member's ledger in a date range, newest first, the columns 缴存支取明细 shows: one
    statement on ``ix_fund_transactions_member_date``. Table columns, not mapped attributes:
    the rows are plain, no ORM work per request (:class:`KeysetQuery`)."""
    t = FundTransaction.__table__.c
    stmt = select(
        t.id, t.txn_date, t.kind, t.amount, t.balance_after, t.period_month, t.summary
    ).where(
        t.member_id == bindparam("member_id"),
        t.txn_date >= bindparam("start"),
        t.txn_date <= bindparam("end"),
    )
    return KeysetQuery(stmt, [t.txn_date, t.id])


def transactions_page(
    session: Session,
    member_id: int,
    start: dt.date,
    end: dt.date,
    *,
    cursor: str | None,
    limit: int,
) -> tuple[list[Row[Any]], str | None]:
    """One page of the member's ledger in ``[start, end]``, newest first (rows of the columns
    the ledger shows)."""
    params = {"member_id": member_id, "start": start, "end": end}
    return _ledger().page(session, params, cursor=cursor, limit=limit)
