"""Use cases of the fund feature: the ledger by date range (the account header is
``backend.accounts.queries.account_summary``, certificates are ``backend.certificates``)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Row
from sqlalchemy.orm import Session

from backend import clock
from backend.accounts.models import FundAccount
from backend.accounts.queries import account_summary
from backend.errors import ValidationFailed
from backend.fund import queries
from backend.fund.rules import RangeRefused, resolve_range
from backend.members.models import Employer


@dataclass(frozen=True)
class AccountHeader:
    """缴存支取信息: the account and its employer (FundAccountSchema dumps it)."""

    account: FundAccount
    employer: Employer | None


def account_header(session: Session, member_id: int) -> AccountHeader:
    return AccountHeader(*account_summary(session, member_id))


@dataclass(frozen=True)
class TransactionPage:
    """A page of 缴存支取明细 and the range it was read in (defaults applied)."""

    start: dt.date
    end: dt.date
    items: list[Row[Any]]  # the ledger columns TransactionSchema dumps
    next_cursor: str | None


def transactions(
    session: Session,
    member_id: int,
    start: dt.date | None,
    end: dt.date | None,
    *,
    cursor: str | None,
    limit: int,
) -> TransactionPage:
    """A page of 缴存支取明细 in the (defaulted, checked) date range, with the range used."""
    try:
        start, end = resolve_range(start, end, clock.today())
    except RangeRefused as exc:
        raise ValidationFailed(
            exc.message, error_code=exc.error_code, errors={"start": [exc.message]}
        ) from exc
    rows, next_cursor = queries.transactions_page(
        session, member_id, start, end, cursor=cursor, limit=limit
    )
    return TransactionPage(start, end, rows, next_cursor)
