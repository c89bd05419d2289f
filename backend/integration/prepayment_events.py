"""Prepayment decisions from the core system: a member's 提前还款申请 is booked or refused.

One call per decision, idempotent by ``event_id``: a replay answers like the first call only when
the whole request is the same (its hash is kept on the prepayment); the same ``event_id`` with
other content, or a second decision, is a 409. A booking re-amortises the contract
(:func:`backend.loans.prepayments.book_into_contract`); both write the member's message and its
pushes in the same transaction.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy.orm import Session

from backend.clock import utcnow
from backend.errors import Conflict, NotFound
from backend.idempotency.services import request_hash
from backend.inbox.services import post_message
from backend.integration.loan_events import locked_contract
from backend.integration.services import Caller, audit, commit_once, lost_race
from backend.loans import queries
from backend.loans.amortisation import contract_end_date
from backend.loans.contracts import first_due_date
from backend.loans.models import PREPAYMENT_OPTIONS, LoanContract, LoanPrepayment
from backend.loans.prepayments import book_into_contract

PREPAYMENT_EVENTS = {"booked": "提前还款办理成功", "refused": "提前还款申请未通过"}
EVENT_KEY = "prepay:{}:{}"


@dataclass
class PrepaymentEvent:
    """A validated payload (see ``PrepaymentEventArgsSchema``)."""

    type: str
    event_id: str
    date: dt.date | None = None
    principal: Decimal | None = None
    interest: Decimal | None = None
    reason: str | None = None


@dataclass(frozen=True)
class Decided:
    contract: LoanContract
    prepayment: LoanPrepayment
    created: bool


def _content(contract: LoanContract, prepayment: LoanPrepayment, on: dt.date) -> str:
    head = f"您的借款合同（{contract.contract_no}）提前还款申请（编号{prepayment.prepayment_no}）"
    if prepayment.status == "refused":
        return f"{head}未通过：{prepayment.opinion}。如有疑问请联系公积金中心。"
    paid = f"已于{on:%Y年%m月%d日}办理，归还本金{prepayment.booked_principal}元、利息{prepayment.booked_interest}元"
    if contract.status == "settled":
        return f"{head}{paid}，贷款已全部结清。可在小程序中开具贷款结清证明。"
    first = first_due_date(contract)
    end = contract_end_date(first, contract.term_months) if first else None
    option = PREPAYMENT_OPTIONS.get(prepayment.option or "", "")
    ending = f"，到期日{end:%Y年%m月%d日}" if end else ""
    return (
        f"{head}{paid}，剩余本金{contract.balance}元。按“{option}”方式重新计算，贷款期限为"
        f"{contract.term_months}个月{ending}，新的还款计划可在“还款计划”中查看。"
    )


def decide_prepayment(
    session: Session,
    caller: Caller,
    contract_no: str,
    prepayment_no: str,
    event: PrepaymentEvent,
    payload: dict[str, Any],
) -> Decided:
    """Apply the core system's decision on a pending prepayment (contract row locked)."""
    contract = locked_contract(session, contract_no)
    if contract is None:
        raise NotFound("未找到该借款合同", error_code="loan.contract_not_found")
    prepayment = queries.prepayment_by_no(session, contract.id, prepayment_no, lock=True)
    if prepayment is None:
        raise NotFound("未找到该提前还款申请", error_code="loan.prepayment_not_found")
    fingerprint = request_hash(payload)
    if prepayment.status != "pending":
        return _replayed(session, caller, contract, prepayment, event, fingerprint)

    def write() -> Decided:
        on = event.date or prepayment.prepay_on
        if event.type == "booked":
            assert event.principal is not None and event.interest is not None
            book_into_contract(
                session,
                contract,
                prepayment,
                principal=event.principal,
                interest=event.interest,
                on=on,
            )
            prepayment.booked_principal = event.principal
            prepayment.booked_interest = event.interest
        prepayment.status = event.type
        prepayment.opinion = (event.reason or "")[:200]
        prepayment.decision_event_id = event.event_id
        prepayment.decision_hash = fingerprint
        prepayment.decided_at = utcnow()
        post_message(
            session,
            member_id=contract.member_id,
            business_name=PREPAYMENT_EVENTS[event.type],
            content=_content(contract, prepayment, on),
            business_type="loan",
            dedupe_key=EVENT_KEY.format(prepayment.prepayment_no, event.event_id),
        )
        _audit(session, caller, contract, prepayment, event)
        return Decided(contract, prepayment, created=True)

    decided = commit_once(session, write)
    return lost_race(decided)


def _audit(
    session: Session,
    caller: Caller,
    contract: LoanContract,
    prepayment: LoanPrepayment,
    event: PrepaymentEvent,
    **extra: object,
) -> None:
    audit(
        session,
        caller,
        "internal.prepayment_event",
        contract.member_id,
        contract_no=contract.contract_no,
        prepayment_no=prepayment.prepayment_no,
        event=event.type,
        event_id=event.event_id,
        **extra,
    )


def _replayed(
    session: Session,
    caller: Caller,
    contract: LoanContract,
    prepayment: LoanPrepayment,
    event: PrepaymentEvent,
    fingerprint: str,
) -> Decided:
    if prepayment.decision_event_id != event.event_id:
        raise Conflict(
            "该提前还款申请已办结，不能再次处理",
            error_code="loan.prepayment_closed",
            prepayment_status=prepayment.status,
        )
    if prepayment.decision_hash != fingerprint:
        raise Conflict("该事件编号已用不同内容提交", error_code="loan.prepayment_event_conflict")
    _audit(session, caller, contract, prepayment, event, replayed=True)
    session.commit()
    return Decided(contract, prepayment, created=False)


def pending_prepayments(session: Session) -> list[tuple[LoanPrepayment, LoanContract]]:
    """Every pending booking with its contract, oldest first (the core system's work list)."""
    return queries.pending_prepayments(session)
