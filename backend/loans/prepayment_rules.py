"""Prepayment rules (pure): when prepaying is refused (deduction windows, overdue periods), when a
booking date is, and the quote (提前还款试算) of a partial or full prepayment against the schedule as
it stands. Figures come from the one schedule engine (:mod:`backend.loans.amortisation`).
"""

from __future__ import annotations

import calendar
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import ROUND_CEILING, Decimal, localcontext
from enum import StrEnum

from backend.loans.amortisation import Period, Schedule, add_months, amortise, level_instalment
from backend.loans.rules import (
    DECIMAL_CONTEXT,
    ZERO,
    LoanRuleError,
    Method,
    PrepaymentRefused,
    as_decimal,
    daily_rate,
    to_fen,
)

# --- prepayment --------------------------------------------------------------------------------

DEFAULT_DEDUCTION_WINDOW_DAYS = 3


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
    value = as_decimal(amount)
    if value <= 0 or value != to_fen(value):
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
        if level_instalment(balance, monthly_rate, middle) <= current.payment:
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
    with localcontext(DECIMAL_CONTEXT):
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
            accrued = min(to_fen(balance * daily_rate(rate) * days), current.interest)
            rows: tuple[Period, ...] = ()
        else:
            prepaid = _validate_prepaid_amount(amount, balance)
            accrued = min(
                to_fen(prepaid * daily_rate(rate) * days),
                to_fen(prepaid * rate / 1200),
            )
            rest = balance - prepaid
            months = len(remaining_rows)
            if kind is PrepaymentKind.SHORTEN_TERM:
                months = _shortened_months(rest, current, remaining_rows, schedule.method)
            kept = remaining_rows[:months]
            rows = amortise(
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
