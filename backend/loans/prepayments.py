"""提前还款: the trial (试算) against the schedule as it stands, and 提前还款申请: the member books a partial or full prepayment for a date; the core system books
or refuses it (``backend.integration.prepayment_events``), and the booked one re-amortises the
contract through the one schedule engine (:mod:`backend.loans.amortisation`).

No Flask here. Booking takes the SMS step-up and an ``Idempotency-Key``
(:func:`backend.stepup.confirm_once`); one prepayment is pending per contract.
"""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy.orm import Session

from backend import events
from backend.accounts.models import FundAccount
from backend.audit.services import RequestOrigin
from backend.clock import utcnow
from backend.errors import Conflict, ValidationFailed
from backend.idempotency.services import StoredAnswer
from backend.loans import prepayment_rules, queries, rules
from backend.loans.contracts import (
    LoanState,
    disbursed,
    first_due_date,
    loan_state,
    member_contract,
    not_disbursed_notice,
    rule_errors,
)
from backend.loans.models import (
    PREPAYMENT_KINDS,
    PREPAYMENT_OPTIONS,
    LoanContract,
    LoanPrepayment,
    LoanRepayment,
)
from backend.members.models import Member
from backend.pagination import Page
from backend.runtime import Runtime
from backend.settings import Settings
from backend.stepup import Audit, confirm_once

SCOPE = "loan-prepayments"


def new_prepayment_no() -> str:
    return f"HK{utcnow():%Y%m%d}{secrets.randbelow(10**8):08d}"


def repayment_day(contract: LoanContract) -> int:
    """The contract's deduction day: as recorded at disbursal, else the first due date's day."""
    if contract.repayment_day:
        return contract.repayment_day
    first = first_due_date(contract)
    assert first is not None
    return first.day


def list_prepayments(session: Session, member_id: int, contract_no: str) -> Page[LoanPrepayment]:
    """The contract's bookings, newest first (each reads its contract from the session)."""
    contract = member_contract(session, member_id, contract_no)
    return Page(queries.contract_prepayments(session, contract.id))


# --- prepayment quotes (提前还款试算) -------------------------------------------------------------


RULE_KINDS = {
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
) -> ContractQuote:
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
    return contract_quote(contract.contract_no, kind, option, quote)


def prepayment_kind(kind: str, option: str | None) -> prepayment_rules.PrepaymentKind:
    return RULE_KINDS[(kind, option if kind == "partial" else None)]


@dataclass(frozen=True)
class ContractQuote:
    """A prepayment quote of a contract as answered (试算, and the figures kept on a booking):
    PrepaymentQuoteSchema dumps it."""

    contract_no: str
    kind: str
    option: str | None
    quote: prepayment_rules.PrepaymentQuote


def contract_quote(
    contract_no: str, kind: str, option: str | None, quote: prepayment_rules.PrepaymentQuote
) -> ContractQuote:
    return ContractQuote(contract_no, kind, option if kind == "partial" else None, quote)


# --- bookings (提前还款申请) ------------------------------------------------------------------------


def book_prepayment(
    session: Session,
    rt: Runtime,
    member: Member,
    contract_no: str,
    payload: dict[str, Any],
    *,
    idempotency_key: str | None,
    origin: RequestOrigin,
    today: dt.date,
    serialize: Callable[[LoanPrepayment], dict[str, Any]],
    serialize_quote: Callable[[ContractQuote], dict[str, Any]],
) -> StoredAnswer:
    """Book a prepayment (提前还款申请) once per ``Idempotency-Key``, a money-moving request
    (:func:`confirm_once`): the date and amount are checked by the rules and quoted, then the
    SMS code is consumed and the booking stored pending, with the member's message.
    ``serialize`` gives the stored answer, ``serialize_quote`` the quote as kept on the booking
    (the route's schemas)."""
    settings = rt.settings
    kind, option = payload["kind"], payload.get("option") if payload["kind"] == "partial" else None
    on: dt.date = payload["prepay_on"]

    def check(
        _account: FundAccount | None,
    ) -> tuple[LoanContract, prepayment_rules.PrepaymentQuote]:
        contract, state = prepayable(session, member.id, contract_no)
        if queries.pending_prepayment(session, contract.id) is not None:
            raise Conflict(
                "该合同已有待中心确认的提前还款申请，请待其办结后再申请",
                error_code="loan.prepayment_pending",
            )
        window = settings.prepayment_blackout_days
        refusal = prepayment_rules.prepayment_refusal(
            state.schedule, today, window_days=0, paid_periods=len(state.paid)
        )
        if refusal == "loan.prepayment_overdue":
            raise ValidationFailed(prepayment_rules.REFUSAL_MESSAGES[refusal], error_code=refusal)
        upcoming = state.upcoming
        if not upcoming:
            raise ValidationFailed(
                prepayment_rules.REFUSAL_MESSAGES["loan.settled"], error_code="loan.settled"
            )
        refused = prepayment_rules.booking_refusal(
            on,
            today=today,
            next_due=upcoming[0].due_date,
            repayment_day=repayment_day(contract),
            paid_periods=len(state.paid),
            window_days=window,
        )
        if refused is not None:
            code, message = refused
            raise ValidationFailed(message, error_code=code, errors={"prepay_on": [message]})
        with rule_errors():
            quote = prepayment_rules.quote_prepayment(
                state.schedule,
                on,
                prepayment_kind(kind, option),
                payload.get("amount"),
                window_days=window,
                paid_periods=len(state.paid),
            )
        return contract, quote

    def write(
        checked: tuple[LoanContract, prepayment_rules.PrepaymentQuote],
    ) -> tuple[LoanPrepayment, prepayment_rules.PrepaymentQuote]:
        contract, quote = checked
        prepayment = LoanPrepayment(
            prepayment_no=new_prepayment_no(),
            contract_id=contract.id,
            member_id=member.id,
            kind=kind,
            option=option,
            amount=quote.prepaid_principal if kind == "partial" else None,
            prepay_on=on,
            status="pending",
            quote=serialize_quote(contract_quote(contract.contract_no, kind, option, quote)),
            opinion="",
        )
        session.add(prepayment)
        session.flush()
        what = PREPAYMENT_KINDS[kind] + (f"（{PREPAYMENT_OPTIONS[option]}）" if option else "")
        events.record(
            session,
            events.MemberNotified(
                member_id=member.id,
                business_name="提前还款申请",
                content=(
                    f"您的借款合同（{contract.contract_no}）{what}申请（编号{prepayment.prepayment_no}）"
                    f"已提交，预约还款日期{on:%Y年%m月%d日}，预计应还{quote.amount_due}元。"
                    "请于该日前在还款账户中备足资金，中心办理后将通知您。"
                ),
                business_type="loan",
                source_channel="个人网厅",
                dedupe_key=f"prepayment-submitted:{prepayment.prepayment_no}",
            ),
        )
        return prepayment, quote

    fingerprint = {
        "contract_no": contract_no,
        "kind": kind,
        "option": option,
        "amount": str(payload.get("amount")) if payload.get("amount") is not None else None,
        "prepay_on": on.isoformat(),
    }
    return confirm_once(
        session,
        rt,
        member,
        scope=SCOPE,
        idempotency_key=idempotency_key,
        fingerprint=fingerprint,
        sms_code=payload["sms_code"],
        check=check,
        write=write,
        audit=lambda booked: Audit(
            "loan.prepayment_booked",
            {
                "contract_no": booked[0].contract.contract_no,
                "prepayment_no": booked[0].prepayment_no,
                "kind": kind,
                "amount": str(booked[1].prepaid_principal),
            },
        ),
        origin=origin,
        answer=lambda booked: serialize(booked[0]),
    )


def book_into_contract(
    session: Session,
    contract: LoanContract,
    prepayment: LoanPrepayment,
    *,
    principal: Decimal,
    interest: Decimal,
    on: dt.date,
) -> LoanRepayment:
    """The core system booked ``prepayment``: its principal is repaid on ``on`` (folded into the
    last paid period, so the one schedule engine re-amortises what remains), a shorten-term one
    shortens the contract's term, a full one settles the contract. Raises 422 on figures the
    rules refuse (a partial principal not below the balance, a full one not the balance)."""
    state = loan_state(session, contract)
    if not state.paid:
        raise ValidationFailed(
            prepayment_rules.BOOKING_REFUSALS["loan.prepayment_before_first_instalment"],
            error_code="loan.prepayment_before_first_instalment",
        )
    kind = prepayment_kind(prepayment.kind, prepayment.option)
    if kind is prepayment_rules.PrepaymentKind.FULL and principal != state.balance:
        message = f"全部提前还款的本金须等于剩余本金 {state.balance} 元"
        raise ValidationFailed(
            message,
            error_code="loan.prepayment_principal_mismatch",
            errors={"principal": [message]},
        )
    with rule_errors({"amount": "principal"}):
        quote = prepayment_rules.quote_prepayment(
            state.schedule,
            on,
            kind,
            None if kind is prepayment_rules.PrepaymentKind.FULL else principal,
            window_days=0,
        )
    last = state.paid[-1]
    balance = state.balance - principal
    repayment = LoanRepayment(
        contract_id=contract.id,
        period=last.period,
        due_date=last.due_date,
        paid_on=on,
        principal=principal,
        interest=interest,
        penalty=Decimal("0.00"),
        balance_after=balance,
        channel="prepayment",
        external_id=f"prepay:{prepayment.prepayment_no}",
    )
    session.add(repayment)
    contract.balance = balance
    if kind is prepayment_rules.PrepaymentKind.SHORTEN_TERM:
        contract.term_months = prepayment_rules.term_after_prepayment(state.schedule, quote)
    elif kind is prepayment_rules.PrepaymentKind.FULL:
        contract.status = rules.loan_transition(contract.status, "settled")
        contract.settled_on = on
    return repayment
