"""A member's loan contract and its schedule as it stands: the contract found (404 otherwise), the
one schedule (:mod:`backend.loans.amortisation`) laid over the repayments the core system booked.
Shared by what a member sees of a loan, prepayments and the settlement certificate.

No Flask here; rule refusals leave as :class:`ValidationFailed` (422).
"""

from __future__ import annotations

import calendar
import datetime as dt
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import Decimal
from typing import Protocol

from sqlalchemy.orm import Session

from backend.errors import NotFound, ValidationFailed
from backend.loans import amortisation, queries, rates, rules
from backend.loans.models import LoanContract, LoanRepayment

NOT_DISBURSED_NOTICE = "此合同【{contract_no}】的贷款未发放"
NOT_DISBURSED_STATUSES = ("approving", "signed")


class LoanNotFound(NotFound):
    error_code = "loan.not_found"
    message = "未找到该贷款合同"


@contextmanager
def rule_errors(fields: dict[str, str] | None = None) -> Iterator[None]:
    """Rule refusals become the 422 envelope, their reason code as ``error_code``; ``fields``
    renames the rules' field names to the request's."""
    try:
        yield
    except rules.LoanRuleError as error:
        errors = error.errors
        if errors and fields:
            errors = {fields.get(name, name): messages for name, messages in errors.items()}
        raise ValidationFailed(error.message, error_code=error.error_code, errors=errors) from error


def percent(rate: Decimal) -> Decimal:
    """An annual rate for display: at least two decimals (3.10), more when it has them (3.025)."""
    two = rate.quantize(Decimal("0.01"))
    return two if two == rate else rate.normalize()


# --- a contract and its schedule -----------------------------------------------------------------


@dataclass(frozen=True)
class LoanState:
    """A disbursed contract with its repayments and its schedule as it stands."""

    contract: LoanContract
    paid: tuple[amortisation.Period, ...]
    schedule: amortisation.Schedule

    @property
    def upcoming(self) -> tuple[amortisation.Period, ...]:
        if self.contract.status == "settled":
            return ()
        return self.schedule.periods[len(self.paid) :]

    @property
    def balance(self) -> Decimal:
        if self.contract.status == "settled":
            return Decimal("0.00")
        return self.paid[-1].remaining if self.paid else self.contract.amount


class ContractHeader(Protocol):
    """What is read of a contract to tell whether it was disbursed: the entity, or a Core row of
    its columns (:func:`backend.loans.queries.member_contract_versioned`)."""

    @property
    def contract_no(self) -> str: ...
    @property
    def status(self) -> str: ...
    @property
    def disbursed_on(self) -> dt.date | None: ...


def disbursed(contract: ContractHeader) -> bool:
    return contract.disbursed_on is not None and contract.status not in NOT_DISBURSED_STATUSES


def not_disbursed_notice(contract: ContractHeader) -> str:
    return NOT_DISBURSED_NOTICE.format(contract_no=contract.contract_no)


def rate_history(contract: LoanContract) -> list[tuple[dt.date, Decimal]]:
    """The contract's rate history; the benchmark table when the core sent none."""
    history = [(rate.effective_from, rate.annual_rate) for rate in contract.rates]
    if not history:
        return list(
            rates.benchmark_rate_history(contract.term_months, second_home=not contract.first_home)
        )
    start = contract.disbursed_on
    if start is not None and history[0][0] > start:
        # The core dates the contract rate from its own booking; it is the rate from disbursal on.
        history[0] = (start, history[0][1])
    return history


def first_due_date(contract: LoanContract) -> dt.date | None:
    """The stored first due date; else the repayment day of the month after disbursal."""
    if contract.first_due_date is not None or contract.disbursed_on is None:
        return contract.first_due_date
    month_later = amortisation.add_months(contract.disbursed_on, 1)
    if contract.repayment_day is None:
        return month_later
    last_day = calendar.monthrange(month_later.year, month_later.month)[1]
    return month_later.replace(day=min(contract.repayment_day, last_day))


def contract_schedule(contract: LoanContract) -> amortisation.Schedule:
    assert contract.disbursed_on is not None
    with rule_errors():
        return amortisation.generate_schedule(
            contract.amount,
            contract.term_months,
            contract.method,
            rate_history(contract),
            contract.disbursed_on,
            first_due_date(contract),
        )


def paid_periods(
    schedule: amortisation.Schedule, repayments: Sequence[LoanRepayment]
) -> tuple[amortisation.Period, ...]:
    """Repayments folded per period (a prepayment booked on a period adds to it), in period order."""
    by_period: dict[int, list[LoanRepayment]] = {}
    for repayment in repayments:
        by_period.setdefault(repayment.period, []).append(repayment)
    last_rate = schedule.periods[-1].annual_rate
    folded = []
    for number in sorted(by_period):
        rows = by_period[number]
        principal = sum((r.principal for r in rows), Decimal("0.00"))
        interest = sum((r.interest for r in rows), Decimal("0.00"))
        scheduled = schedule.periods[number - 1] if 0 < number <= schedule.months else None
        folded.append(
            amortisation.Period(
                period=number,
                due_date=rows[0].due_date,
                annual_rate=scheduled.annual_rate if scheduled else last_rate,
                payment=principal + interest,
                principal=principal,
                interest=interest,
                remaining=rows[-1].balance_after,
            )
        )
    return tuple(folded)


def member_contract(
    session: Session, member_id: int, contract_no: str, *, with_rates: bool = False
) -> LoanContract:
    contract = queries.member_contract(session, member_id, contract_no, with_rates=with_rates)
    if contract is None:
        raise LoanNotFound()
    return contract


def loan_state(session: Session, contract: LoanContract) -> LoanState:
    schedule = contract_schedule(contract)
    repayments = queries.contract_repayments(session, contract.id)
    paid = paid_periods(schedule, repayments)
    return LoanState(contract, paid, amortisation.rebase_schedule(schedule, paid))
