"""Withdrawal (提取) rules of the centre: which reasons an account may use online, how much it may
take, and why not. Pure functions over plain facts (stdlib and Decimal only), so every refusal is
unit-testable without a database.

Reasons offered online and their limits (the table is in ``docs/RULES.md``):
- rent (租房): at most ``rent_monthly_share`` of the monthly deposit, once per calendar month,
  not while the member repays a provident fund loan (the loan already serves their housing);
- purchase (购房): up to the withdrawable balance, with the purchase contract / title number, once
  per document (one home, one purchase withdrawal);
- loan_repayment (偿还贷款): up to the withdrawable balance and the loan's remaining principal, for
  one of the member's own contracts in repayment, once per calendar year;
- retirement (离退休): the full balance, and the account is closed, once the statutory retirement
  age is reached (``retirement.py``) or the core system recorded the retirement;
- leaving (离职/户口迁出): the full balance, and the account is closed, once the account has been
  sealed (no deposit) for ``LEAVING_SEALED_MONTHS`` months.

Normal (正常) accounts may use every reason; sealed (封存) accounts only the closure-type ones,
and leaving requires the account to be sealed first (the employer stops depositing when the member
leaves); frozen (冻结) and closed (销户) accounts never withdraw online.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import ROUND_DOWN, Decimal

from backend.applications.rules import REASON_NAMES
from backend.withdrawals.retirement import (
    RetirementFacts,
    age_label,
    default_category,
    retirement_age_months,
    retirement_reached,
)

FEN = Decimal("0.01")
ZERO = Decimal("0.00")

REASONS: dict[str, str] = REASON_NAMES["withdrawal"]
# Reasons that take the whole balance and close the account (销户类提取).
CLOSURE_REASONS = frozenset({"retirement", "leaving"})
# The reason-specific field each reason needs, with its Chinese label.
REQUIRED_FIELDS: dict[str, tuple[str, str]] = {
    "purchase": ("document_no", "购房合同编号或不动产权证号"),
    "loan_repayment": ("loan_contract_no", "借款合同编号"),
}
ACCOUNT_STATUS_NAMES = {"normal": "正常", "sealed": "封存", "frozen": "冻结", "closed": "销户"}
# Loan statuses a loan-repayment withdrawal may pay towards (disbursed and not settled).
REPAYING_LOAN_STATUSES = frozenset({"repaying", "overdue"})
# Months an account stays sealed (no deposit since 缴至年月) before a leaving withdrawal.
LEAVING_SEALED_MONTHS = 6

CONFLICT = 409
INVALID = 422


@dataclass(frozen=True)
class Policy:
    """The centre's configurable figures (from settings)."""

    rent_monthly_share: Decimal
    min_balance: Decimal


@dataclass(frozen=True)
class LoanFacts:
    """One of the member's loan contracts as the core system reported it."""

    contract_no: str
    status: str
    balance: Decimal  # remaining principal


@dataclass(frozen=True)
class AccountFacts:
    """What the rules need to know about the account, read under its row lock."""

    status: str
    balance: Decimal
    monthly_amount: Decimal
    today: dt.date  # business date (Asia/Shanghai)
    reserved: Decimal = ZERO  # amounts of the member's open withdrawal applications
    open_applications: int = 0
    rent_applications_this_month: int = 0
    # Unknown identity (``RetirementFacts(None)``) never reaches retirement.
    retirement: RetirementFacts = RetirementFacts(identity=None)
    paid_through: str | None = None  # 缴至年月 "YYYY-MM"
    loans: tuple[LoanFacts, ...] = ()
    loan_repayment_withdrawals_this_year: int = 0
    # Purchase documents of earlier purchase withdrawals (not refused or cancelled).
    purchase_documents: frozenset[str] = frozenset()
    # A monthly rent withdrawal arrangement (按月提取) is active: it pays the rent every month.
    rent_arrangement_active: bool = False

    def repaying_loans(self) -> tuple[LoanFacts, ...]:
        return tuple(loan for loan in self.loans if loan.status in REPAYING_LOAN_STATUSES)


@dataclass(frozen=True)
class Refusal:
    error_code: str
    message: str
    status: int = CONFLICT
    field: str | None = None


@dataclass(frozen=True)
class Assessment:
    reason: str
    withdrawable: Decimal  # the most this reason could take now (0 when refused)
    full_balance_only: bool
    limits: list[str]
    refusals: list[Refusal] = field(default_factory=list)

    @property
    def eligible(self) -> bool:
        return not self.refusals

    @property
    def reason_name(self) -> str:
        return REASONS[self.reason]


def yuan(amount: Decimal) -> str:
    return f"{amount.quantize(FEN)}元"


def unknown_reason(reason: str) -> Refusal:
    return Refusal(
        "withdrawal.reason_unknown",
        "不支持该提取原因，请选择租房、购房、偿还贷款、离退休或离职/户口迁出",
        INVALID,
        "reason",
    )


def available_balance(facts: AccountFacts) -> Decimal:
    """Balance less what open applications already reserve (money moves only when paid)."""
    return max(facts.balance - facts.reserved, ZERO)


def rent_cap(facts: AccountFacts, policy: Policy) -> Decimal:
    return (facts.monthly_amount * policy.rent_monthly_share).quantize(FEN, rounding=ROUND_DOWN)


def _status_refusal(reason: str, status: str) -> Refusal | None:
    name = ACCOUNT_STATUS_NAMES.get(status, status)
    if status == "frozen":
        return Refusal(
            "withdrawal.account_frozen",
            "您的公积金账户已冻结，暂不能办理提取，请联系公积金中心",
        )
    if status == "closed":
        return Refusal("withdrawal.account_closed", "您的公积金账户已销户，不能办理提取")
    if status == "sealed" and reason not in CLOSURE_REASONS:
        return Refusal(
            "withdrawal.account_sealed",
            f"您的公积金账户已封存，不能办理{REASONS[reason]}提取，"
            "封存账户仅可办理离退休或离职/户口迁出提取",
        )
    if reason == "leaving" and status != "sealed":
        return Refusal(
            "withdrawal.account_not_sealed",
            "办理离职/户口迁出提取须账户已封存，请先由单位为您办理封存",
        )
    if status not in ("normal", "sealed"):
        return Refusal("withdrawal.account_status", f"账户状态为{name}，暂不能办理提取")
    return None


def _withdrawable(reason: str, facts: AccountFacts, policy: Policy) -> Decimal:
    available = available_balance(facts)
    if reason in CLOSURE_REASONS:
        # Closure takes everything: nothing is kept back.
        return available
    kept = max(available - policy.min_balance, ZERO)
    if reason == "rent":
        return min(kept, rent_cap(facts, policy))
    return kept


def _limits(reason: str, facts: AccountFacts, policy: Policy) -> list[str]:
    limits: list[str] = []
    if reason == "rent":
        share = (policy.rent_monthly_share * 100).normalize()
        limits.append(f"每月提取额不超过月缴存额的{share:f}%（{yuan(rent_cap(facts, policy))}）")
        limits.append("每个自然月限提取一次")
        limits.append("有未结清住房公积金贷款的不能办理")
    elif reason == "purchase":
        limits.append("同一购房合同或不动产权证只能提取一次")
    elif reason == "loan_repayment":
        limits.append("仅限本人在还款中的住房公积金贷款，不超过贷款剩余本金")
        limits.append("每个自然年限提取一次")
    elif reason == "retirement":
        limits.append("须达到法定退休年龄（渐进式延迟法定退休年龄）或已由中心登记退休")
    elif reason == "leaving":
        limits.append(f"须账户封存满{LEAVING_SEALED_MONTHS}个月")
    if reason in CLOSURE_REASONS:
        limits.append("须一次提取账户全部余额，提取后账户销户")
    elif policy.min_balance > ZERO:
        limits.append(f"账户须保留余额{yuan(policy.min_balance)}")
    if reason in REQUIRED_FIELDS:
        limits.append(f"须提供{REQUIRED_FIELDS[reason][1]}")
    limits.append("同一时间只能有一笔办理中的提取申请")
    return limits


def _months_between(earlier: tuple[int, int], later: dt.date) -> int:
    return (later.year - earlier[0]) * 12 + later.month - earlier[1]


def _paid_through(value: str | None) -> tuple[int, int] | None:
    try:
        year, month = (int(part) for part in (value or "").split("-"))
    except ValueError:
        return None
    return (year, month) if 1 <= month <= 12 else None


def rent_once_per_month() -> Refusal:
    return Refusal(
        "withdrawal.rent_once_per_month",
        "租房提取每个自然月只能办理一次，本月您已办理过，请下月再申请",
    )


def rent_loan_refusal(facts: AccountFacts) -> Refusal | None:
    """Rent is not withdrawn while the member repays a fund loan (the loan houses them)."""
    if not facts.repaying_loans():
        return None
    return Refusal(
        "withdrawal.rent_loan_outstanding",
        "您有未结清的住房公积金贷款，不能办理租房提取，可申请偿还贷款提取",
    )


def rent_limit_refusal(amount: Decimal, cap: Decimal, policy: Policy) -> Refusal | None:
    """The city's monthly rent limit: a share of the monthly deposit."""
    if amount <= cap:
        return None
    return Refusal(
        "withdrawal.rent_monthly_limit",
        f"租房提取每月不超过月缴存额的"
        f"{(policy.rent_monthly_share * 100).normalize():f}%，每月最多可提取{yuan(cap)}",
        INVALID,
        "amount",
    )


def amount_refusal(amount: Decimal, field_name: str = "amount") -> Refusal | None:
    if amount > ZERO and amount == amount.quantize(FEN):
        return None
    return Refusal(
        "withdrawal.amount_invalid",
        "提取金额应大于 0 且最多保留两位小数",
        INVALID,
        field_name,
    )


def retirement_refusal(facts: AccountFacts) -> Refusal | None:
    """离退休: the statutory age (gradual reform since 2025) or a retirement the core recorded."""
    reached, when = retirement_reached(facts.retirement, facts.today)
    if reached:
        return None
    identity = facts.retirement.identity
    if identity is None or when is None:
        detail = "未能从您的证件号码确认法定退休年龄"
    else:
        months = retirement_age_months(identity.birth, default_category(identity.male))
        detail = f"您的法定退休年龄为{age_label(months)}，将于{when:%Y年%m月%d日}达到"
    return Refusal(
        "withdrawal.retirement_age_not_reached",
        f"离退休提取须达到法定退休年龄（按渐进式延迟法定退休年龄规定）或已由中心登记退休，"
        f"{detail}；如已办理退休手续，请携带退休证明到中心柜台办理",
    )


def leaving_refusal(facts: AccountFacts) -> Refusal | None:
    """离职/户口迁出: the account sealed (nothing deposited) for ``LEAVING_SEALED_MONTHS``."""
    paid = _paid_through(facts.paid_through)
    if facts.status != "sealed" or paid is None:
        return None
    if _months_between(paid, facts.today) >= LEAVING_SEALED_MONTHS:
        return None
    year, month = divmod(paid[0] * 12 + paid[1] - 1 + LEAVING_SEALED_MONTHS, 12)
    return Refusal(
        "withdrawal.sealed_too_recent",
        f"离职/户口迁出提取须账户封存满{LEAVING_SEALED_MONTHS}个月，您的账户缴至"
        f"{paid[0]}年{paid[1]:02d}月，可于{year}年{month + 1:02d}月起申请",
    )


def _reason_refusals(reason: str, facts: AccountFacts) -> list[Refusal]:
    """What each reason checks beyond the account status (frequency, loans, retirement …)."""
    found: list[Refusal | None] = []
    if reason == "rent":
        if facts.rent_applications_this_month:
            found.append(rent_once_per_month())
        if facts.rent_arrangement_active:
            found.append(
                Refusal(
                    "withdrawal.rent_arrangement_active",
                    "您已办理租房按月提取，每月由中心自动提取，不能另行办理租房提取",
                )
            )
        found.append(rent_loan_refusal(facts))
    elif reason == "loan_repayment":
        if not facts.repaying_loans():
            found.append(
                Refusal(
                    "withdrawal.no_repaying_loan",
                    "您没有正在还款的住房公积金贷款；网上仅可办理偿还本中心公积金贷款的提取，"
                    "偿还商业贷款请到中心柜台办理",
                )
            )
        if facts.loan_repayment_withdrawals_this_year:
            found.append(
                Refusal(
                    "withdrawal.loan_repayment_once_per_year",
                    "偿还贷款提取每个自然年只能办理一次，今年您已办理过，请明年再申请",
                )
            )
    elif reason == "retirement":
        found.append(retirement_refusal(facts))
    elif reason == "leaving":
        found.append(leaving_refusal(facts))
    return [r for r in found if r is not None]


def _document_refusal(
    reason: str, amount: Decimal, facts: AccountFacts, value: str
) -> Refusal | None:
    """The reason's document checked against what the core system holds."""
    if reason == "purchase" and value in facts.purchase_documents:
        return Refusal(
            "withdrawal.document_already_used",
            "该购房合同或不动产权证已办理过购房提取，同一套住房只能办理一次",
            CONFLICT,
            "document_no",
        )
    if reason != "loan_repayment":
        return None
    loan = next((x for x in facts.loans if x.contract_no == value), None)
    if loan is None:
        return Refusal(
            "withdrawal.loan_contract_unknown",
            "借款合同编号不存在或不是您本人的住房公积金贷款",
            INVALID,
            "loan_contract_no",
        )
    if loan.status not in REPAYING_LOAN_STATUSES:
        return Refusal(
            "withdrawal.loan_not_repaying",
            "该借款合同未放款或已结清，不能办理偿还贷款提取",
            CONFLICT,
            "loan_contract_no",
        )
    if amount > loan.balance:
        return Refusal(
            "withdrawal.exceeds_loan_balance",
            f"提取金额超过该贷款剩余本金，最多可提取{yuan(loan.balance)}",
            INVALID,
            "amount",
        )
    return None


def assess(reason: str, facts: AccountFacts, policy: Policy) -> Assessment:
    """Eligibility of ``reason`` before any amount is chosen: the refusals that already apply,
    the withdrawable amount and the limits to show the member."""
    if reason not in REASONS:
        raise ValueError(f"unknown reason {reason!r}")
    refusals: list[Refusal] = []
    status_refusal = _status_refusal(reason, facts.status)
    if status_refusal:
        refusals.append(status_refusal)
    if facts.open_applications:
        refusals.append(
            Refusal(
                "withdrawal.open_application_exists",
                "您有一笔提取申请正在办理中，请待其办结后再申请",
            )
        )
    refusals.extend(_reason_refusals(reason, facts))
    withdrawable = _withdrawable(reason, facts, policy)
    if not refusals and withdrawable <= ZERO:
        refusals.append(
            Refusal(
                "withdrawal.nothing_withdrawable",
                "您的账户当前没有可提取的余额",
            )
        )
    return Assessment(
        reason=reason,
        withdrawable=withdrawable if not refusals else ZERO,
        full_balance_only=reason in CLOSURE_REASONS,
        limits=_limits(reason, facts, policy),
        refusals=refusals,
    )


def check_request(
    reason: str,
    amount: Decimal,
    facts: AccountFacts,
    policy: Policy,
    fields: Mapping[str, str | None],
) -> Refusal | None:
    """The first refusal of a concrete request, or ``None`` when it may be submitted."""
    if reason not in REASONS:
        return unknown_reason(reason)
    assessment = assess(reason, facts, policy)
    if assessment.refusals:
        return assessment.refusals[0]
    invalid = amount_refusal(amount)
    if invalid is not None:
        return invalid
    if reason in REQUIRED_FIELDS:
        name, label = REQUIRED_FIELDS[reason]
        value = (fields.get(name) or "").strip()
        if not value:
            return Refusal(
                f"withdrawal.{name}_required",
                f"办理{REASONS[reason]}提取须填写{label}",
                INVALID,
                name,
            )
        document = _document_refusal(reason, amount, facts, value)
        if document is not None:
            return document
    available = available_balance(facts)
    if reason in CLOSURE_REASONS:
        if amount != available:
            return Refusal(
                "withdrawal.full_balance_required",
                f"{REASONS[reason]}提取须一次提取全部余额{yuan(available)}",
                INVALID,
                "amount",
            )
        return None
    if reason == "rent":
        over = rent_limit_refusal(amount, rent_cap(facts, policy), policy)
        if over is not None:
            return over
    if amount > assessment.withdrawable:
        return Refusal(
            "withdrawal.balance_insufficient",
            f"提取金额超过可提取余额，当前最多可提取{yuan(assessment.withdrawable)}",
            INVALID,
            "amount",
        )
    return None


# --- Monthly rent withdrawal (按月提取 / 租房委托提取) ------------------------------------------
# The member signs up once; the core system then pays one rent withdrawal a month (through the
# ledger API) within the city's limit. The rent checks above apply to the arrangement too.


def _arrangement_refusals(facts: AccountFacts) -> list[Refusal]:
    found = [_status_refusal("rent", facts.status)]
    if facts.rent_arrangement_active:
        found.append(
            Refusal(
                "withdrawal.rent_arrangement_exists",
                "您已有一项正在执行的租房按月提取委托，请先终止后再重新办理",
            )
        )
    found.append(rent_loan_refusal(facts))
    return [r for r in found if r is not None]


def assess_arrangement(facts: AccountFacts, policy: Policy) -> Assessment:
    """Whether the member may sign up for the monthly rent withdrawal, and its monthly limit
    (``withdrawable``)."""
    refusals = _arrangement_refusals(facts)
    cap = rent_cap(facts, policy)
    if not refusals and cap <= ZERO:
        refusals.append(
            Refusal("withdrawal.nothing_withdrawable", "您的账户没有月缴存额，不能办理按月提取")
        )
    share = (policy.rent_monthly_share * 100).normalize()
    return Assessment(
        reason="rent",
        withdrawable=cap if not refusals else ZERO,
        full_balance_only=False,
        limits=[
            f"每月提取额不超过月缴存额的{share:f}%（{yuan(cap)}）",
            "每月由中心自动提取一次，转入您指定的本人银行卡",
            "同一时间只能有一项按月提取委托",
            "有未结清住房公积金贷款的不能办理",
            "委托期间不能另行办理租房提取，可随时终止委托",
        ],
        refusals=refusals,
    )


def check_arrangement(amount: Decimal, facts: AccountFacts, policy: Policy) -> Refusal | None:
    """The first refusal of a sign-up for ``amount`` a month, or ``None``."""
    assessment = assess_arrangement(facts, policy)
    if assessment.refusals:
        return assessment.refusals[0]
    return amount_refusal(amount, "monthly_amount") or rent_limit_refusal(
        amount, rent_cap(facts, policy), policy
    )


@dataclass(frozen=True)
class MonthlyTransfer:
    """One month's payment the core system books under an arrangement."""

    arrangement_status: str
    monthly_amount: Decimal  # the arrangement's monthly figure
    amount: Decimal  # positive: what leaves the account
    transfers_this_month: int  # earlier transfers of the arrangement in the entry's month


def check_monthly_transfer(transfer: MonthlyTransfer, facts: AccountFacts) -> Refusal | None:
    """Why the core system may not pay this month's rent under the arrangement, or ``None``."""
    if transfer.arrangement_status != "active":
        return Refusal(
            "withdrawal.rent_arrangement_not_active",
            "该租房按月提取委托已终止，不能再按委托提取",
        )
    found = [
        _status_refusal("rent", facts.status),
        rent_loan_refusal(facts),
        rent_once_per_month() if transfer.transfers_this_month else None,
    ]
    refusal = next((r for r in found if r is not None), None)
    if refusal is not None:
        return refusal
    if transfer.amount > transfer.monthly_amount:
        return Refusal(
            "withdrawal.rent_monthly_limit",
            f"超过委托的每月提取额{yuan(transfer.monthly_amount)}",
            INVALID,
            "amount",
        )
    return None
