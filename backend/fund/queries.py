"""Reads of the fund feature (never commit)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.accounts.models import FundTransaction
from backend.pagination import keyset_page


def transactions_page(
    session: Session,
    member_id: int,
    start: dt.date,
    end: dt.date,
    *,
    cursor: str | None,
    limit: int,
) -> tuple[list[FundTransaction], str | None]:
    """One page of the member's ledger in ``[start, end]``, newest first: one statement on
    ``ix_fund_transactions_member_date``."""
    stmt = select(FundTransaction).where(
        FundTransaction.member_id == member_id,
        FundTransaction.txn_date >= start,
        FundTransaction.txn_date <= end,
    )
    return keyset_page(
        session,
        stmt,
        [FundTransaction.txn_date, FundTransaction.id],
        cursor=cursor,
        limit=limit,
    )
