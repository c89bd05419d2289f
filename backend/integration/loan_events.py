"""Loan contract events from the core system: signed, disbursed, repaid, settled, overdue.

Each updates the contract (and its repayments), writes the member a message and commits once.
Repayments book once per ``external_id``; other events once per ``event_id``.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.applications.models import Application
from backend.applications.services import apply_event
from backend.clock import today
from backend.errors import Conflict, NotFound, ValidationFailed
from backend.inbox.services import post_message
from backend.integration.services import (
    Caller,
    audit,
    commit_once,
    find_application,
    lost_race,
    replay_of,
)
from backend.loans.amortisation import add_months
from backend.loans.models import (
    REPAYMENT_CHANNELS,
    LoanContract,
    LoanRate,
    LoanRepayment,
)
from backend.loans.rules import LoanTransitionRefused, loan_transition

LOAN_EVENTS = {
    "signed": "贷款合同签订",
    "disbursed": "贷款发放",
    "repaid": "贷款还款",
    "settled": "贷款结清",
    "overdue": "贷款逾期提醒",
}
# The loan node signing closes on the application (我发起的), and the ones disbursal completes.
SIGNING_NODE = "签订合同"
EVENT_KEY = "loan:{}:{}"
REPAYMENT_KEY = "loanrep:{}"


@dataclass
class LoanEvent:
    """A validated event payload (see ``LoanEventSchema``)."""

    type: str
    event_id: str | None = None
    date: dt.date | None = None
    amount: Decimal | None = None
    first_due_date: dt.date | None = None
    annual_rate: Decimal | None = None
    period: int | None = None
    due_date: dt.date | None = None
    principal: Decimal | None = None
    interest: Decimal | None = None
    penalty: Decimal = Decimal("0.00")
    paid_on: dt.date | None = None
    channel: str = "entrusted"
    external_id: str | None = None
    # A contract the hall has not seen yet is created by its `signed` event from these
    application_no: str | None = None
    term_months: int | None = None
    method: str | None = None
    bank_name: str = ""


@dataclass(frozen=True)
class Applied:
    contract: LoanContract
    repayment: LoanRepayment | None
    created: bool


def locked_contract(session: Session, contract_no: str) -> LoanContract | None:
    """The contract by number with its row lock (events on one contract take turns)."""
    return session.scalars(
        select(LoanContract).where(LoanContract.contract_no == contract_no).with_for_update()
    ).first()


def _repayment(session: Session, external_id: str) -> LoanRepayment | None:
    return session.scalars(
        select(LoanRepayment).where(LoanRepayment.external_id == external_id)
    ).first()


def _new_contract(session: Session, contract_no: str, event: LoanEvent) -> LoanContract:
    if event.type != "signed" or not event.application_no:
        raise NotFound("未找到该借款合同", error_code="loan.contract_not_found")
    assert_fields(event, "amount", "term_months", "method")
    application = find_application(session, event.application_no)
    if application.kind != "loan":
        raise ValidationFailed(
            "该业务不是贷款申请", errors={"application_no": ["应为贷款申请的业务编号"]}
        )
    contract = LoanContract(
        contract_no=contract_no,
        member_id=application.member_id,
        application_id=application.id,
        amount=event.amount,
        term_months=event.term_months,
        method=event.method,
        status="approving",
        bank_name=event.bank_name,
        balance=Decimal("0.00"),
    )
    session.add(contract)
    session.flush()
    return contract


def _content(contract: LoanContract, event: LoanEvent, repayment: LoanRepayment | None) -> str:
    head = f"您的借款合同（{contract.contract_no}）"
    if event.type == "signed":
        return f"{head}已于{contract.signed_on:%Y年%m月%d日}签订，请留意放款通知。"
    if event.type == "disbursed":
        return (
            f"{head}贷款{contract.amount}元已于{contract.disbursed_on:%Y年%m月%d日}发放，"
            f"执行年利率{event.annual_rate}%，首次还款日为{contract.first_due_date:%Y年%m月%d日}。"
        )
    if event.type == "repaid" and repayment is not None:
        penalty = f"，罚息{repayment.penalty}元" if repayment.penalty else ""
        return (
            f"{head}第{repayment.period}期已于{repayment.paid_on:%Y年%m月%d日}还款"
            f"（{REPAYMENT_CHANNELS[repayment.channel]}），本金{repayment.principal}元，"
            f"利息{repayment.interest}元{penalty}，剩余本金{repayment.balance_after}元。"
        )
    if event.type == "settled":
        return f"{head}贷款已于{contract.settled_on:%Y年%m月%d日}结清。"
    period = f"第{event.period}期" if event.period else "贷款"
    return f"{head}{period}已逾期，请尽快还款，以免产生罚息并影响个人信用。"


def apply_loan_event(
    session: Session, caller: Caller, contract_no: str, event: LoanEvent, *, request_hash: str
) -> Applied:
    """Apply one event; a replay (same ``external_id`` / ``event_id``, same request) changes
    nothing; the same key with another request is a 409."""
    key = (
        REPAYMENT_KEY.format(event.external_id)
        if event.type == "repaid"
        else EVENT_KEY.format(contract_no, event.event_id)
    )
    contract = locked_contract(session, contract_no)
    if contract is not None and replay_of(session, key, request_hash) is not None:
        return _replayed(session, caller, contract, event)

    def write() -> Applied:
        target = contract or _new_contract(session, contract_no, event)
        application = (
            session.get(Application, target.application_id) if target.application_id else None
        )
        try:
            after = loan_transition(
                target.status, event.type, application.status if application else None
            )
        except LoanTransitionRefused as exc:
            raise Conflict(
                exc.message, error_code=exc.error_code, contract_status=target.status
            ) from exc
        repayment = _apply(session, target, event)
        target.status = after
        _move_application(session, application, event)
        post_message(
            session,
            member_id=target.member_id,
            business_name=LOAN_EVENTS[event.type],
            content=_content(target, event, repayment),
            business_type="loan",
            application_id=target.application_id,
            dedupe_key=key,
            request_hash=request_hash,
        )
        audit(
            session,
            caller,
            "internal.loan_event",
            target.member_id,
            contract_no=contract_no,
            event=event.type,
            event_id=event.event_id or event.external_id,
        )
        return Applied(target, repayment, created=True)

    applied = commit_once(session, write)
    if applied is None:
        lost_race(replay_of(session, key, request_hash))
        return _replayed(session, caller, lost_race(locked_contract(session, contract_no)), event)
    return applied


def _move_application(session: Session, application: Application | None, event: LoanEvent) -> None:
    """Keep 我发起的 in step with the contract: signing closes the 签订合同 node, disbursal
    completes the application (the contract's own message tells the member)."""
    if application is None or application.kind != "loan":
        return
    if event.type == "signed" and SIGNING_NODE in {n.name for n in application.nodes}:
        apply_event(session, application, event="node_done", node=SIGNING_NODE, notify=False)
    elif event.type == "disbursed":
        apply_event(session, application, event="completed", notify=False)


def _replayed(
    session: Session, caller: Caller, contract: LoanContract, event: LoanEvent
) -> Applied:
    repayment = _repayment(session, event.external_id) if event.external_id else None
    audit(
        session,
        caller,
        "internal.loan_event",
        contract.member_id,
        contract_no=contract.contract_no,
        event=event.type,
        replayed=True,
    )
    session.commit()
    return Applied(contract, repayment, created=False)


def _apply(session: Session, contract: LoanContract, event: LoanEvent) -> LoanRepayment | None:
    on = event.date or today()
    if event.type == "signed":
        contract.signed_on = on
    elif event.type == "disbursed":
        assert_fields(event, "amount", "first_due_date", "annual_rate")
        contract.amount = event.amount  # type: ignore[assignment]
        contract.balance = event.amount  # type: ignore[assignment]
        contract.disbursed_on = on
        contract.first_due_date = event.first_due_date
        contract.repayment_day = event.first_due_date.day  # type: ignore[union-attr]
        rate = session.scalars(
            select(LoanRate).where(
                LoanRate.contract_id == contract.id, LoanRate.effective_from == on
            )
        ).first()
        if rate is None:
            session.add(
                LoanRate(contract_id=contract.id, effective_from=on, annual_rate=event.annual_rate)
            )
        else:
            rate.annual_rate = event.annual_rate  # type: ignore[assignment]
    elif event.type == "repaid":
        return _repay(session, contract, event)
    elif event.type == "settled":
        contract.settled_on = on
        contract.balance = Decimal("0.00")
    return None


def _repay(session: Session, contract: LoanContract, event: LoanEvent) -> LoanRepayment:
    assert_fields(event, "period", "principal", "interest", "paid_on", "external_id")
    principal: Decimal = event.principal  # type: ignore[assignment]
    if principal > contract.balance:
        raise ValidationFailed(
            "还款本金超过贷款余额",
            error_code="loan.principal_exceeds_balance",
            errors={"principal": [f"不能超过剩余本金 {contract.balance} 元"]},
        )
    period: int = event.period  # type: ignore[assignment]
    due = event.due_date or (
        add_months(contract.first_due_date, period - 1)
        if contract.first_due_date
        else event.paid_on
    )
    # Paying the overdue instalment brings the loan back to normal repayment (LOAN_TRANSITIONS).
    contract.balance = contract.balance - principal
    repayment = LoanRepayment(
        contract_id=contract.id,
        period=period,
        due_date=due,
        paid_on=event.paid_on,
        principal=principal,
        interest=event.interest,
        penalty=event.penalty,
        balance_after=contract.balance,
        channel=event.channel,
        external_id=event.external_id,
    )
    session.add(repayment)
    return repayment


def assert_fields(event: LoanEvent, *names: str) -> None:
    missing = [n for n in names if getattr(event, n) is None]
    if missing:
        raise ValidationFailed("缺少必填信息", errors={n: ["该事件必填"] for n in missing})
