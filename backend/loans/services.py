"""What a member sees of their loans: 借款合同, 贷款信息, 进度, 还款明细 and 还款计划.

No Flask here. Each view returns domain objects (contracts, repayments, the frozen dataclasses
below) that the loans schemas dump; 还款计划 and 贷款信息 are the exceptions: their bodies are
formatted once and cached (:mod:`backend.loans.plans`), 贷款信息's for the day it answers, formatted
by the function the HTTP layer passes in.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import Row
from sqlalchemy.orm import Session

from backend import clock
from backend.applications.services import LOAN_NODES
from backend.errors import ValidationFailed
from backend.loans import amortisation, queries, rules
from backend.loans.contracts import (
    LoanNotFound,
    LoanState,
    disbursed,
    first_due_date,
    loan_state,
    member_contract,
    not_disbursed_notice,
    percent,
)
from backend.loans.models import LoanContract, LoanRepayment
from backend.loans.plans import PlanCache
from backend.pagination import Page

NO_LOAN_NOTICE = "您未办理贷款业务，如需办理贷款业务，请回到主页面进行贷款申请"


def list_loans(
    session: Session, member_id: int, *, cursor: str | None, limit: int
) -> Page[LoanContract]:
    contracts, next_cursor = queries.contracts_page(session, member_id, cursor=cursor, limit=limit)
    notice = NO_LOAN_NOTICE if not contracts and not cursor else None
    return Page(contracts, next_cursor, notice)


# --- 贷款信息 ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Overdue:
    """The instalments due before today and still unpaid."""

    periods: int
    amount: Decimal
    penalty: Decimal  # 罚息 to date
    days: int  # the oldest one's


def overdue(late: Sequence[amortisation.Period], today: dt.date) -> Overdue | None:
    if not late:
        return None
    return Overdue(
        periods=len(late),
        amount=sum((p.payment for p in late), Decimal("0.00")),
        penalty=sum(
            (
                rules.overdue_penalty(
                    p.payment, rules.days_overdue(p.due_date, today), p.annual_rate
                )
                for p in late
            ),
            Decimal("0.00"),
        ),
        days=rules.days_overdue(late[0].due_date, today),
    )


@dataclass(frozen=True)
class LoanFigures:
    """贷款信息's figures of a disbursed contract, as of one day."""

    annual_rate: Decimal
    monthly_payment: Decimal | None
    remaining_balance: Decimal
    paid_periods: int
    remaining_periods: int
    end_date: dt.date
    next_due: amortisation.Period | None
    overdue: Overdue | None


@dataclass(frozen=True)
class Term:
    years: int
    months: int


@dataclass(frozen=True)
class LoanInfo:
    """贷款信息: the contract (a row of its columns, see :func:`versioned_contract`), and its
    figures once disbursed (before: the ``notice`` instead)."""

    contract: Row[Any]
    figures: LoanFigures | None
    notice: str | None

    def __getattr__(self, name: str) -> Any:
        # The contract's own fields (contract_no, status, amount …), as LoanSummarySchema reads them.
        if name == "contract":  # not set yet (copy, pickle): no recursion
            raise AttributeError(name)
        return getattr(self.contract, name)

    @property
    def term(self) -> Term:
        return Term(*amortisation.split_term(self.contract.term_months))


def loan_info(
    session: Session,
    plans: PlanCache,
    member_id: int,
    contract_no: str,
    today: dt.date,
    render: Callable[[LoanInfo], str],
) -> str:
    """贷款信息 as its JSON body, ``render`` formatting a :class:`LoanInfo` (the HTTP layer's schema).
    An undisbursed contract answers with the manual's notice and no figures. The figures come from
    the contract's computed plan; the answer is kept for the day (:mod:`backend.loans.plans`)."""
    contract, version = versioned_contract(session, member_id, contract_no)
    if not disbursed(contract):
        return render(LoanInfo(contract, None, not_disbursed_notice(contract)))
    body = plans.get_answer(contract.id, version, today)
    if body is None:
        figures = json.loads(cached_plan(session, plans, contract.id, version, "info"))
        body = render(LoanInfo(contract, loan_figures(figures, today), None))
        plans.put_answer(contract.id, version, today, body)
    return body


def loan_figures(figures: dict[str, Any], today: dt.date) -> LoanFigures:
    """贷款信息's figures on ``today``, from a plan entry's ``info`` (see :func:`plan_entry`)."""
    upcoming = [_period_of(row) for row in figures["upcoming"]]
    following = amortisation.next_instalment(upcoming, today)
    current_rate = following.annual_rate if following else Decimal(figures["last_rate"])
    return LoanFigures(
        annual_rate=percent(current_rate),
        monthly_payment=following.payment if following else None,
        remaining_balance=Decimal(figures["remaining_balance"]),
        paid_periods=figures["paid_periods"],
        remaining_periods=figures["remaining_periods"],
        end_date=dt.date.fromisoformat(figures["end_date"]),
        next_due=following,
        overdue=overdue([p for p in upcoming if p.due_date < today], today),
    )


# --- 贷款进度 ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Node:
    """An approval node: the application's, or read off the contract status when the loan did
    not come through an application here."""

    seq: int
    name: str
    state: str
    acted_at: dt.datetime | None = None
    opinion: str | None = None
    handler: str | None = None


@dataclass(frozen=True)
class ContractHead:
    contract_no: str
    status: str


@dataclass(frozen=True)
class LoanProgress:
    contract: ContractHead
    application_no: str | None
    nodes: Sequence[Node]


def _synthesised_nodes(status: str) -> list[Node]:
    """Nodes read off the contract status when the loan did not come through an application here."""
    done_count = {"approving": 1, "signed": 3}.get(status, len(LOAN_NODES))
    return [
        Node(
            seq, name, "done" if seq < done_count else "current" if seq == done_count else "pending"
        )
        for seq, name in enumerate(LOAN_NODES)
    ]


def loan_progress(session: Session, member_id: int, contract_no: str) -> LoanProgress:
    """贷款进度: the application's nodes in order (done / current / pending), one statement."""
    rows = queries.contract_progress(session, member_id, contract_no)
    if not rows:
        raise LoanNotFound()
    first = rows[0]
    contract = ContractHead(first.contract_no, first.status)
    if first.application_no is None:
        return LoanProgress(contract, None, _synthesised_nodes(first.status))
    nodes = [
        Node(row.seq, row.name, row.state, row.acted_at, row.opinion, row.handler)
        for row in rows
        if row.seq is not None and row.name is not None and row.state is not None
    ]
    return LoanProgress(contract, first.application_no, nodes)


# --- 还款明细 ----------------------------------------------------------------------------------------


def list_repayments(
    session: Session,
    member_id: int,
    contract_no: str,
    *,
    start: dt.date | None,
    end: dt.date | None,
    cursor: str | None,
    limit: int,
) -> Page[LoanRepayment]:
    """还款明细: what was actually paid, newest first."""
    if start is not None and end is not None and start > end:
        raise ValidationFailed(
            "开始日期不能晚于结束日期",
            error_code="loan.range_invalid",
            errors={"start": ["开始日期不能晚于结束日期"]},
        )
    contract = member_contract(session, member_id, contract_no)
    rows, next_cursor = queries.repayments_page(
        session, contract.id, start=start, end=end, cursor=cursor, limit=limit
    )
    notice = None if disbursed(contract) else not_disbursed_notice(contract)
    return Page(rows, next_cursor, notice)


# --- 还款计划 (formatted once, cached) -----------------------------------------------------------------


def schedule_rows(periods: Sequence[amortisation.Period]) -> list[dict[str, Any]]:
    return [
        {
            "period": p.period,
            "due_date": p.due_date,
            "payment": p.payment,
            "principal": p.principal,
            "interest": p.interest,
            "remaining": p.remaining,
        }
        for p in periods
    ]


def plan_answer(contract: LoanContract, state: LoanState) -> dict[str, Any]:
    """还款计划 of a disbursed contract: paid periods (as booked) then the remaining ones."""
    upcoming = state.upcoming
    periods = (*state.paid, *upcoming)
    rows = schedule_rows(periods)
    for index, row in enumerate(rows):
        row["paid"] = index < len(state.paid)
    zero = Decimal("0.00")
    return {
        "contract_no": contract.contract_no,
        "method": contract.method,
        "method_label": rules.Method.parse(contract.method).label,
        "totals": {
            "total_payment": sum((p.payment for p in periods), zero),
            "total_interest": sum((p.interest for p in periods), zero),
            "paid_principal": sum((p.principal for p in state.paid), zero),
            "paid_interest": sum((p.interest for p in state.paid), zero),
            "remaining_principal": state.balance,
            "remaining_interest": sum((p.interest for p in upcoming), zero),
            "remaining_payment": sum((p.payment for p in upcoming), zero),
            "remaining_periods": len(upcoming),
        },
        "schedule": rows,
    }


def _jsonable(value: Any) -> Any:
    """Money as the schemas write it (``"1234.50"``), dates ISO: a plan's 120–360 rows are
    formatted here in one pass instead of through marshmallow (tests check the two agree)."""
    if isinstance(value, Decimal):
        return f"{value:.2f}"
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_jsonable(v) for v in value]
    return value


def _period_of(row: list[Any]) -> amortisation.Period:
    """A period of a cached plan entry's ``upcoming`` (see :func:`plan_entry`)."""
    period, due_date, *figures = row
    return amortisation.Period(period, dt.date.fromisoformat(due_date), *map(Decimal, figures))


def to_json(value: Any) -> str:
    return json.dumps(_jsonable(value), ensure_ascii=False, separators=(",", ":"))


def plan_entry(
    session: Session, contract: LoanContract, today: dt.date, horizon_days: int
) -> dict[str, str]:
    """The cached forms of a disbursed contract's plan: 贷款信息's figures and 还款计划's body,
    for reads from ``today`` to ``horizon_days`` later."""
    state = loan_state(session, contract)
    upcoming = state.upcoming
    horizon = today + dt.timedelta(days=horizon_days)
    # Only what can fall due while the entry lives (it expires after ``horizon_days``), and the
    # first period after that: the next instalment (下期还款) of any day read is among them.
    within = [p for p in upcoming if p.due_date <= horizon]
    kept = upcoming[: len(within) + 1]
    info = {
        # Rates keep their own precision (3.025 %): strings here; every Decimal left is money.
        "last_rate": str(state.schedule.periods[-1].annual_rate),
        "remaining_balance": state.balance,
        "paid_periods": len(state.paid),
        "remaining_periods": len(upcoming),
        "end_date": amortisation.contract_end_date(
            first_due_date(contract) or state.schedule.periods[0].due_date, contract.term_months
        ),
        "upcoming": [
            [
                p.period,
                p.due_date,
                str(p.annual_rate),
                p.payment,
                p.principal,
                p.interest,
                p.remaining,
            ]
            for p in kept
        ],
    }
    return {"info": to_json(info), "plan": to_json(plan_answer(contract, state))}


def versioned_contract(session: Session, member_id: int, contract_no: str) -> tuple[Row[Any], str]:
    """The member's contract (its :data:`backend.loans.queries.VERSIONED_COLUMNS` by name) and the
    version of its plan and answers: a digest of the whole row read (:mod:`backend.loans.plans`)."""
    row = queries.member_contract_versioned(session, member_id, contract_no)
    if row is None:
        raise LoanNotFound()
    digest = hashlib.blake2b("|".join(map(str, row)).encode(), digest_size=12)
    return row, digest.hexdigest()


def cached_plan(
    session: Session, plans: PlanCache, contract_id: int, version: str, field: str
) -> str:
    """One field of the contract's plan entry: from the cache, or computed and cached."""
    hit = plans.get(contract_id, version, field)
    if hit is not None:
        return hit
    contract = session.get(LoanContract, contract_id)
    if contract is None:  # removed since the version was read: as good as absent
        raise LoanNotFound()
    entry = plan_entry(session, contract, clock.today(), plans.horizon_days)
    plans.put(contract_id, version, entry)
    return entry[field]


def repayment_plan(session: Session, plans: PlanCache, member_id: int, contract_no: str) -> str:
    """还款计划 as its JSON body: paid periods (as booked) then the remaining ones, with totals."""
    contract, version = versioned_contract(session, member_id, contract_no)
    if not disbursed(contract):
        return to_json(
            {
                "contract_no": contract.contract_no,
                "notice": not_disbursed_notice(contract),
                "totals": None,
                "schedule": [],
            }
        )
    return cached_plan(session, plans, contract.id, version, "plan")
