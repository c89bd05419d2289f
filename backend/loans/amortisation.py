"""The repayment schedule engine (pure): one schedule per loan, every figure read off it.

Instalments of 等额本息 and 等额本金 in fen (``ROUND_HALF_UP``), re-priced each 1 January
(:func:`backend.loans.rates.period_rates`), rebased on what was actually repaid. See the
conventions in :mod:`backend.loans.rules`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, localcontext

from backend.loans.rates import RateSource, period_rates, rate_lookup
from backend.loans.rules import DECIMAL_CONTEXT, ZERO, LoanRuleError, Method, as_decimal, to_fen
from backend.months import add_months as add_months

# --- dates -------------------------------------------------------------------------------------


def split_term(months: int) -> tuple[int, int]:
    """Term as (years, months): 246 → (20, 6)."""
    return divmod(months, 12)


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


def level_instalment(balance: Decimal, monthly_rate: Decimal, months: int) -> Decimal:
    if monthly_rate == 0:
        return to_fen(balance / months)
    growth = (1 + monthly_rate) ** months
    return to_fen(balance * monthly_rate * growth / (growth - 1))


def amortise(
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
    principal_part = to_fen(balance / count)
    previous_rate: Decimal | None = None
    for index, (due, annual) in enumerate(zip(due_dates, annual_rates, strict=True)):
        monthly_rate = annual / 1200
        if method is Method.EQUAL_INSTALLMENT and annual != previous_rate:
            instalment = level_instalment(balance, monthly_rate, count - index)
        previous_rate = annual
        interest = to_fen(balance * monthly_rate)
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
    with localcontext(DECIMAL_CONTEXT):
        amount = as_decimal(principal)
        if amount <= 0 or amount != to_fen(amount):
            raise LoanRuleError("loan.principal_invalid", "贷款金额须为大于零的金额（精确到分）")
        if months < 1:
            raise LoanRuleError("loan.months_invalid", "贷款期限至少为 1 个月")
        method = Method.parse(method)
        # Months are counted from the anchor, not chained, so 31 Jan → 28 Feb → 31 Mar.
        anchor, offset = (first_due, 0) if first_due else (start_date, 1)
        due_dates = [add_months(anchor, k + offset) for k in range(months)]
        if due_dates[0] <= start_date:
            raise LoanRuleError("loan.first_due_invalid", "首期还款日须晚于放款日")
        rows = amortise(
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
        with localcontext(DECIMAL_CONTEXT):
            tail = amortise(
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
