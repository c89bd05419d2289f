"""贷款计算器 (public): the full schedule of a loan disbursed today, from the one schedule engine."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from backend.loans import amortisation, rules
from backend.loans.contracts import percent, rule_errors


@dataclass(frozen=True)
class Calculation:
    """A calculator answer: the checked terms and their schedule (LoanCalculatorSchema dumps it)."""

    terms: rules.LoanTerms
    schedule: amortisation.Schedule

    @property
    def annual_rate(self) -> Decimal:
        return percent(self.terms.annual_rate)

    @property
    def last_payment(self) -> Decimal:
        return self.schedule.periods[-1].payment


def calculate(
    principal: str, months: str, annual_rate: str, method: str, *, today: dt.date
) -> Calculation:
    """贷款计算器: the full schedule of a loan disbursed today, with totals."""
    with rule_errors():
        terms = rules.validate_loan_terms(principal, months, annual_rate, method)
        schedule = amortisation.generate_schedule(
            terms.principal, terms.months, terms.method, terms.annual_rate, today
        )
    return Calculation(terms, schedule)
