"""Reads of the fund account (never commit)."""

from __future__ import annotations

import functools

from sqlalchemy import Select, bindparam, select
from sqlalchemy.orm import Session

from backend.accounts.models import FundAccount
from backend.errors import NotFound
from backend.members.models import Employer


def account_missing() -> NotFound:
    return NotFound(
        "未查询到您的公积金个人账户，请联系公积金中心", error_code="fund.account_missing"
    )


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


def account_summary(session: Session, member_id: int) -> tuple[FundAccount, Employer | None]:
    """The member's account and employer, or ``fund.account_missing`` (404)."""
    found = account_with_employer(session, member_id)
    if found is None:
        raise account_missing()
    return found
