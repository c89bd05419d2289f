"""Loan rates (pure): rate histories and the 1 January re-pricing rule, and the national benchmark
table for provident fund loans. Percent per year: 2.6 means 2.6 %."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from backend.loans.rules import LoanRuleError, as_decimal

# --- rates -------------------------------------------------------------------------------------

RateSource = Decimal | int | str | Sequence[tuple[date, Decimal]] | Callable[[date], Decimal]


def rate_lookup(rates: RateSource) -> Callable[[date], Decimal]:
    """A function ``day → annual rate in percent in force that day``.

    ``rates`` is a constant rate, a history ``[(effective_date, annual_rate_percent), …]`` (any
    order; the latest entry effective on or before the day wins) or such a function already.
    """
    if callable(rates):
        return lambda day: as_decimal(rates(day))
    if isinstance(rates, Decimal | int | str):
        constant = as_decimal(rates)
        return lambda _day: constant
    history = sorted((effective, as_decimal(rate)) for effective, rate in rates)
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
    by_year: dict[int, Decimal] = {}  # a schedule has a dozen due years and hundreds of periods
    result = []
    for due in due_dates:
        rate = by_year.get(due.year)
        if rate is None:
            new_year = date(due.year, 1, 1)
            rate = by_year[due.year] = rate_at(new_year) if new_year > start_date else contract_rate
        result.append(rate)
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
