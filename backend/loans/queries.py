"""Reads of the loans feature. Every read of a contract is scoped to its member; none commits."""

from __future__ import annotations

import datetime as dt
import functools
from typing import Any, NamedTuple

from sqlalchemy import Row, Select, String, bindparam, cast, exists, func, select
from sqlalchemy.orm import Session, selectinload

from backend.accounts.models import FundAccount, FundTransaction
from backend.applications.models import OPEN_STATUSES, Application, ApplicationNode
from backend.loans.models import LoanContract, LoanPrepayment, LoanRate, LoanRepayment
from backend.pagination import KeysetQuery, keyset_page

# Contracts that still bind the member (a new loan is refused while one exists).
OPEN_CONTRACT_STATUSES = ("approving", "signed", "repaying", "overdue")
DEPOSIT_KINDS = ("deposit", "supplementary")


@functools.cache
def _contracts() -> KeysetQuery:
    stmt = select(LoanContract).where(LoanContract.member_id == bindparam("member_id"))
    return KeysetQuery(stmt, [LoanContract.id], scalars=True)


def contracts_page(
    session: Session, member_id: int, *, cursor: str | None, limit: int
) -> tuple[list[LoanContract], str | None]:
    """The member's contracts, newest first."""
    return _contracts().page(session, {"member_id": member_id}, cursor=cursor, limit=limit)


@functools.cache
def _member_contract() -> Select[LoanContract]:
    return select(LoanContract).where(
        LoanContract.contract_no == bindparam("contract_no"),
        LoanContract.member_id == bindparam("member_id"),
    )


def member_contract(
    session: Session, member_id: int, contract_no: str, *, with_rates: bool = False
) -> LoanContract | None:
    """The contract if it is this member's; another member's contract is as good as absent."""
    stmt = _member_contract()
    if with_rates:
        stmt = stmt.options(selectinload(LoanContract.rates))
    params = {"contract_no": contract_no, "member_id": member_id}
    return session.scalars(stmt, params).first()


def _aggregates(model: Any, *columns: Any) -> Any:
    """``columns`` (aggregates of ``model``'s rows of the contract) as one text, in one pass over
    those rows. Separate subqueries would let PostgreSQL plan a lone ``MAX(id)`` as a backward
    walk of the whole primary key filtered by contract (tens of ms on a large table)."""
    parts = [func.coalesce(cast(column, String), "") for column in columns]
    joined: Any = parts[0]
    for part in parts[1:]:
        joined = joined.concat("|").concat(part)
    return select(joined).where(model.contract_id == LoanContract.id).scalar_subquery()


# What the repayment plan is computed from, beyond the contract row: enough aggregates of the
# repayments and rates that adding, removing or rewriting one of them changes at least one.
PLAN_INPUTS = (
    _aggregates(
        LoanRepayment,
        func.count(LoanRepayment.id),
        func.max(LoanRepayment.id),
        func.sum(LoanRepayment.principal + LoanRepayment.interest + LoanRepayment.balance_after),
        func.max(LoanRepayment.due_date),
    ),
    _aggregates(
        LoanRate,
        func.count(LoanRate.id),
        func.max(LoanRate.id),
        func.sum(LoanRate.annual_rate),
        func.max(LoanRate.effective_from),
    ),
)


# The contract's columns a versioned read gives: what the schedule engine reads of the row and what
# 贷款信息 shows of the contract itself. The version covers each of them.
VERSIONED_COLUMNS = (
    "id",
    "contract_no",
    "status",
    "amount",
    "term_months",
    "method",
    "first_home",
    "signed_on",
    "disbursed_on",
    "first_due_date",
    "repayment_day",
    "balance",
    "bank_name",
    "updated_at",
)


@functools.cache
def _member_contract_versioned() -> Select[*tuple[Any, ...]]:
    table = LoanContract.__table__
    return select(*(table.c[name] for name in VERSIONED_COLUMNS), *PLAN_INPUTS).where(
        table.c.contract_no == bindparam("contract_no"),
        table.c.member_id == bindparam("member_id"),
    )


def member_contract_versioned(
    session: Session, member_id: int, contract_no: str
) -> Row[Any] | None:
    """The member's contract, :data:`VERSIONED_COLUMNS` then what its plan is computed from besides
    the row (see :mod:`backend.loans.plans`), in one statement (built once). A Core row: a read
    that a cached answer serves builds no entity."""
    params = {"contract_no": contract_no, "member_id": member_id}
    return session.connection().execute(_member_contract_versioned(), params).first()


def contract_repayments(session: Session, contract_id: int) -> list[LoanRepayment]:
    """All repayments of a contract in booking order (period, then paid date)."""
    stmt = (
        select(LoanRepayment)
        .where(LoanRepayment.contract_id == contract_id)
        .order_by(LoanRepayment.period, LoanRepayment.paid_on, LoanRepayment.id)
    )
    return list(session.scalars(stmt))


def repayments_page(
    session: Session,
    contract_id: int,
    *,
    start: dt.date | None,
    end: dt.date | None,
    cursor: str | None,
    limit: int,
) -> tuple[list[LoanRepayment], str | None]:
    """还款明细 paid within [start, end], newest first, keyset on (paid_on, id)."""
    stmt = select(LoanRepayment).where(LoanRepayment.contract_id == contract_id)
    if start is not None:
        stmt = stmt.where(LoanRepayment.paid_on >= start)
    if end is not None:
        stmt = stmt.where(LoanRepayment.paid_on <= end)
    return keyset_page(
        session, stmt, [LoanRepayment.paid_on, LoanRepayment.id], cursor=cursor, limit=limit
    )


class ProgressRow(NamedTuple):
    """One row of :func:`contract_progress`: the contract's number and status, its application's
    number and one of its nodes (``None``s when it did not come through an application here)."""

    contract_no: str
    status: str
    application_no: str | None
    seq: int | None
    name: str | None
    state: str | None
    opinion: str | None
    handler: str | None
    acted_at: dt.datetime | None


@functools.cache
def _contract_progress() -> Select[Any]:
    c = LoanContract.__table__.c
    a = Application.__table__.c
    n = ApplicationNode.__table__.c
    return (
        select(
            c.contract_no,
            c.status,
            a.application_no,
            n.seq,
            n.name,
            n.state,
            n.opinion,
            n.handler,
            n.acted_at,
        )
        .select_from(
            LoanContract.__table__.outerjoin(
                Application.__table__, a.id == c.application_id
            ).outerjoin(ApplicationNode.__table__, n.application_id == a.id)
        )
        .where(c.contract_no == bindparam("contract_no"), c.member_id == bindparam("member_id"))
        .order_by(n.seq)
    )


def contract_progress(session: Session, member_id: int, contract_no: str) -> list[ProgressRow]:
    """The contract (if it is this member's), its application and the application's nodes in
    order, in one statement of table columns: no rows when the contract is not the member's."""
    params = {"contract_no": contract_no, "member_id": member_id}
    return [ProgressRow(*row) for row in session.execute(_contract_progress(), params)]


def member_account(session: Session, member_id: int) -> FundAccount | None:
    return session.scalars(select(FundAccount).where(FundAccount.member_id == member_id)).first()


def deposit_months_since(session: Session, member_id: int, since: str) -> set[str]:
    """Months (``YYYY-MM``) from ``since`` on that a deposit or back-payment was credited for."""
    stmt = (
        select(FundTransaction.period_month)
        .where(
            FundTransaction.member_id == member_id,
            FundTransaction.kind.in_(DEPOSIT_KINDS),
            FundTransaction.amount > 0,
            FundTransaction.period_month >= since,
        )
        .distinct()
    )
    return {month for month in session.scalars(stmt) if month}


class OpenLoanBusiness(NamedTuple):
    contract: bool
    application: bool


def open_loan_business(session: Session, member_id: int) -> OpenLoanBusiness:
    """Whether the member has an open contract or an open loan application (one statement)."""
    open_contract = exists().where(
        LoanContract.member_id == member_id,
        LoanContract.status.in_(OPEN_CONTRACT_STATUSES),
    )
    open_application = exists().where(
        Application.member_id == member_id,
        Application.kind == "loan",
        Application.status.in_(OPEN_STATUSES),
    )
    row = session.execute(
        select(open_contract.label("contract"), open_application.label("application"))
    ).one()
    return OpenLoanBusiness(bool(row.contract), bool(row.application))


def contract_prepayments(session: Session, contract_id: int) -> list[LoanPrepayment]:
    """A contract's prepayment bookings, newest first."""
    stmt = (
        select(LoanPrepayment)
        .where(LoanPrepayment.contract_id == contract_id)
        .order_by(LoanPrepayment.id.desc())
    )
    return list(session.scalars(stmt))


def pending_prepayment(session: Session, contract_id: int) -> LoanPrepayment | None:
    stmt = select(LoanPrepayment).where(
        LoanPrepayment.contract_id == contract_id, LoanPrepayment.status == "pending"
    )
    return session.scalars(stmt).first()


def prepayment_by_no(
    session: Session, contract_id: int, prepayment_no: str, *, lock: bool = False
) -> LoanPrepayment | None:
    stmt = select(LoanPrepayment).where(
        LoanPrepayment.contract_id == contract_id, LoanPrepayment.prepayment_no == prepayment_no
    )
    if lock:
        stmt = stmt.with_for_update()
    return session.scalars(stmt).first()


def pending_prepayments(session: Session) -> list[tuple[LoanPrepayment, LoanContract]]:
    """Every pending prepayment with its contract, oldest first."""
    stmt = (
        select(LoanPrepayment, LoanContract)
        .join(LoanContract, LoanContract.id == LoanPrepayment.contract_id)
        .where(LoanPrepayment.status == "pending")
        .order_by(LoanPrepayment.id)
    )
    return [(row[0], row[1]) for row in session.execute(stmt)]
