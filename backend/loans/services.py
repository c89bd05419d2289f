"""Use cases of the loans feature: what a member sees of their loans (贷款信息, 进度, 还款明细,
还款计划), prepayment quotes, the public calculator and loan applications.

No Flask here. Figures come from one schedule (:mod:`backend.loans.rules`) laid over the
repayments the core system booked; rule refusals leave as :class:`ValidationFailed` (422).
"""

from __future__ import annotations

import calendar
import datetime as dt
import hashlib
import json
import logging
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy.orm import Session

from backend import clock
from backend.applications.models import (
    APPLICATION_KINDS,
    APPLICATION_STATUS,
    NODE_STATES,
    Application,
)
from backend.applications.services import LOAN_NODES, create_application
from backend.audit.services import RequestOrigin, record
from backend.clock import to_local
from backend.errors import Conflict, NotFound, ValidationFailed
from backend.fund import services as certificates
from backend.fund.models import ACCOUNT_STATUS, Certificate
from backend.idempotency.services import StoredAnswer
from backend.identity.stepup import confirm_once
from backend.loans import amortisation, prepayment_rules, queries, rates, rules
from backend.loans.models import LOAN_STATUS, REPAYMENT_CHANNELS, LoanContract, LoanRepayment
from backend.loans.plans import PlanCache
from backend.members.models import Member
from backend.runtime import Runtime
from backend.settings import Settings

logger = logging.getLogger(__name__)

NO_LOAN_NOTICE = "您未办理贷款业务，如需办理贷款业务，请回到主页面进行贷款申请"
NOT_DISBURSED_NOTICE = "此合同【{contract_no}】的贷款未发放"
NOT_DISBURSED_STATUSES = ("approving", "signed")
LOAN_PURPOSES = {"purchase": "购买自住住房", "build": "建造、翻建、大修自住住房"}
IDEMPOTENCY_SCOPE = "loan-applications"


class LoanNotFound(NotFound):
    error_code = "loan.not_found"
    message = "未找到该贷款合同"


@contextmanager
def rule_errors(fields: dict[str, str] | None = None) -> Iterator[None]:
    """Rule refusals become the 422 envelope, their reason code as ``error_code``; ``fields``
    renames the rules' field names to the request's."""
    try:
        yield
    except rules.LoanRuleError as error:
        errors = error.errors
        if errors and fields:
            errors = {fields.get(name, name): messages for name, messages in errors.items()}
        raise ValidationFailed(error.message, error_code=error.error_code, errors=errors) from error


def percent(rate: Decimal) -> Decimal:
    """An annual rate for display: at least two decimals (3.10), more when it has them (3.025)."""
    two = rate.quantize(Decimal("0.01"))
    return two if two == rate else rate.normalize()


def _local(moment: dt.datetime | None) -> dt.datetime | None:
    return to_local(moment) if moment is not None else None


# --- a contract and its schedule -----------------------------------------------------------------


@dataclass(frozen=True)
class LoanState:
    """A disbursed contract with its repayments and its schedule as it stands."""

    contract: LoanContract
    paid: tuple[amortisation.Period, ...]
    schedule: amortisation.Schedule

    @property
    def upcoming(self) -> tuple[amortisation.Period, ...]:
        if self.contract.status == "settled":
            return ()
        return self.schedule.periods[len(self.paid) :]

    @property
    def balance(self) -> Decimal:
        if self.contract.status == "settled":
            return Decimal("0.00")
        return self.paid[-1].remaining if self.paid else self.contract.amount


def disbursed(contract: LoanContract) -> bool:
    return contract.disbursed_on is not None and contract.status not in NOT_DISBURSED_STATUSES


def not_disbursed_notice(contract: LoanContract) -> str:
    return NOT_DISBURSED_NOTICE.format(contract_no=contract.contract_no)


def rate_history(contract: LoanContract) -> list[tuple[dt.date, Decimal]]:
    """The contract's rate history; the benchmark table when the core sent none."""
    history = [(rate.effective_from, rate.annual_rate) for rate in contract.rates]
    if not history:
        return list(
            rates.benchmark_rate_history(contract.term_months, second_home=not contract.first_home)
        )
    start = contract.disbursed_on
    if start is not None and history[0][0] > start:
        # The core dates the contract rate from its own booking; it is the rate from disbursal on.
        history[0] = (start, history[0][1])
    return history


def first_due_date(contract: LoanContract) -> dt.date | None:
    """The stored first due date; else the repayment day of the month after disbursal."""
    if contract.first_due_date is not None or contract.disbursed_on is None:
        return contract.first_due_date
    month_later = amortisation.add_months(contract.disbursed_on, 1)
    if contract.repayment_day is None:
        return month_later
    last_day = calendar.monthrange(month_later.year, month_later.month)[1]
    return month_later.replace(day=min(contract.repayment_day, last_day))


def contract_schedule(contract: LoanContract) -> amortisation.Schedule:
    assert contract.disbursed_on is not None
    with rule_errors():
        return amortisation.generate_schedule(
            contract.amount,
            contract.term_months,
            contract.method,
            rate_history(contract),
            contract.disbursed_on,
            first_due_date(contract),
        )


def paid_periods(
    schedule: amortisation.Schedule, repayments: Sequence[LoanRepayment]
) -> tuple[amortisation.Period, ...]:
    """Repayments folded per period (a prepayment booked on a period adds to it), in period order."""
    by_period: dict[int, list[LoanRepayment]] = {}
    for repayment in repayments:
        by_period.setdefault(repayment.period, []).append(repayment)
    last_rate = schedule.periods[-1].annual_rate
    folded = []
    for number in sorted(by_period):
        rows = by_period[number]
        principal = sum((r.principal for r in rows), Decimal("0.00"))
        interest = sum((r.interest for r in rows), Decimal("0.00"))
        scheduled = schedule.periods[number - 1] if 0 < number <= schedule.months else None
        folded.append(
            amortisation.Period(
                period=number,
                due_date=rows[0].due_date,
                annual_rate=scheduled.annual_rate if scheduled else last_rate,
                payment=principal + interest,
                principal=principal,
                interest=interest,
                remaining=rows[-1].balance_after,
            )
        )
    return tuple(folded)


def member_contract(
    session: Session, member_id: int, contract_no: str, *, with_rates: bool = False
) -> LoanContract:
    contract = queries.member_contract(session, member_id, contract_no, with_rates=with_rates)
    if contract is None:
        raise LoanNotFound()
    return contract


def loan_state(session: Session, contract: LoanContract) -> LoanState:
    schedule = contract_schedule(contract)
    repayments = queries.contract_repayments(session, contract.id)
    paid = paid_periods(schedule, repayments)
    return LoanState(contract, paid, amortisation.rebase_schedule(schedule, paid))


# --- views of a member's loans -------------------------------------------------------------------


def contract_summary(contract: LoanContract) -> dict[str, Any]:
    return {
        "contract_no": contract.contract_no,
        "status": contract.status,
        "status_label": LOAN_STATUS.get(contract.status, contract.status),
        "amount": contract.amount,
        "term_months": contract.term_months,
        "method": contract.method,
        "method_label": rules.Method.parse(contract.method).label,
        "disbursed_on": contract.disbursed_on,
        "bank_name": contract.bank_name,
    }


def list_loans(
    session: Session, member_id: int, *, cursor: str | None, limit: int
) -> dict[str, Any]:
    contracts, next_cursor = queries.contracts_page(session, member_id, cursor=cursor, limit=limit)
    page: dict[str, Any] = {
        "items": [contract_summary(c) for c in contracts],
        "next_cursor": next_cursor,
    }
    if not contracts and not cursor:
        page["notice"] = NO_LOAN_NOTICE
    return page


@dataclass(frozen=True)
class Due:
    """An unpaid instalment, as overdue figures need it."""

    due_date: dt.date
    payment: Decimal
    annual_rate: Decimal


def _overdue(late: Sequence[Due], today: dt.date) -> dict[str, Any] | None:
    """Figures of the instalments due before ``today`` and still unpaid."""
    if not late:
        return None
    return {
        "periods": len(late),
        "amount": sum((p.payment for p in late), Decimal("0.00")),
        "penalty": sum(
            (
                rules.overdue_penalty(
                    p.payment, rules.days_overdue(p.due_date, today), p.annual_rate
                )
                for p in late
            ),
            Decimal("0.00"),
        ),
        "days": rules.days_overdue(late[0].due_date, today),
    }


def loan_info(
    session: Session, plans: PlanCache, member_id: int, contract_no: str, today: dt.date
) -> dict[str, Any]:
    """贷款信息. An undisbursed contract answers with the manual's notice and no figures. The
    figures come from the contract's computed plan (:mod:`backend.loans.plans`)."""
    contract, version = versioned_contract(session, member_id, contract_no)
    years, months = amortisation.split_term(contract.term_months)
    info = contract_summary(contract) | {
        "term": {"years": years, "months": months},
        "signed_on": contract.signed_on,
    }
    if not disbursed(contract):
        return info | {"notice": not_disbursed_notice(contract)}
    figures = json.loads(cached_plan(session, plans, contract, version, "info"))
    upcoming = [_period_of(row) for row in figures.pop("upcoming")]
    following = amortisation.next_instalment(upcoming, today)
    late = [Due(p.due_date, p.payment, p.annual_rate) for p in upcoming if p.due_date < today]
    current_rate = following.annual_rate if following else Decimal(figures["last_rate"])
    return info | {
        "annual_rate": percent(current_rate),
        "monthly_payment": following.payment if following else None,
        "remaining_balance": Decimal(figures["remaining_balance"]),
        "paid_periods": figures["paid_periods"],
        "remaining_periods": figures["remaining_periods"],
        "end_date": dt.date.fromisoformat(figures["end_date"]),
        "next_due": (
            {
                "period": following.period,
                "due_date": following.due_date,
                "amount": following.payment,
                "principal": following.principal,
                "interest": following.interest,
            }
            if following
            else None
        ),
        "overdue": _overdue(late, today),
    }


def _decimal(value: str | None) -> Decimal | None:
    return None if value is None else Decimal(value)


def node_view(
    seq: int,
    name: str,
    state: str,
    acted_at: dt.datetime | None = None,
    opinion: str | None = None,
    handler: str | None = None,
) -> dict[str, Any]:
    return {
        "seq": seq,
        "name": name,
        "state": state,
        "state_label": NODE_STATES.get(state, state),
        "acted_at": _local(acted_at),
        "opinion": opinion,
        "handler": handler,
    }


def application_nodes(application: Application) -> list[dict[str, Any]]:
    return [
        node_view(node.seq, node.name, node.state, node.acted_at, node.opinion, node.handler)
        for node in application.nodes
    ]


def _synthesised_nodes(contract: LoanContract) -> list[dict[str, Any]]:
    """Nodes read off the contract status when the loan did not come through an application here."""
    done_count = {"approving": 1, "signed": 3}.get(contract.status, len(LOAN_NODES))
    return [
        node_view(
            seq, name, "done" if seq < done_count else "current" if seq == done_count else "pending"
        )
        for seq, name in enumerate(LOAN_NODES)
    ]


def loan_progress(session: Session, member_id: int, contract_no: str) -> dict[str, Any]:
    """贷款进度: the application's nodes in order (done / current / pending)."""
    contract = member_contract(session, member_id, contract_no)
    application = (
        queries.application_with_nodes(session, contract.application_id)
        if contract.application_id is not None
        else None
    )
    nodes = application_nodes(application) if application else _synthesised_nodes(contract)
    return {
        "contract_no": contract.contract_no,
        "status": contract.status,
        "status_label": LOAN_STATUS.get(contract.status, contract.status),
        "application_no": application.application_no if application else None,
        "nodes": nodes,
    }


def repayment_row(repayment: LoanRepayment) -> dict[str, Any]:
    return {
        "period": repayment.period,
        "due_date": repayment.due_date,
        "paid_on": repayment.paid_on,
        "principal": repayment.principal,
        "interest": repayment.interest,
        "penalty": repayment.penalty,
        "amount": repayment.principal + repayment.interest + repayment.penalty,
        "balance_after": repayment.balance_after,
        "channel": repayment.channel,
        "channel_label": REPAYMENT_CHANNELS.get(repayment.channel, repayment.channel),
    }


def list_repayments(
    session: Session,
    member_id: int,
    contract_no: str,
    *,
    start: dt.date | None,
    end: dt.date | None,
    cursor: str | None,
    limit: int,
) -> dict[str, Any]:
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
    page: dict[str, Any] = {"items": [repayment_row(r) for r in rows], "next_cursor": next_cursor}
    if not disbursed(contract):
        page["notice"] = not_disbursed_notice(contract)
    return page


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


def versioned_contract(
    session: Session, member_id: int, contract_no: str
) -> tuple[LoanContract, str]:
    """The member's contract and the version of its plan (see :mod:`backend.loans.plans`)."""
    found = queries.member_contract_versioned(session, member_id, contract_no)
    if found is None:
        raise LoanNotFound()
    contract, inputs = found
    terms = (
        contract.amount,
        contract.term_months,
        contract.method,
        contract.status,
        contract.first_home,
        contract.disbursed_on,
        contract.first_due_date,
        contract.repayment_day,
        contract.balance,
        contract.updated_at,
    )
    digest = hashlib.blake2b("|".join(map(str, (*terms, *inputs))).encode(), digest_size=12)
    return contract, digest.hexdigest()


def cached_plan(
    session: Session, plans: PlanCache, contract: LoanContract, version: str, field: str
) -> str:
    """One field of the contract's plan entry: from the cache, or computed and cached."""
    hit = plans.get(contract.id, version, field)
    if hit is not None:
        return hit
    entry = plan_entry(session, contract, clock.today(), plans.horizon_days)
    plans.put(contract.id, version, entry)
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
    return cached_plan(session, plans, contract, version, "plan")


# --- prepayment quotes ---------------------------------------------------------------------------

PREPAYMENT_KINDS = {
    ("full", None): prepayment_rules.PrepaymentKind.FULL,
    ("partial", "shorten_term"): prepayment_rules.PrepaymentKind.SHORTEN_TERM,
    ("partial", "reduce_instalment"): prepayment_rules.PrepaymentKind.REDUCE_INSTALMENT,
}


def prepayable(
    session: Session, member_id: int, contract_no: str
) -> tuple[LoanContract, LoanState]:
    """The member's contract and its state, refused (422) when not disbursed or settled."""
    contract = member_contract(session, member_id, contract_no, with_rates=True)
    if not disbursed(contract):
        raise ValidationFailed(not_disbursed_notice(contract), error_code="loan.not_disbursed")
    if contract.status == "settled":
        raise ValidationFailed(
            prepayment_rules.REFUSAL_MESSAGES["loan.settled"], error_code="loan.settled"
        )
    return contract, loan_state(session, contract)


def quote_prepayment(
    session: Session,
    settings: Settings,
    member_id: int,
    contract_no: str,
    *,
    kind: str,
    option: str | None,
    amount: Decimal | None,
    today: dt.date,
) -> dict[str, Any]:
    """提前还款试算 against the schedule as it stands; refused around deduction days."""
    contract, state = prepayable(session, member_id, contract_no)
    with rule_errors():
        quote = prepayment_rules.quote_prepayment(
            state.schedule,
            today,
            prepayment_kind(kind, option),
            amount,
            window_days=settings.prepayment_blackout_days,
            paid_periods=len(state.paid),
        )
    return quote_view(contract.contract_no, kind, option, quote)


def prepayment_kind(kind: str, option: str | None) -> prepayment_rules.PrepaymentKind:
    return PREPAYMENT_KINDS[(kind, option if kind == "partial" else None)]


def quote_view(
    contract_no: str, kind: str, option: str | None, quote: prepayment_rules.PrepaymentQuote
) -> dict[str, Any]:
    """A prepayment quote as answered (试算, and the figures of a booked prepayment)."""
    return {
        "contract_no": contract_no,
        "kind": kind,
        "option": option if kind == "partial" else None,
        "quote_date": quote.on,
        "balance": quote.balance,
        "prepaid_principal": quote.prepaid_principal,
        "accrued_interest": quote.accrued_interest,
        "amount_due": quote.amount_due,
        "current_payment": quote.old_payment,
        "current_months": quote.old_months,
        "current_end_date": quote.old_end_date,
        "new_payment": quote.new_payment,
        "new_months": quote.new_months,
        "new_end_date": quote.new_end_date,
        "interest_saved": quote.interest_saved,
    }


# --- loan settlement certificate (贷款结清证明) ----------------------------------------------------


def _settlement_subject(session: Session, contract: LoanContract) -> dict[str, Any]:
    repayments = queries.contract_repayments(session, contract.id)
    zero = Decimal("0.00")
    settled_on = contract.settled_on or (repayments[-1].paid_on if repayments else None)
    return {
        "contract_no": contract.contract_no,
        "amount": f"{contract.amount:.2f}",
        "term_months": contract.term_months,
        "method_label": rules.Method.parse(contract.method).label,
        "disbursed_on": contract.disbursed_on.isoformat() if contract.disbursed_on else "",
        "settled_on": settled_on.isoformat() if settled_on else "",
        "principal_repaid": f"{sum((r.principal for r in repayments), zero):.2f}",
        "interest_repaid": f"{sum((r.interest + r.penalty for r in repayments), zero):.2f}",
        "bank_name": contract.bank_name,
    }


def issue_settlement_certificate(
    session: Session,
    settings: Settings,
    member: Member,
    contract_no: str,
    origin: RequestOrigin | None = None,
) -> Certificate:
    """贷款结清证明 of the member's settled contract; re-issuing voids the contract's earlier one.
    Another member's contract is a 404, a contract not settled a 409 naming its status."""
    contract = member_contract(session, member.id, contract_no)
    if contract.status != "settled":
        label = LOAN_STATUS.get(contract.status, contract.status)
        raise Conflict(
            f"该笔贷款当前状态为“{label}”，尚未结清，结清后方可开具贷款结清证明",
            error_code="loan.not_settled",
        )
    account, _ = certificates.account_summary(session, member.id)
    return certificates.issue(
        session,
        settings,
        member,
        kind="loan_settlement",
        account_id=account.id,
        subject=lambda: _settlement_subject(session, contract),
        subject_no=contract.contract_no,
        origin=origin,
    )


# --- public calculator ---------------------------------------------------------------------------


def calculate(
    principal: str, months: str, annual_rate: str, method: str, *, today: dt.date
) -> dict[str, Any]:
    """贷款计算器: the full schedule of a loan disbursed today, with totals."""
    with rule_errors():
        terms = rules.validate_loan_terms(principal, months, annual_rate, method)
        schedule = amortisation.generate_schedule(
            terms.principal, terms.months, terms.method, terms.annual_rate, today
        )
    return {
        "principal": terms.principal,
        "months": terms.months,
        "annual_rate": percent(terms.annual_rate),
        "method": terms.method.value,
        "method_label": terms.method.label,
        "monthly_payment": schedule.monthly_payment,
        "last_payment": schedule.periods[-1].payment,
        "total_payment": schedule.total_payment,
        "total_interest": schedule.total_interest,
        "schedule": schedule_rows(schedule.periods),
    }


# --- loan applications ---------------------------------------------------------------------------


def _month_key(day: dt.date, back: int = 0) -> str:
    return amortisation.add_months(day.replace(day=1), -back).strftime("%Y-%m")


NO_ACCOUNT = "您尚未开立住房公积金个人账户，不能申请贷款"


def amount_limit(balance: Decimal, settings: Settings) -> Decimal:
    """可贷额度: the balance times the centre's multiple, never above its ceiling."""
    return min(
        (balance * settings.loan_balance_multiple).quantize(rules.FEN), settings.loan_ceiling
    )


def loan_quota(
    session: Session,
    settings: Settings,
    member_id: int,
    *,
    months: int,
    first_home: bool,
    today: dt.date,
) -> dict[str, Any]:
    """What an application would get before it is made: the amount limit and the benchmark rate
    for the term. No account: no limit, and the reason the application would be refused."""
    account = queries.member_account(session, member_id)
    with rule_errors({"months": "term_months"}):
        months = rules.validate_months(months)
        rate = rates.benchmark_rate(today, months, second_home=not first_home)
    answer: dict[str, Any] = {
        "amount_limit": None if account is None else amount_limit(account.balance, settings),
        "balance": None if account is None else account.balance,
        "balance_multiple": settings.loan_balance_multiple,
        "ceiling": settings.loan_ceiling,
        "term_months": months,
        "max_term_months": rules.MAX_MONTHS,
        "first_home": first_home,
        "annual_rate": percent(rate),
    }
    if account is None:
        answer["notice"] = NO_ACCOUNT
    return answer


def check_eligibility(
    session: Session, settings: Settings, member_id: int, amount: Decimal, today: dt.date
) -> None:
    """The centre's checks before a loan application is accepted; raises on the first failure."""
    account = queries.member_account(session, member_id)
    if account is None:
        raise ValidationFailed(NO_ACCOUNT, error_code="loan.no_account")
    if account.status != "normal":
        label = ACCOUNT_STATUS.get(account.status, account.status)
        raise ValidationFailed(
            f"您的公积金账户状态为“{label}”，账户正常缴存方可申请贷款",
            error_code="loan.account_not_normal",
        )
    needed = settings.loan_min_deposit_months
    # Deposits count while current: the newest month credited is this month or the one before.
    months = queries.deposit_months_since(session, member_id, _month_key(today, needed + 1))
    latest = 0 if _month_key(today) in months else 1
    consecutive = 0
    while _month_key(today, latest + consecutive) in months:
        consecutive += 1
    if consecutive < needed:
        raise ValidationFailed(
            f"申请贷款须连续正常缴存住房公积金满 {needed} 个月",
            error_code="loan.deposit_months_insufficient",
        )
    open_business = queries.open_loan_business(session, member_id)
    if open_business["contract"]:
        raise Conflict(
            "您有尚未结清的公积金贷款，暂不能再次申请", error_code="loan.open_contract_exists"
        )
    if open_business["application"]:
        raise Conflict(
            "您有正在办理的贷款申请，请勿重复申请", error_code="loan.open_application_exists"
        )
    limit = amount_limit(account.balance, settings)
    if amount > limit:
        raise ValidationFailed(
            f"贷款金额不能超过可贷额度 {limit} 元（账户余额的 {settings.loan_balance_multiple} 倍，"
            f"且不超过最高额度 {settings.loan_ceiling} 元）",
            error_code="loan.amount_over_limit",
            errors={"amount": [f"不能超过 {limit} 元"]},
        )


def application_view(application: Application) -> dict[str, Any]:
    return {
        "id": application.id,
        "application_no": application.application_no,
        "kind": application.kind,
        "kind_label": APPLICATION_KINDS.get(application.kind, application.kind),
        "reason": application.reason,
        "amount": application.amount,
        "status": application.status,
        "status_label": APPLICATION_STATUS.get(application.status, application.status),
        "details": application.details,
        "submitted_at": _local(application.submitted_at),
        "nodes": application_nodes(application),
    }


def apply_for_loan(
    session: Session,
    rt: Runtime,
    member: Member,
    payload: dict[str, Any],
    *,
    idempotency_key: str | None,
    origin: RequestOrigin,
    today: dt.date,
    render: Callable[[dict[str, Any]], dict[str, Any]],
) -> StoredAnswer:
    """Submit a loan application (贷款申请) once per ``Idempotency-Key``.

    Order: the centre's checks, then the step-up SMS code is consumed, then the application is
    created with its first node current. ``render`` turns the application into the JSON answer
    that is stored for replays. The SMS code is not part of the replay fingerprint, so a retry
    after a lost answer replays even with a fresh code.
    """
    settings = rt.settings

    def check() -> tuple[Decimal, int, rules.Method]:
        with rule_errors({"principal": "amount", "months": "term_months"}):
            amount = rules.validate_principal(payload["amount"], ceiling=settings.loan_ceiling)
            months = rules.validate_months(payload["term_months"])
            method = rules.Method.parse(payload["method"])
        check_eligibility(session, settings, member.id, amount, today)
        return amount, months, method

    def act(checked: tuple[Decimal, int, rules.Method]) -> tuple[int, dict[str, Any]]:
        amount, months, method = checked
        with rule_errors():
            rate = rates.benchmark_rate(today, months, second_home=not payload["first_home"])
            estimate = amortisation.generate_schedule(amount, months, method, rate, today)
        purpose = payload["purpose"]
        application = create_application(
            session,
            member_id=member.id,
            kind="loan",
            reason=LOAN_PURPOSES[purpose],
            amount=amount,
            details={
                "purpose": purpose,
                "term_months": months,
                "method": method.value,
                "method_label": method.label,
                "first_home": payload["first_home"],
                "annual_rate": str(percent(rate)),
                "estimated_monthly_payment": str(estimate.monthly_payment),
            },
        )
        record(
            session,
            "loan.application_submitted",
            member_id=member.id,
            origin=origin,
            application_no=application.application_no,
            amount=str(amount),
        )
        logger.info(
            "loan application submitted",
            extra={"member_id": member.id, "application_no": application.application_no},
        )
        return 201, render(application_view(application))

    # Two racing submissions (different keys) must not both pass "no open application".
    return confirm_once(
        session,
        rt,
        member,
        scope=IDEMPOTENCY_SCOPE,
        idempotency_key=idempotency_key,
        fingerprint={k: v for k, v in payload.items() if k != "sms_code"},
        sms_code=payload["sms_code"],
        check=check,
        act=act,
    )
