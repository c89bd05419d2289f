"""Loan rules: repayment schedules, benchmark rates, overdue penalties, prepayment quotes.

Pure functions over ``Decimal`` and ``date`` (stdlib only, no Flask, no SQLAlchemy), so the web
layer, the worker and the benchmarks share one implementation.

Conventions (the centre's loan rules, checked against an independent calculator):

* Amounts are in fen, rounded ``ROUND_HALF_UP``. The monthly rate ``r = annual / 1200`` is never
  rounded; arithmetic runs in a 34-digit decimal context whatever the caller's context is.
* Every figure (monthly payment, totals, remaining balance, next due) is read off one schedule made
  by :func:`generate_schedule`; separate closed formulas drift by a fen.
"""

from __future__ import annotations

import calendar
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import ROUND_CEILING, ROUND_HALF_UP, Context, Decimal, InvalidOperation, localcontext
from enum import StrEnum
from typing import TypeVar

_T = TypeVar("_T")

FEN = Decimal("0.01")
ZERO = Decimal("0.00")
# 28 digits is the floor the conventions ask for; 34 leaves room for (1 + r) ** 360.
_CONTEXT = Context(prec=34)

PRINCIPAL_CEILING = Decimal("5000000.00")
MAX_MONTHS = 360
MAX_ANNUAL_RATE = Decimal("20")
DEFAULT_DEDUCTION_WINDOW_DAYS = 3


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


def _fen(value: Decimal) -> Decimal:
    return value.quantize(FEN, rounding=ROUND_HALF_UP)


def _decimal(value: Decimal | int | str) -> Decimal:
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


# --- dates -------------------------------------------------------------------------------------


def add_months(start: date, months: int) -> date:
    """``start`` moved by whole months, the day clipped to the month's end (31 Jan + 1 = 28/29 Feb)."""
    year, month_index = divmod(start.month - 1 + months, 12)
    year += start.year
    day = min(start.day, calendar.monthrange(year, month_index + 1)[1])
    return date(year, month_index + 1, day)


def split_term(months: int) -> tuple[int, int]:
    """Term as (years, months): 246 → (20, 6)."""
    return divmod(months, 12)


# --- rates -------------------------------------------------------------------------------------

RateSource = Decimal | int | str | Sequence[tuple[date, Decimal]] | Callable[[date], Decimal]


def rate_lookup(rates: RateSource) -> Callable[[date], Decimal]:
    """A function ``day → annual rate in percent in force that day``.

    ``rates`` is a constant rate, a history ``[(effective_date, annual_rate_percent), …]`` (any
    order; the latest entry effective on or before the day wins) or such a function already.
    """
    if callable(rates):
        return lambda day: _decimal(rates(day))
    if isinstance(rates, Decimal | int | str):
        constant = _decimal(rates)
        return lambda _day: constant
    history = sorted((effective, _decimal(rate)) for effective, rate in rates)
    if not history:
        raise LoanRuleError("loan.rate_unknown", "未找到贷款利率")

    def rate_at(day: date) -> Decimal:
        in_force = [rate for effective, rate in history if effective <= day]
        if not in_force:
            raise LoanRuleError("loan.rate_unknown", f"{day.isoformat()} 无适用的贷款利率")
        return in_force[-1]

    return rate_at


def period_rates(due_dates: Iterable[date], start_date: date, rates: RateSource) -> list[Decimal]:
    """The annual rate of each period under the 1 January re-pricing rule.

    A period whose due date falls in the year of ``start_date`` carries the rate in force on
    ``start_date`` (the contract rate). A period due in a later year Y carries the rate in force on
    1 January of Y. So after a rate change, the first period due on or after the next 1 January
    is the first at the new rate: a period straddling 1 January (due 15 January) is charged the
    new rate for the whole month, one due on 31 December is not.
    """
    rate_at = rate_lookup(rates)
    contract_rate = rate_at(start_date)
    result = []
    for due in due_dates:
        new_year = date(due.year, 1, 1)
        result.append(rate_at(new_year) if new_year > start_date else contract_rate)
    return result


@dataclass(frozen=True)
class BenchmarkRate:
    """National benchmark for provident fund loans, annual percent. Second-home figures from
    2024-05-18 on are floors (≥); centres may set them higher."""

    effective: date
    first_home_short: Decimal  # term ≤ 5 years
    first_home_long: Decimal  # term > 5 years
    second_home_short: Decimal
    second_home_long: Decimal


BENCHMARK_RATES: tuple[BenchmarkRate, ...] = (
    BenchmarkRate(
        date(2022, 10, 1), Decimal("2.6"), Decimal("3.1"), Decimal("3.025"), Decimal("3.575")
    ),
    BenchmarkRate(
        date(2024, 5, 18), Decimal("2.35"), Decimal("2.85"), Decimal("2.775"), Decimal("3.325")
    ),
    BenchmarkRate(
        date(2025, 5, 8), Decimal("2.1"), Decimal("2.6"), Decimal("2.525"), Decimal("3.075")
    ),
)
SHORT_TERM_MONTHS = 60


def _benchmark_column(entry: BenchmarkRate, months: int, second_home: bool) -> Decimal:
    short = months <= SHORT_TERM_MONTHS
    if second_home:
        return entry.second_home_short if short else entry.second_home_long
    return entry.first_home_short if short else entry.first_home_long


def benchmark_rate_history(
    months: int, *, second_home: bool = False
) -> tuple[tuple[date, Decimal], ...]:
    """The benchmark table as a rate history for a loan of ``months`` (usable as a RateSource)."""
    return tuple(
        (entry.effective, _benchmark_column(entry, months, second_home))
        for entry in BENCHMARK_RATES
    )


def benchmark_rate(on: date, months: int, *, second_home: bool = False) -> Decimal:
    """Benchmark annual rate (percent) in force on ``on`` for a loan of ``months``."""
    return rate_lookup(benchmark_rate_history(months, second_home=second_home))(on)


# --- schedule ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Period:
    period: int
    due_date: date
    annual_rate: Decimal  # percent
    payment: Decimal
    principal: Decimal
    interest: Decimal
    remaining: Decimal  # principal outstanding after this period's payment


@dataclass(frozen=True)
class Segment:
    """A run of periods at one rate; ``payment`` is its instalment (first payment for 等额本金)."""

    first_period: int
    last_period: int
    annual_rate: Decimal
    payment: Decimal


@dataclass(frozen=True)
class Schedule:
    principal: Decimal
    method: Method
    start_date: date
    periods: tuple[Period, ...]
    # The rate in force on ``start_date`` (what days before the first due date in a later year
    # accrue at); ``None``: the first period's rate.
    contract_rate: Decimal | None = None

    @property
    def months(self) -> int:
        return len(self.periods)

    @property
    def monthly_payment(self) -> Decimal:
        """The first period's payment (the instalment of 等额本息 until a re-pricing)."""
        return self.periods[0].payment

    @property
    def total_payment(self) -> Decimal:
        return sum((p.payment for p in self.periods), ZERO)

    @property
    def total_interest(self) -> Decimal:
        return sum((p.interest for p in self.periods), ZERO)

    @property
    def end_date(self) -> date:
        return self.periods[-1].due_date

    def segments(self) -> tuple[Segment, ...]:
        runs: list[list[Period]] = []
        for row in self.periods:
            if runs and runs[-1][-1].annual_rate == row.annual_rate:
                runs[-1].append(row)
            else:
                runs.append([row])
        return tuple(
            Segment(run[0].period, run[-1].period, run[0].annual_rate, run[0].payment)
            for run in runs
        )

    def rate_on(self, day: date) -> Decimal:
        """The annual rate interest accrues at on ``day`` under the 1 January re-pricing rule.

        A rate change reaches an existing loan on the next 1 January: every day of year Y accrues
        at the rate of the periods due in Y (the contract rate in the disbursement year). A day
        before the first period due in its year (disbursed in December, first due in January)
        accrues at the contract rate; a day after the last period at the last period's rate.
        """
        for row in self.periods:
            if row.due_date.year == day.year:
                return row.annual_rate
        if self.periods and day > self.periods[-1].due_date:
            return self.periods[-1].annual_rate
        return self.contract_rate if self.contract_rate is not None else self.periods[0].annual_rate

    def due_on_or_before(self, on: date) -> tuple[Period, ...]:
        return tuple(p for p in self.periods if p.due_date <= on)

    def due_after(self, on: date) -> tuple[Period, ...]:
        return tuple(p for p in self.periods if p.due_date > on)

    def remaining_at(self, on: date) -> Decimal:
        """Principal outstanding at the end of ``on``, every period due by then paid as scheduled."""
        done = self.due_on_or_before(on)
        return done[-1].remaining if done else self.principal

    def next_due(self, on: date) -> Period | None:
        """The first period due after ``on`` (None once the schedule has run out)."""
        upcoming = self.due_after(on)
        return upcoming[0] if upcoming else None


def _instalment(balance: Decimal, monthly_rate: Decimal, months: int) -> Decimal:
    if monthly_rate == 0:
        return _fen(balance / months)
    growth = (1 + monthly_rate) ** months
    return _fen(balance * monthly_rate * growth / (growth - 1))


def _amortise(
    balance: Decimal,
    due_dates: Sequence[date],
    annual_rates: Sequence[Decimal],
    method: Method,
    first_period: int,
) -> tuple[Period, ...]:
    """Amortise ``balance`` over ``due_dates``; re-amortise whenever the period rate changes.

    等额本息: at the first period and at the first period of each new rate, the instalment is
    recomputed from the balance then outstanding over the months then remaining (that period
    included). 等额本金: the principal part is fixed once, round(balance / months); re-amortising
    equal principal over the remaining months gives the same figure before rounding, and keeping
    it avoids a fen step at each re-pricing. The last period takes whatever principal remains, so
    the balance ends at 0.00. A principal part is kept between 0 and the balance, which only bites
    on toy loans (a few hundred yuan at high rates) where the fen rounding of the instalment
    outweighs the principal.
    """
    count = len(due_dates)
    rows: list[Period] = []
    instalment = ZERO
    principal_part = _fen(balance / count)
    previous_rate: Decimal | None = None
    for index, (due, annual) in enumerate(zip(due_dates, annual_rates, strict=True)):
        monthly_rate = annual / 1200
        if method is Method.EQUAL_INSTALLMENT and annual != previous_rate:
            instalment = _instalment(balance, monthly_rate, count - index)
        previous_rate = annual
        interest = _fen(balance * monthly_rate)
        if index == count - 1:
            principal = balance
        elif method is Method.EQUAL_INSTALLMENT:
            principal = instalment - interest
        else:
            principal = principal_part
        principal = min(max(principal, ZERO), balance)
        balance -= principal
        rows.append(
            Period(
                period=first_period + index,
                due_date=due,
                annual_rate=annual,
                payment=principal + interest,
                principal=principal,
                interest=interest,
                remaining=balance,
            )
        )
    return tuple(rows)


def generate_schedule(
    principal: Decimal | int | str,
    months: int,
    method: Method | str,
    rates: RateSource,
    start_date: date,
    first_due: date | None = None,
) -> Schedule:
    """The full repayment schedule of a loan.

    ``start_date`` is the disbursement date; period k falls due ``k - 1`` months after
    ``first_due`` (default: one month after ``start_date``), the day clipped to the month's end.
    ``rates`` is a constant annual rate in percent, a rate history or a day → rate function
    (see :func:`rate_lookup`).

    Re-pricing: each period carries the rate given by :func:`period_rates` (the contract rate
    in the disbursement year, then the rate in force on 1 January of the period's due year).
    When that rate differs from the previous period's, the balance outstanding before that
    period is re-amortised over the remaining months (that period included) at the new rate; the
    term and due dates do not move. Interest is round(balance × annual / 1200) each period.
    """
    with localcontext(_CONTEXT):
        amount = _decimal(principal)
        if amount <= 0 or amount != _fen(amount):
            raise LoanRuleError("loan.principal_invalid", "贷款金额须为大于零的金额（精确到分）")
        if months < 1:
            raise LoanRuleError("loan.months_invalid", "贷款期限至少为 1 个月")
        method = Method.parse(method)
        # Months are counted from the anchor, not chained, so 31 Jan → 28 Feb → 31 Mar.
        anchor, offset = (first_due, 0) if first_due else (start_date, 1)
        due_dates = [add_months(anchor, k + offset) for k in range(months)]
        if due_dates[0] <= start_date:
            raise LoanRuleError("loan.first_due_invalid", "首期还款日须晚于放款日")
        rows = _amortise(
            amount, due_dates, period_rates(due_dates, start_date, rates), method, first_period=1
        )
        contract_rate = rate_lookup(rates)(start_date)
    return Schedule(
        principal=amount,
        method=method,
        start_date=start_date,
        periods=rows,
        contract_rate=contract_rate,
    )


def contract_end_date(first_due: date, months: int) -> date:
    """The contract's end date (到期日期): the last instalment's due date under the contract's
    term. It does not move when the loan is settled early: the settlement date is its own."""
    return add_months(first_due, months - 1)


def next_instalment(upcoming: Sequence[Period], today: date) -> Period | None:
    """The next instalment to fall due (下期还款): the first unpaid period due today or later.
    Unpaid periods due before today are overdue and shown as such, never as the next one."""
    return next((p for p in upcoming if p.due_date >= today), None)


def rebase_schedule(schedule: Schedule, paid: Sequence[Period]) -> Schedule:
    """The schedule as it stands: ``paid`` (the periods actually repaid, 1…k in order, their
    ``remaining`` the balance after each), then the scheduled periods k+1….

    While the actual balance after period k is the scheduled one, the later periods are the
    schedule's own rows. When it differs (a prepayment, a correction by the core system), they are
    re-amortised from the actual balance over the same remaining due dates and rates, keeping the
    term; a balance of 0.00 leaves nothing to pay.
    """
    if not paid:
        return schedule
    done = paid[-1].period
    tail = schedule.periods[done:]
    balance = paid[-1].remaining
    if balance == 0:
        tail = ()
    elif tail and balance != schedule.periods[done - 1].remaining:
        with localcontext(_CONTEXT):
            tail = _amortise(
                balance,
                [p.due_date for p in tail],
                [p.annual_rate for p in tail],
                schedule.method,
                first_period=done + 1,
            )
    return Schedule(
        principal=schedule.principal,
        method=schedule.method,
        start_date=schedule.start_date,
        periods=(*paid, *tail),
        contract_rate=schedule.contract_rate,
    )


# --- overdue penalty ---------------------------------------------------------------------------

PENALTY_FACTOR = Decimal("1.5")


def daily_rate(annual_rate: Decimal | int | str) -> Decimal:
    """Daily rate as a fraction: annual / 360 (twelve 30-day months)."""
    with localcontext(_CONTEXT):
        return _decimal(annual_rate) / 36000


def overdue_penalty(
    amount: Decimal | int | str, days_overdue: int, annual_rate: Decimal | int | str
) -> Decimal:
    """Penalty interest (罚息) on an overdue ``amount``: amount × 1.5 × annual/360 × days.

    With 30-day months a month late costs 1.5 times a month's interest.
    """
    if days_overdue < 0:
        raise LoanRuleError("loan.days_invalid", "逾期天数不能为负数")
    with localcontext(_CONTEXT):
        return _fen(_decimal(amount) * PENALTY_FACTOR * daily_rate(annual_rate) * days_overdue)


def days_overdue(due_date: date, on: date) -> int:
    """Calendar days ``on`` is past ``due_date`` (0 when not late)."""
    return max((on - due_date).days, 0)


# --- prepayment --------------------------------------------------------------------------------


class PrepaymentKind(StrEnum):
    SHORTEN_TERM = "shorten_term"  # partial, same instalment, fewer months
    REDUCE_INSTALMENT = "reduce_instalment"  # partial, same term, smaller instalment
    FULL = "full"  # settle everything


REFUSAL_MESSAGES = {
    "loan.not_started": "贷款尚未放款，暂不能提前还款",
    "loan.settled": "该笔贷款已结清，无需提前还款",
    "loan.prepayment_overdue": "您有逾期未还的款项，请先归还逾期款项后再申请提前还款",
    "loan.prepayment_deduction_window": "还款日及其前后{days}天内不能办理提前还款，请另选日期",
}


def prepayment_refusal(
    schedule: Schedule,
    on: date,
    *,
    window_days: int = DEFAULT_DEDUCTION_WINDOW_DAYS,
    paid_periods: int | None = None,
) -> str | None:
    """Why prepayment on ``on`` is refused (a REFUSAL_MESSAGES key), or None when allowed.

    The centre refuses on a deduction (due) day and within ``window_days`` days before or after
    one, while the bank's deduction file is being settled. ``paid_periods``, when given, is how
    many periods the member has actually paid; fewer than the periods already due means overdue.
    """
    if window_days < 0:
        raise ValueError("window_days must be ≥ 0")
    if on < schedule.start_date:
        return "loan.not_started"
    upcoming = schedule.due_after(on)
    if not upcoming or schedule.remaining_at(on) == 0:
        return "loan.settled"
    due_count = len(schedule.due_on_or_before(on))
    if paid_periods is not None and paid_periods < due_count:
        return "loan.prepayment_overdue"
    window = timedelta(days=window_days)
    if any(abs(p.due_date - on) <= window for p in schedule.periods):
        return "loan.prepayment_deduction_window"
    return None


def repayment_day_in(year: int, month: int, repayment_day: int) -> date:
    """The contract's repayment (deduction) day in a month, clipped to the month's end."""
    return date(year, month, min(repayment_day, calendar.monthrange(year, month)[1]))


def deduction_window(
    on: date, repayment_day: int, window_days: int = DEFAULT_DEDUCTION_WINDOW_DAYS
) -> tuple[date, date] | None:
    """The deduction window (扣款期) ``on`` falls in, or None.

    Each month the bank deducts the instalment on the contract's repayment day (clipped to the
    month's end); the window is that day and ``window_days`` days either side, while the
    deduction file is settled. Windows of the neighbouring months count too (a window around
    31 January reaches into February).
    """
    if not 1 <= repayment_day <= 31 or window_days < 0:
        raise ValueError("repayment_day must be 1–31 and window_days ≥ 0")
    for shift in (-1, 0, 1):
        month = add_months(on.replace(day=1), shift)
        day = repayment_day_in(month.year, month.month, repayment_day)
        if abs((on - day).days) <= window_days:
            return day - timedelta(days=window_days), day + timedelta(days=window_days)
    return None


BOOKING_REFUSALS = {
    "loan.prepayment_date_not_future": "提前还款日期须晚于今天",
    "loan.prepayment_date_too_late": "提前还款日期须早于下一还款日（{next_due}），请另选日期",
    "loan.prepayment_deduction_window": ("{start}至{end}为扣款期，不能办理提前还款，请另选日期"),
    "loan.prepayment_before_first_instalment": "首期还款前不能办理提前还款",
}


def booking_refusal(
    on: date,
    *,
    today: date,
    next_due: date,
    repayment_day: int,
    paid_periods: int,
    window_days: int = DEFAULT_DEDUCTION_WINDOW_DAYS,
) -> tuple[str, str] | None:
    """Why a prepayment cannot be booked for ``on`` (error code, message), or None.

    The date is a later day than ``today``, before the next instalment falls due (the prepaid
    principal then folds into the last paid period), outside every deduction window, and the
    first instalment has been paid.
    """
    if paid_periods < 1:
        code = "loan.prepayment_before_first_instalment"
        return code, BOOKING_REFUSALS[code]
    if on <= today:
        code = "loan.prepayment_date_not_future"
        return code, BOOKING_REFUSALS[code]
    if on >= next_due:
        code = "loan.prepayment_date_too_late"
        return code, BOOKING_REFUSALS[code].format(next_due=next_due.isoformat())
    window = deduction_window(on, repayment_day, window_days)
    if window is not None:
        code = "loan.prepayment_deduction_window"
        start, end = window
        return code, BOOKING_REFUSALS[code].format(start=start.isoformat(), end=end.isoformat())
    return None


def term_after_prepayment(schedule: Schedule, quote: PrepaymentQuote) -> int:
    """The contract's term (months) once the quoted prepayment is booked: the periods due by the
    prepayment date plus the new schedule's months (shorter for shorten-term, the same for
    reduce-instalment; a full prepayment ends the term at the periods already due)."""
    return len(schedule.due_on_or_before(quote.on)) + quote.new_months


@dataclass(frozen=True)
class PrepaymentQuote:
    """A prepayment trial (提前还款试算).

    ``amount_due`` is what the member pays today: the prepaid principal plus the interest that
    principal has accrued since the last due date (full: the whole balance and its accrued
    interest). ``interest_saved`` = interest of the old schedule's remaining periods − interest of
    the new schedule − interest charged today, all read off engine schedules.
    """

    kind: PrepaymentKind
    on: date
    balance: Decimal  # principal outstanding today, before prepaying
    prepaid_principal: Decimal
    accrued_interest: Decimal
    amount_due: Decimal
    old_payment: Decimal  # the next instalment had nothing been prepaid
    old_months: int
    old_end_date: date
    new_payment: Decimal | None  # first payment of the new schedule; None when settled
    new_months: int
    new_end_date: date | None
    interest_saved: Decimal
    new_schedule: Schedule | None


def _validate_prepaid_amount(amount: Decimal | int | str | None, balance: Decimal) -> Decimal:
    field = "amount"
    if amount is None:
        raise LoanRuleError(
            "loan.prepayment_amount_required",
            "请填写提前还款金额",
            errors={field: ["部分提前还款须填写金额"]},
        )
    value = _decimal(amount)
    if value <= 0 or value != _fen(value):
        raise LoanRuleError(
            "loan.prepayment_amount_invalid",
            "提前还款金额须为大于零的金额（精确到分）",
            errors={field: ["须为大于零的金额，精确到分"]},
        )
    if value >= balance:
        raise LoanRuleError(
            "loan.prepayment_amount_exceeds_balance",
            f"提前还款金额须小于剩余本金 {balance}，如需一次还清请选择全部提前还款",
            errors={field: [f"须小于剩余本金 {balance}"]},
        )
    return value


def _shortened_months(
    balance: Decimal, current: Period, remaining_rows: Sequence[Period], method: Method
) -> int:
    """Fewest months whose re-amortised payment does not exceed today's (bounded by the term)."""
    limit = len(remaining_rows)
    if method is Method.EQUAL_PRINCIPAL:
        if current.principal <= 0:
            return limit
        needed = (balance / current.principal).to_integral_value(rounding=ROUND_CEILING)
        return max(1, min(int(needed), limit))
    monthly_rate = current.annual_rate / 1200
    low, high = 1, limit
    while low < high:
        middle = (low + high) // 2
        if _instalment(balance, monthly_rate, middle) <= current.payment:
            high = middle
        else:
            low = middle + 1
    return low


def quote_prepayment(
    schedule: Schedule,
    on: date,
    kind: PrepaymentKind | str,
    amount: Decimal | int | str | None = None,
    *,
    window_days: int = DEFAULT_DEDUCTION_WINDOW_DAYS,
    paid_periods: int | None = None,
) -> PrepaymentQuote:
    """Quote a prepayment on ``on`` against ``schedule`` (periods due before ``on`` count as paid).

    * full: balance + the current period's interest accrued since the last due date
      (balance × annual/360 × days, capped at the period's interest).
    * reduce_instalment: ``amount`` of principal is repaid today with its accrued interest; the
      rest is re-amortised over the same remaining months (same due dates, same rates).
    * shorten_term: as above, over the fewest remaining months whose payment does not exceed the
      current one (等额本金: whose principal part does not exceed the current one).

    Raises :class:`PrepaymentRefused` inside the deduction window, when overdue or settled, and
    :class:`LoanRuleError` for a bad amount.
    """
    kind = PrepaymentKind(kind)
    refusal = prepayment_refusal(schedule, on, window_days=window_days, paid_periods=paid_periods)
    if refusal:
        raise PrepaymentRefused(refusal, REFUSAL_MESSAGES[refusal].format(days=window_days))
    with localcontext(_CONTEXT):
        done = schedule.due_on_or_before(on)
        remaining_rows = schedule.due_after(on)
        current = remaining_rows[0]
        balance = schedule.remaining_at(on)
        last_due = done[-1].due_date if done else schedule.start_date
        days = (on - last_due).days
        old_interest = sum((p.interest for p in remaining_rows), ZERO)
        # The days accrue at the rate in force on ``on``: a December settlement before a
        # 1 January re-pricing is charged the old rate, though the period falls due in January.
        rate = schedule.rate_on(on)

        if kind is PrepaymentKind.FULL:
            prepaid = balance
            accrued = min(_fen(balance * daily_rate(rate) * days), current.interest)
            rows: tuple[Period, ...] = ()
        else:
            prepaid = _validate_prepaid_amount(amount, balance)
            accrued = min(
                _fen(prepaid * daily_rate(rate) * days),
                _fen(prepaid * rate / 1200),
            )
            rest = balance - prepaid
            months = len(remaining_rows)
            if kind is PrepaymentKind.SHORTEN_TERM:
                months = _shortened_months(rest, current, remaining_rows, schedule.method)
            kept = remaining_rows[:months]
            rows = _amortise(
                rest,
                [p.due_date for p in kept],
                [p.annual_rate for p in kept],
                schedule.method,
                first_period=current.period,
            )
        new_schedule = (
            Schedule(
                principal=balance - prepaid, method=schedule.method, start_date=on, periods=rows
            )
            if rows
            else None
        )
        new_interest = new_schedule.total_interest if new_schedule else ZERO
    return PrepaymentQuote(
        kind=kind,
        on=on,
        balance=balance,
        prepaid_principal=prepaid,
        accrued_interest=accrued,
        amount_due=prepaid + accrued,
        old_payment=current.payment,
        old_months=len(remaining_rows),
        old_end_date=remaining_rows[-1].due_date,
        new_payment=rows[0].payment if rows else None,
        new_months=len(rows),
        new_end_date=rows[-1].due_date if rows else None,
        interest_saved=old_interest - new_interest - accrued,
        new_schedule=new_schedule,
    )


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
        number = _decimal(value)
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
    return _fen(_bounded(value, "principal", "loan.principal", message, ceiling, FEN))


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
