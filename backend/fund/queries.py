"""Reads of the fund feature (never commit)."""

from __future__ import annotations

import datetime as dt
import functools
from typing import Any

from sqlalchemy import Row, Select, bindparam, select
from sqlalchemy.orm import Session

from backend.fund.models import Certificate, FundAccount, FundTransaction
from backend.members.models import Employer
from backend.pagination import KeysetQuery


def account_of(session: Session, member_id: int, *, lock: bool = False) -> FundAccount | None:
    """The member's account; ``lock`` takes its row lock (SELECT … FOR UPDATE), so concurrent
    money-moving requests of one member (withdrawals, loan applications) check and create one
    after the other."""
    stmt = select(FundAccount).where(FundAccount.member_id == member_id)
    if lock:
        stmt = stmt.with_for_update()
    return session.scalars(stmt).first()


@functools.cache
def _account_with_employer() -> Select[FundAccount, Employer]:
    return (
        select(FundAccount, Employer)
        .outerjoin(Employer, Employer.id == FundAccount.employer_id)
        .where(FundAccount.member_id == bindparam("member_id"))
    )


def account_with_employer(
    session: Session, member_id: int
) -> tuple[FundAccount, Employer | None] | None:
    """The member's account and its employer, in one statement (built once)."""
    row = session.execute(_account_with_employer(), {"member_id": member_id}).first()
    if row is None:
        return None
    return row[0], row[1]


@functools.cache
def _ledger() -> KeysetQuery:
    """A member's ledger in a date range, newest first, the columns 缴存支取明细 shows: one
    statement on ``ix_fund_transactions_member_date``."""
    t = FundTransaction
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


def certificate_by_serial(session: Session, serial_no: str) -> Certificate | None:
    return session.scalars(select(Certificate).where(Certificate.serial_no == serial_no)).first()


def live_certificates(
    session: Session, member_id: int, *, kind: str, subject_no: str | None
) -> list[Certificate]:
    """The member's certificates of ``kind`` about ``subject_no`` not yet voided."""
    subject = (
        Certificate.subject_no.is_(None)
        if subject_no is None
        else Certificate.subject_no == subject_no
    )
    return list(
        session.scalars(
            select(Certificate).where(
                Certificate.member_id == member_id,
                Certificate.kind == kind,
                subject,
                Certificate.voided_at.is_(None),
            )
        )
    )
