"""Reads behind the withdrawal rules (never commit)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from backend import clock
from backend.accounts.models import FundAccount, FundTransaction
from backend.applications.models import OPEN_STATUSES, Application
from backend.loans.models import LoanContract
from backend.members.models import Member
from backend.months import add_months
from backend.pii import PiiVault
from backend.withdrawals.models import RentArrangement
from backend.withdrawals.retirement import RetirementFacts, identity_from_id_number
from backend.withdrawals.rules import FEN, AccountFacts, LoanFacts

# Applications that did not end in a refusal or withdrawal count against the frequency limits.
COUNTED_STATUSES = (*OPEN_STATUSES, "completed")


def month_bounds_utc(today: dt.date) -> tuple[dt.datetime, dt.datetime]:
    """The calendar month of ``today`` (business time, Asia/Shanghai) as a UTC interval."""
    first = today.replace(day=1)
    start = dt.datetime.combine(first, dt.time(), clock.SHANGHAI)
    end = dt.datetime.combine(add_months(first, 1), dt.time(), clock.SHANGHAI)
    return start.astimezone(dt.UTC), end.astimezone(dt.UTC)


def _retirement(session: Session, pii: PiiVault, acct: FundAccount) -> RetirementFacts:
    """Birth date and sex from the member's ID number (decrypted for the rule, never shown) and
    the retirement the core system recorded."""
    id_number_enc = session.scalar(select(Member.id_number_enc).where(Member.id == acct.member_id))
    identity = identity_from_id_number(pii.decrypt(id_number_enc)) if id_number_enc else None
    return RetirementFacts(identity=identity, retired_on=acct.retired_on)


def _loans(session: Session, member_id: int) -> tuple[LoanFacts, ...]:
    rows = session.execute(
        select(LoanContract.contract_no, LoanContract.status, LoanContract.balance).where(
            LoanContract.member_id == member_id
        )
    ).all()
    return tuple(LoanFacts(no, status, balance) for no, status, balance in rows)


def _purchase_documents(session: Session, member_id: int) -> frozenset[str]:
    """Documents of the member's purchase withdrawals that were not refused or cancelled."""
    details = session.scalars(
        select(Application.details).where(
            Application.member_id == member_id,
            Application.kind == "withdrawal",
            Application.reason == "purchase",
            Application.status.in_(COUNTED_STATUSES),
        )
    ).all()
    return frozenset(str(d["document_no"]).strip() for d in details if d and d.get("document_no"))


def month_range(day: dt.date) -> tuple[dt.date, dt.date]:
    first = day.replace(day=1)
    return first, add_months(first, 1)


def rent_transfers_in_month(
    session: Session, member_id: int, day: dt.date, arrangement_id: int | None = None
) -> int:
    """Monthly rent withdrawals (under any, or one, arrangement) booked in ``day``'s month."""
    start, end = month_range(day)
    stmt = select(func.count()).where(
        FundTransaction.member_id == member_id,
        FundTransaction.rent_arrangement_id.is_not(None),
        FundTransaction.txn_date >= start,
        FundTransaction.txn_date < end,
    )
    if arrangement_id is not None:
        stmt = stmt.where(FundTransaction.rent_arrangement_id == arrangement_id)
    return int(session.scalar(stmt) or 0)


def active_arrangement(
    session: Session, member_id: int, *, lock: bool = False
) -> RentArrangement | None:
    stmt = select(RentArrangement).where(
        RentArrangement.member_id == member_id, RentArrangement.status == "active"
    )
    if lock:
        stmt = stmt.with_for_update()
    return session.scalars(stmt).first()


def facts(session: Session, pii: PiiVault, acct: FundAccount) -> AccountFacts:
    """Everything the rules need beyond the account row."""
    today = clock.today()
    month_start, month_end = month_bounds_utc(today)
    year_start = month_bounds_utc(today.replace(month=1))[0]
    counted = Application.status.in_(COUNTED_STATUSES)
    is_open = Application.status.in_(OPEN_STATUSES)
    is_rent_this_month = (
        (Application.reason == "rent")
        & counted
        & (Application.submitted_at >= month_start)
        & (Application.submitted_at < month_end)
    )
    is_loan_repayment_this_year = (
        (Application.reason == "loan_repayment")
        & counted
        & (Application.submitted_at >= year_start)
        & (Application.submitted_at < month_end)
    )
    row = session.execute(
        select(
            func.count().filter(is_open),
            # sum() keeps the Money column type, so both databases give Decimal yuan.
            func.coalesce(func.sum(Application.amount).filter(is_open), 0),
            func.count().filter(is_rent_this_month),
            func.count().filter(is_loan_repayment_this_year),
        ).where(Application.member_id == acct.member_id, Application.kind == "withdrawal")
    ).one()
    open_count, reserved, rent_count, loan_repayment_count = row
    return AccountFacts(
        status=acct.status,
        balance=acct.balance,
        monthly_amount=acct.monthly_amount,
        today=today,
        reserved=Decimal(reserved or 0).quantize(FEN),
        open_applications=int(open_count),
        # A monthly transfer under an arrangement is this month's rent withdrawal too.
        rent_applications_this_month=int(rent_count)
        + rent_transfers_in_month(session, acct.member_id, today),
        retirement=_retirement(session, pii, acct),
        paid_through=acct.paid_through,
        loans=_loans(session, acct.member_id),
        loan_repayment_withdrawals_this_year=int(loan_repayment_count),
        purchase_documents=_purchase_documents(session, acct.member_id),
        rent_arrangement_active=active_arrangement(session, acct.member_id) is not None,
    )
