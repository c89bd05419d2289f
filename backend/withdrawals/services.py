"""Withdrawal applications (提取申请): eligibility and submission.

Submission is a money-moving request (:func:`backend.stepup.confirm_once`): it checks and
reserves under the account's row lock, in one transaction with the application, the member's inbox
message, the audit line and the idempotency record; money moves only when the core
system reports the payment (internal API).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy.orm import Session

from backend.accounts.models import FundAccount
from backend.accounts.queries import account_missing, account_of
from backend.applications.models import Application
from backend.applications.services import create_application
from backend.audit.services import RequestOrigin
from backend.errors import AppError
from backend.idempotency.services import StoredAnswer
from backend.inbox.services import post_message
from backend.members.models import Member
from backend.runtime import Runtime
from backend.settings import Settings
from backend.stepup import Audit, confirm_once
from backend.withdrawals import queries, rules

SCOPE = "withdrawals"
# Reason-specific fields a request may carry, kept on the application for the centre's review.
DETAIL_FIELDS = ("document_no", "loan_contract_no", "remark")


def policy(settings: Settings) -> rules.Policy:
    return rules.Policy(
        rent_monthly_share=settings.rent_monthly_share,
        min_balance=settings.withdrawal_min_balance,
    )


def refusal_error(refusal: rules.Refusal) -> AppError:
    errors = {refusal.field: [refusal.message]} if refusal.field else None
    return AppError(
        refusal.message,
        error_code=refusal.error_code,
        status_code=refusal.status,
        errors=errors,
    )


def check_reason(reason: str) -> str:
    if reason not in rules.REASONS:
        raise refusal_error(rules.unknown_reason(reason))
    return reason


@dataclass(frozen=True)
class Eligibility:
    balance: Decimal
    reserved: Decimal
    available: Decimal
    assessments: list[rules.Assessment]


def eligibility(session: Session, rt: Runtime, member_id: int, reason: str | None) -> Eligibility:
    """What the member may withdraw now, for one reason or for every reason offered online."""
    reasons = [check_reason(reason)] if reason else list(rules.REASONS)
    acct = existing_account(account_of(session, member_id))
    facts = queries.facts(session, rt.pii, acct)
    pol = policy(rt.settings)
    return Eligibility(
        balance=facts.balance,
        reserved=facts.reserved,
        available=rules.available_balance(facts),
        assessments=[rules.assess(r, facts, pol) for r in reasons],
    )


@dataclass(frozen=True)
class WithdrawalRequest:
    reason: str
    amount: Decimal
    bank_name: str
    bank_account: str
    sms_code: str
    extra: Mapping[str, str | None]

    def fingerprint(self) -> dict[str, Any]:
        """What makes two submissions "the same" for the Idempotency-Key: everything but the
        one-time SMS code (a retried request carries a new one)."""
        return {
            "reason": self.reason,
            "amount": str(self.amount),
            "bank_name": self.bank_name,
            "bank_account": self.bank_account,
            **{k: v for k, v in sorted(self.extra.items()) if v},
        }


def mask_bank_account(number: str) -> str:
    return number[:4] + "*" * (len(number) - 8) + number[-4:]


def refuse(refusal: rules.Refusal | None) -> None:
    """A rule's refusal leaves as its error; ``None`` (allowed) passes."""
    if refusal is not None:
        raise refusal_error(refusal)


def existing_account(acct: FundAccount | None) -> FundAccount:
    """The member's account as found (or locked by :func:`confirm_once`); none is a 404."""
    if acct is None:
        raise account_missing()
    return acct


def submit_withdrawal(
    session: Session,
    rt: Runtime,
    member: Member,
    request: WithdrawalRequest,
    *,
    idempotency_key: str | None,
    origin: RequestOrigin | None = None,
    serialize: Callable[[Application], dict[str, Any]],
) -> StoredAnswer:
    """Create the application once per Idempotency-Key (:func:`confirm_once`); ``serialize``
    (the route's schema) turns it into the answer stored for replays."""
    check_reason(request.reason)

    def check(acct: FundAccount | None) -> FundAccount:
        acct = existing_account(acct)
        facts = queries.facts(session, rt.pii, acct)
        refuse(
            rules.check_request(
                request.reason, request.amount, facts, policy(rt.settings), request.extra
            )
        )
        return acct

    return confirm_once(
        session,
        rt,
        member,
        scope=SCOPE,
        idempotency_key=idempotency_key,
        fingerprint=request.fingerprint(),
        sms_code=request.sms_code,
        check=check,
        write=lambda acct: _create(session, rt, member, request, acct.account_no),
        audit=lambda application: Audit(
            "withdrawal.submit",
            {
                "application_no": application.application_no,
                "reason": request.reason,
                "amount": str(request.amount),
            },
        ),
        origin=origin,
        answer=serialize,
    )


def _create(
    session: Session, rt: Runtime, member: Member, request: WithdrawalRequest, account_no: str
) -> Application:
    reason_name = rules.REASONS[request.reason]
    details: dict[str, Any] = {
        "reason_name": reason_name,
        "account_no": account_no,
        "bank_name": request.bank_name,
        "bank_account_masked": mask_bank_account(request.bank_account),
        # The core system pays to this account; at rest it is encrypted like identity data.
        "bank_account_enc": rt.pii.encrypt(request.bank_account),
        "closes_account": request.reason in rules.CLOSURE_REASONS,
    }
    details.update({k: v for k, v in request.extra.items() if k in DETAIL_FIELDS and v})
    application = create_application(
        session,
        member_id=member.id,
        kind="withdrawal",
        reason=request.reason,
        amount=request.amount,
        details=details,
    )
    post_message(
        session,
        member_id=member.id,
        business_name="提取申请",
        content=(
            f"您的{reason_name}提取申请（编号{application.application_no}）已提交，"
            f"提取金额{request.amount:.2f}元，我们将按受理、审核、审批、支付的顺序为您办理，"
            "办理进度可在“我发起的”中查看。"
        ),
        business_type="withdrawal",
        source_channel="个人网厅",
        application_id=application.id,
        dedupe_key=f"withdrawal-submitted:{application.application_no}",
    )
    return application
