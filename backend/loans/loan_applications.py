"""贷款申请: what an application would get (可贷额度与利率), the centre's checks, and the
application itself, a money-moving request (:func:`backend.stepup.confirm_once`)."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy.orm import Session

from backend.accounts.models import ACCOUNT_STATUS, FundAccount
from backend.applications.models import Application
from backend.applications.services import create_application
from backend.audit.services import RequestOrigin
from backend.errors import Conflict, ValidationFailed
from backend.idempotency.services import StoredAnswer
from backend.loans import amortisation, queries, rates, rules
from backend.loans.contracts import percent, rule_errors
from backend.members.models import Member
from backend.runtime import Runtime
from backend.settings import Settings
from backend.stepup import Audit, confirm_once

logger = logging.getLogger(__name__)

LOAN_PURPOSES = {"purchase": "购买自住住房", "build": "建造、翻建、大修自住住房"}
IDEMPOTENCY_SCOPE = "loan-applications"


def _month_key(day: dt.date, back: int = 0) -> str:
    return amortisation.add_months(day.replace(day=1), -back).strftime("%Y-%m")


NO_ACCOUNT = "您尚未开立住房公积金个人账户，不能申请贷款"


def amount_limit(balance: Decimal, settings: Settings) -> Decimal:
    """可贷额度: the balance times the centre's multiple, never above its ceiling."""
    return min(
        (balance * settings.loan_balance_multiple).quantize(rules.FEN), settings.loan_ceiling
    )


@dataclass(frozen=True)
class LoanQuota:
    """What an application would get (LoanQuotaSchema dumps it); no account: no limit, no
    balance, and the ``notice`` why an application would be refused."""

    amount_limit: Decimal | None
    balance: Decimal | None
    balance_multiple: Decimal
    ceiling: Decimal
    term_months: int
    first_home: bool
    annual_rate: Decimal
    notice: str | None
    max_term_months: int = rules.MAX_MONTHS


def loan_quota(
    session: Session,
    settings: Settings,
    member_id: int,
    *,
    months: int,
    first_home: bool,
    today: dt.date,
) -> LoanQuota:
    """What an application would get before it is made: the amount limit and the benchmark rate
    for the term. No account: no limit, and the reason the application would be refused."""
    account = queries.member_account(session, member_id)
    with rule_errors({"months": "term_months"}):
        months = rules.validate_months(months)
        rate = rates.benchmark_rate(today, months, second_home=not first_home)
    return LoanQuota(
        amount_limit=None if account is None else amount_limit(account.balance, settings),
        balance=None if account is None else account.balance,
        balance_multiple=settings.loan_balance_multiple,
        ceiling=settings.loan_ceiling,
        term_months=months,
        first_home=first_home,
        annual_rate=percent(rate),
        notice=NO_ACCOUNT if account is None else None,
    )


def check_eligibility(
    session: Session,
    settings: Settings,
    member_id: int,
    account: FundAccount | None,
    amount: Decimal,
    today: dt.date,
) -> None:
    """The centre's checks before a loan application is accepted (``account``: the member's,
    locked by :func:`confirm_once`); raises on the first failure."""
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
    if open_business.contract:
        raise Conflict(
            "您有尚未结清的公积金贷款，暂不能再次申请", error_code="loan.open_contract_exists"
        )
    if open_business.application:
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


def apply_for_loan(
    session: Session,
    rt: Runtime,
    member: Member,
    payload: dict[str, Any],
    *,
    idempotency_key: str | None,
    origin: RequestOrigin,
    today: dt.date,
    serialize: Callable[[Application], dict[str, Any]],
) -> StoredAnswer:
    """Submit a loan application (贷款申请) once per ``Idempotency-Key``, a money-moving request
    (:func:`confirm_once`: two racing submissions must not both pass "no open application").

    The centre's checks, then the step-up SMS code is consumed, then the application is created
    with its first node current. ``serialize`` (the route's schema) turns it into the answer
    stored for replays. The SMS code is not part of the replay fingerprint, so a retry after a
    lost answer replays even with a fresh code.
    """
    settings = rt.settings

    def check(account: FundAccount | None) -> tuple[Decimal, int, rules.Method]:
        with rule_errors({"principal": "amount", "months": "term_months"}):
            amount = rules.validate_principal(payload["amount"], ceiling=settings.loan_ceiling)
            months = rules.validate_months(payload["term_months"])
            method = rules.Method.parse(payload["method"])
        check_eligibility(session, settings, member.id, account, amount, today)
        return amount, months, method

    def write(checked: tuple[Decimal, int, rules.Method]) -> Application:
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
        logger.info(
            "loan application submitted",
            extra={"member_id": member.id, "application_no": application.application_no},
        )
        return application

    return confirm_once(
        session,
        rt,
        member,
        scope=IDEMPOTENCY_SCOPE,
        idempotency_key=idempotency_key,
        fingerprint={k: v for k, v in payload.items() if k != "sms_code"},
        sms_code=payload["sms_code"],
        check=check,
        write=write,
        audit=lambda application: Audit(
            "loan.application_submitted",
            {"application_no": application.application_no, "amount": str(application.amount)},
        ),
        origin=origin,
        answer=serialize,
    )
