"""Loan rules: the shared ground of the loan engine (errors, repayment methods, fen rounding),
overdue penalties, the bounds of loan inputs and the contract life cycle.

Pure functions over ``Decimal`` and ``date`` (stdlib only, no Flask, no SQLAlchemy), so the web
layer, the worker and the benchmarks share one implementation. The engine's other parts, as pure:
:mod:`backend.loans.rates` (rate histories, the benchmark table), :mod:`backend.loans.amortisation`
(repayment schedules) and :mod:`backend.loans.prepayment_rules` (prepayment quotes and refusals).

Conventions (the centre's loan rules, checked against an independent calculator):

* Amounts are in fen, rounded ``ROUND_HALF_UP``. The monthly rate ``r = annual / 1200`` is never
  rounded; arithmetic runs in a 34-digit decimal context whatever the caller's context is.
* Every figure (monthly payment, totals, remaining balance, next due) is read off one schedule made
  by :func:`backend.loans.amortisation.generate_schedule`; separate closed formulas drift by a fen.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Context, Decimal, InvalidOperation, localcontext
from enum import StrEnum
from typing import TypeVar

_T = TypeVar("_T")

FEN = Decimal("0.01")
ZERO = Decimal("0.00")
# 28 digits is the floor the conventions ask for; 34 leaves room for (1 + r) ** 360.
DECIMAL_CONTEXT = Context(prec=34)

PRINCIPAL_CEILING = Decimal("5000000.00")
MAX_MONTHS = 360
MAX_ANNUAL_RATE = Decimal("20")


class LoanRuleError(ValueError):
    """Input or a request the loan rules refuse. The web layer answers it with a 422.

    ``errors`` maps field names to messages when the problem is in specific fields.
    """

    def __init__(
        self, error_code: str, message: str, *, errors: dict[str, list[str]] | None = None
    ) -> None:
        super().__init__(message)
        self.error_code = error_code
        self.message = message
        self.errors = errors


class PrepaymentRefused(LoanRuleError):
    """Prepayment is not possible today (deduction window, overdue periods, loan settled)."""


class Method(StrEnum):
    EQUAL_INSTALLMENT = "equal_installment"  # 等额本息
    EQUAL_PRINCIPAL = "equal_principal"  # 等额本金

    @property
    def label(self) -> str:
        return METHOD_LABELS[self]

    @classmethod
    def parse(cls, value: str | Method) -> Method:
        """Accept the code (``equal_installment``) or the Chinese label (``等额本息``)."""
        if isinstance(value, Method):
            return value
        for method in cls:
            if value in (method.value, METHOD_LABELS[method]):
                return method
        raise LoanRuleError(
            "loan.method_invalid",
            "还款方式须为等额本息（equal_installment）或等额本金（equal_principal）",
            errors={"method": ["还款方式须为 equal_installment 或 equal_principal"]},
        )


METHOD_LABELS = {Method.EQUAL_INSTALLMENT: "等额本息", Method.EQUAL_PRINCIPAL: "等额本金"}


def to_fen(value: Decimal) -> Decimal:
    return value.quantize(FEN, rounding=ROUND_HALF_UP)


def as_decimal(value: Decimal | int | str) -> Decimal:
    # Floats are refused on purpose: 0.1 is not a fen amount.
    if isinstance(value, bool) or not isinstance(value, Decimal | int | str):
        raise TypeError(f"expected Decimal, int or str, got {type(value).__name__}")
    try:
        result = Decimal(value.strip() if isinstance(value, str) else value)
    except InvalidOperation:
        raise ValueError(f"not a number: {value!r}") from None
    if not result.is_finite():
        raise ValueError(f"not a finite number: {value!r}")
    return result


# --- overdue penalty ---------------------------------------------------------------------------

PENALTY_FACTOR = Decimal("1.5")


def daily_rate(annual_rate: Decimal | int | str) -> Decimal:
    """Daily rate as a fraction: annual / 360 (twelve 30-day months)."""
    with localcontext(DECIMAL_CONTEXT):
        return as_decimal(annual_rate) / 36000


def overdue_penalty(
    amount: Decimal | int | str, days_overdue: int, annual_rate: Decimal | int | str
) -> Decimal:
    """Penalty interest (罚息) on an overdue ``amount``: amount × 1.5 × annual/360 × days.

    With 30-day months a month late costs 1.5 times a month's interest.
    """
    if days_overdue < 0:
        raise LoanRuleError("loan.days_invalid", "逾期天数不能为负数")
    with localcontext(DECIMAL_CONTEXT):
        return to_fen(as_decimal(amount) * PENALTY_FACTOR * daily_rate(annual_rate) * days_overdue)


def days_overdue(due_date: date, on: date) -> int:
    """Calendar days ``on`` is past ``due_date`` (0 when not late)."""
    return max((on - due_date).days, 0)


# --- input bounds (calculator and application) -------------------------------------------------


@dataclass(frozen=True)
class LoanTerms:
    principal: Decimal
    months: int
    annual_rate: Decimal
    method: Method


def _field_error(field: str, code: str, message: str) -> LoanRuleError:
    return LoanRuleError(code, message, errors={field: [message]})


def _bounded(
    value: Decimal | int | str,
    field: str,
    code: str,
    message: str,
    ceiling: Decimal,
    quantum: Decimal,
) -> Decimal:
    try:
        number = as_decimal(value)
    except (TypeError, ValueError):
        raise _field_error(field, f"{code}_invalid", message) from None
    # The ceiling is checked before quantize, which would overflow the context on huge inputs.
    if number <= 0 or number > ceiling or number != number.quantize(quantum):
        raise _field_error(field, f"{code}_out_of_range", message)
    return number


def validate_principal(
    value: Decimal | int | str, *, ceiling: Decimal = PRINCIPAL_CEILING
) -> Decimal:
    """A fen amount with 0 < principal ≤ ceiling."""
    message = f"贷款金额须大于 0 且不超过 {ceiling} 元，精确到分"
    return to_fen(_bounded(value, "principal", "loan.principal", message, ceiling, FEN))


def validate_months(value: int | str, *, max_months: int = MAX_MONTHS) -> int:
    """Whole months, 1 ≤ months ≤ max_months."""
    message = f"贷款期限须为 1 至 {max_months} 个月的整数"
    try:
        months = int(value) if not isinstance(value, bool) else None
    except (TypeError, ValueError):
        months = None
    if months is None or str(months) != str(value).strip() or not 1 <= months <= max_months:
        raise _field_error("months", "loan.months_out_of_range", message)
    return months


def validate_annual_rate(
    value: Decimal | int | str, *, ceiling: Decimal = MAX_ANNUAL_RATE
) -> Decimal:
    """Annual rate in percent (2.6 means 2.6 %), 0 < rate ≤ ceiling, at most 4 decimals."""
    message = f"年利率须大于 0 且不超过 {ceiling}（单位：%，如 2.6 表示 2.6%）"
    return _bounded(value, "annual_rate", "loan.rate", message, ceiling, Decimal("0.0001"))


def _collect(errors: dict[str, list[str]], check: Callable[[], _T]) -> _T | None:
    try:
        return check()
    except LoanRuleError as error:
        errors.update(error.errors or {})
        return None


def validate_loan_terms(
    principal: Decimal | int | str,
    months: int | str,
    annual_rate: Decimal | int | str,
    method: Method | str,
    *,
    principal_ceiling: Decimal = PRINCIPAL_CEILING,
) -> LoanTerms:
    """Check all four inputs and report every bad field at once."""
    errors: dict[str, list[str]] = {}
    amount = _collect(errors, lambda: validate_principal(principal, ceiling=principal_ceiling))
    term = _collect(errors, lambda: validate_months(months))
    rate = _collect(errors, lambda: validate_annual_rate(annual_rate))
    parsed = _collect(errors, lambda: Method.parse(method))
    if amount is None or term is None or rate is None or parsed is None:
        raise LoanRuleError("loan.terms_invalid", "贷款试算参数有误，请检查后重试", errors=errors)
    return LoanTerms(principal=amount, months=term, annual_rate=rate, method=parsed)


# --- contract life cycle -----------------------------------------------------------------------

# event → (contract statuses it may leave, status it leads to). The contract is created approving
# (审批中) when the approved application is signed; signed → disbursed → repaying (overdue and back)
# → settled. The application the contract belongs to must be approved before signing and
# disbursement (``application_status``), so contract and 我发起的 never disagree.
LOAN_TRANSITIONS: dict[str, tuple[tuple[str, ...], str]] = {
    "signed": (("approving",), "signed"),
    "disbursed": (("signed",), "repaying"),
    "repaid": (("repaying", "overdue"), "repaying"),
    "overdue": (("repaying", "overdue"), "overdue"),
    "settled": (("repaying", "overdue"), "settled"),
}
# Events that need the loan application approved (its status; ``None``: no application linked).
NEEDS_APPROVED_APPLICATION = frozenset({"signed", "disbursed"})


class LoanTransitionRefused(LoanRuleError):
    """The event does not fit the contract's (or its application's) state: a 409."""


def loan_transition(status: str, event: str, application_status: str | None = None) -> str:
    """The contract status after ``event``, or :class:`LoanTransitionRefused`."""
    if event not in LOAN_TRANSITIONS:
        raise LoanTransitionRefused("loan.unknown_event", "未知的贷款事件类型")
    allowed, after = LOAN_TRANSITIONS[event]
    if status not in allowed:
        raise LoanTransitionRefused("loan.invalid_transition", "该合同当前状态不能办理此事项")
    if (
        event in NEEDS_APPROVED_APPLICATION
        and application_status is not None
        and application_status != "approved"
    ):
        raise LoanTransitionRefused(
            "loan.application_not_approved", "该贷款申请尚未审批通过，不能签订合同或放款"
        )
    return after
