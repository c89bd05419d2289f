"""Reads behind the withdrawal rules (never commit)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from backend import clock
from backend.applications.models import OPEN_STATUSES, Application
from backend.fund.models import FundAccount
from backend.fund.rules import shift_months
from backend.withdrawals.rules import FEN, AccountFacts

# Applications that did not end in a refusal or withdrawal count against the monthly rent limit.
COUNTED_STATUSES = (*OPEN_STATUSES, "completed")


def month_bounds_utc(today: dt.date) -> tuple[dt.datetime, dt.datetime]:
    """The calendar month of ``today`` (business time, Asia/Shanghai) as a UTC interval."""
    first = today.replace(day=1)
    start = dt.datetime.combine(first, dt.time(), clock.SHANGHAI)
    end = dt.datetime.combine(shift_months(first, 1), dt.time(), clock.SHANGHAI)
    return start.astimezone(dt.UTC), end.astimezone(dt.UTC)


def facts(session: Session, acct: FundAccount) -> AccountFacts:
    """Everything the rules need beyond the account row, in one statement."""
    month_start, month_end = month_bounds_utc(clock.today())
    is_open = Application.status.in_(OPEN_STATUSES)
    is_rent_this_month = (
        (Application.reason == "rent")
        & Application.status.in_(COUNTED_STATUSES)
        & (Application.submitted_at >= month_start)
        & (Application.submitted_at < month_end)
    )
    row = session.execute(
        select(
            func.count().filter(is_open),
            # sum() keeps the Money column type, so both databases give Decimal yuan.
            func.coalesce(func.sum(Application.amount).filter(is_open), 0),
            func.count().filter(is_rent_this_month),
        ).where(Application.member_id == acct.member_id, Application.kind == "withdrawal")
    ).one()
    open_count, reserved, rent_count = row
    return AccountFacts(
        status=acct.status,
        balance=acct.balance,
        monthly_amount=acct.monthly_amount,
        reserved=Decimal(reserved or 0).quantize(FEN),
        open_applications=int(open_count),
        rent_applications_this_month=int(rent_count),
    )
