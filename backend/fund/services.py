"""Use cases of the fund feature: the ledger by date range (the account header is
``backend.accounts.queries.account_summary``, certificates are ``backend.certificates``)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import Row
from sqlalchemy.orm import Session

from backend import clock
from backend.errors import ValidationFailed
from backend.fund import queries
from backend.fund.rules import RangeRefused, resolve_range


def transactions(
    session: Session,
    member_id: int,
    start: dt.date | None,
    end: dt.date | None,
    *,
    cursor: str | None,
    limit: int,
) -> tuple[list[Row[Any]], str | None, dt.date, dt.date]:
    """A page of 缴存支取明细 in the (defaulted, checked) date range; returns the range used."""
    try:
        start, end = resolve_range(start, end, clock.today())
    except RangeRefused as exc:
        raise ValidationFailed(
            exc.message, error_code=exc.error_code, errors={"start": [exc.message]}
        ) from exc
    rows, next_cursor = queries.transactions_page(
        session, member_id, start, end, cursor=cursor, limit=limit
    )
    return rows, next_cursor, start, end
