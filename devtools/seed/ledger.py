"""Ten years of an account's ledger: the deposit base re-assessed each July, monthly deposits
(a late month paid as 补缴), withdrawals that follow the member's story, closure, and the 30 June
interest on the average daily balance, booked as a running balance in fen."""

from __future__ import annotations

import datetime as dt
import functools
import itertools
import random
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import TYPE_CHECKING, Any

from backend.loans import amortisation
from backend.withdrawals.rules import LEAVING_SEALED_MONTHS
from devtools.seed.common import (
    FEN,
    ONE_DAY,
    Rows,
    base_year,
    booked_at,
    fen_of,
    money,
    month_chinese,
    month_day,
    month_index,
    month_label,
    yuan_floor,
)
from devtools.seed.profiles import Profile

if TYPE_CHECKING:
    from devtools.seed.centre import Employer
    from devtools.seed.context import Centre
    from devtools.seed.loans import Loan

TRANSACTION_COLUMNS = (
    "id",
    "account_id",
    "member_id",
    "txn_date",
    "kind",
    "amount",
    "balance_after",
    "period_month",
    "summary",
    "external_id",
    "created_at",
)
INTEREST_RATE = Decimal("0.015")  # 1.5 % a year on the average balance, booked on 30 June


@dataclass(slots=True)
class Event:
    """A ledger entry before its amount is known (withdrawals depend on the balance then)."""

    day: dt.date
    order: int  # same-day order: deposits, withdrawals, closing, then the 30 June interest
    kind: str
    fen: int = 0
    share: float = 0.0  # withdrawals: share of the balance, or a cap in ``fen``
    period: str | None = None
    summary: str = ""
    reason: str | None = None  # withdrawals: the reason code of the application behind it


def _withdrawal(
    day: dt.date, reason: str, summary: str, *, share: float = 0.0, up_to: int = 0, order: int = 5
) -> Event:
    """A withdrawal of ``share`` of the balance then (1.0: all of it, closing the account), or
    of ``up_to`` fen capped by the balance."""
    return Event(
        day, order, "withdrawal", fen=up_to, share=share or -1.0, summary=summary, reason=reason
    )


@dataclass(slots=True)
class Booked:
    day: dt.date
    kind: str
    fen: int
    balance: int
    period: str | None
    summary: str
    reason: str | None


def ledger(
    centre: Centre,
    rng: random.Random,
    profile: Profile,
    employer: Employer,
    open_month: int,
    opened_on: dt.date,
    retires_on: dt.date,
    loan: Loan | None,
) -> tuple[list[Booked], dict[str, Any]]:
    """The account's ledger and row. Closures follow the withdrawal rules: retirement once the
    statutory age (``retires_on``) is reached, else leaving (or a transfer out) after the
    account was sealed ``LEAVING_SEALED_MONTHS``."""
    status = "normal" if loan else profile.status
    as_month = centre.as_month
    day = employer.deposit_day
    last_month = as_month if month_day(as_month, day) <= centre.as_of else as_month - 1
    close_on: dt.date | None = None
    retired_on: dt.date | None = None
    if profile.retired:
        # Deposits stop in the month of retirement; the core system records it.
        retired_on = retires_on
        last_month = min(month_index(retires_on), as_month - 3)
    elif status in ("sealed", "closed"):
        latest = as_month - (3 if status == "sealed" else 3 + LEAVING_SEALED_MONTHS)
        last_month = rng.randint(min(open_month + 12, latest), latest)
        last_month = max(last_month, open_month)
    if status == "closed":
        close_on = month_day(last_month + rng.randint(1, 2), rng.randint(1, 28))
        if close_on < retires_on:
            close_on = month_day(
                last_month + LEAVING_SEALED_MONTHS + rng.randint(0, 2), rng.randint(1, 28)
            )

    bases = _bases(centre, rng, employer, open_month, last_month)
    events: list[Event] = []
    if rng.random() < 0.08:
        city = rng.choice(("北京市", "石家庄市", "郑州市", "西安市", "呼和浩特市", "天津市"))
        events.append(
            Event(
                opened_on,
                0,
                "transfer_in",
                fen=rng.randint(30, 600) * 10000,
                summary=f"异地转入（{city}住房公积金管理中心）",
            )
        )
    skipped = -1
    if rng.random() < 0.05 and last_month - open_month > 6:
        skipped = rng.randint(open_month + 1, last_month - 4)
    first_year = base_year(open_month)
    for month in range(open_month, last_month + 1):
        monthly = bases[base_year(month) - first_year][1]
        # A skipped month is paid late as 补缴 (same-day order after that month's 汇缴).
        if month == skipped:
            booked = month_day(month + rng.randint(1, 3), day)
            summary = f"补缴 {month_chinese(month)}"
            events.append(
                Event(booked, 1, "supplementary", monthly, 0.0, month_label(month), summary)
            )
        else:
            booked, period, summary = _deposit(month, day)
            events.append(Event(booked, 0, "deposit", monthly, 0.0, period, summary))
    current = bases[-1]
    if profile.rent_plan is None:  # an arrangement's member withdraws rent through it
        _withdrawal_events(centre, rng, events, status, open_month, last_month, current[1], loan)
    if close_on is not None:
        reason = "retirement" if close_on >= retires_on else rng.choice(("leaving", "transfer_out"))
        events.append(Event(close_on, 7, "close_interest", summary="销户结息"))
        if reason == "transfer_out":
            events.append(Event(close_on, 8, "transfer_out", share=1.0, summary="异地转出"))
        else:
            label = "离退休" if reason == "retirement" else "离职"
            summary = f"{label}提取（销户）"
            events.append(_withdrawal(close_on, reason, summary, share=1.0, order=8))
    end = close_on or centre.as_of
    year = opened_on.year if opened_on <= dt.date(opened_on.year, 6, 30) else opened_on.year + 1
    while dt.date(year, 6, 30) <= end and dt.date(year, 6, 30) < (close_on or dt.date.max):
        events.append(Event(dt.date(year, 6, 30), 9, "interest", summary="年度结息"))
        year += 1
    events.sort(key=lambda e: (e.day, e.order))
    ledger = _book(centre, events, opened_on)
    base, monthly, employee_rate, employer_rate = current
    paid = [e.period for e in ledger if e.period]
    account = {
        "status": status,
        "balance": money(ledger[-1].balance if ledger else 0),
        "deposit_base": money(base),
        "employee_rate": employee_rate,
        "employer_rate": employer_rate,
        "monthly_amount": money(monthly),
        "paid_through": max(paid) if paid else None,
        "closed_on": close_on,
        "retired_on": retired_on,
    }
    return ledger, account


@functools.cache
def _deposit(month: int, day: int) -> tuple[dt.date, str, str]:
    """A month's 汇缴 booked on the employer's deposit day: (date, period, summary), made once
    for every account that deposits that day (a centre has a few thousand of them)."""
    return month_day(month, day), month_label(month), f"汇缴 {month_chinese(month)}"


def _bases(
    centre: Centre, rng: random.Random, employer: Employer, open_month: int, last_month: int
) -> list[tuple[int, int, Decimal, Decimal]]:
    """(base, monthly amount, rates) per base year: the base is re-assessed each July from
    the previous year's average wage; each part is rounded to the fen on its own."""
    base = min(max(int(rng.lognormvariate(8.75, 0.45)) // 10 * 10, 2000), 28000)
    years = base_year(last_month) - base_year(open_month) + 1
    result = []
    for _ in range(years):
        amount = Decimal(base)
        monthly = (amount * employer.employee_rate).quantize(FEN, ROUND_HALF_UP) + (
            amount * employer.employer_rate
        ).quantize(FEN, ROUND_HALF_UP)
        result.append((base * 100, fen_of(monthly), employer.employee_rate, employer.employer_rate))
        base = min(max(int(base * (1 + rng.uniform(-0.02, 0.09))), 2000), 28000)
    return result


def _withdrawal_events(
    centre: Centre,
    rng: random.Random,
    events: list[Event],
    status: str,
    open_month: int,
    last_month: int,
    monthly: int,
    loan: Loan | None,
) -> None:
    if loan is not None and loan.disbursed_on is not None:
        purchase = loan.disbursed_on + dt.timedelta(days=rng.randint(5, 20))
        if purchase <= centre.as_of and rng.random() < 0.7:
            share = rng.uniform(0.5, 0.95)
            events.append(_withdrawal(purchase, "purchase", "购房提取", share=share))
        if rng.random() < 0.55 and loan.schedule is not None:
            cap = fen_of(loan.schedule.monthly_payment) * 12
            end = loan.settle_on or centre.as_of
            for years in itertools.count(1):
                day = amortisation.add_months(loan.disbursed_on, 12 * years)
                if day > end:
                    break
                events.append(_withdrawal(day, "loan_repayment", "偿还贷款提取", up_to=cap))
        return
    if status != "normal" or last_month - open_month < 12:
        return
    draw = rng.random()
    if draw < 0.18:
        start = max(open_month + 6, centre.as_month - rng.randint(6, 24))
        rent = yuan_floor(monthly * 6 // 10)
        for month in range(start, centre.as_month + 1):
            day = month_day(month, 20)
            if day <= centre.as_of:
                events.append(_withdrawal(day, "rent", "租房提取", up_to=rent))
    elif draw < 0.23:
        month = rng.randint(open_month + 12, last_month)
        day = month_day(month, rng.randint(1, 28))
        events.append(_withdrawal(day, "purchase", "购房提取", share=rng.uniform(0.6, 0.95)))


def _book(centre: Centre, events: list[Event], opened_on: dt.date) -> list[Booked]:
    """Running balance in fen; interest on the average daily balance of the interest year
    (1 July – 30 June), 1.5 % a year, in Decimal, ROUND_HALF_UP."""
    booked: list[Booked] = []
    balance = 0
    accrued = 0  # Σ balance × days since the interest year began
    cursor = opened_on
    year_start = dt.date(opened_on.year - (opened_on.month < 7), 7, 1)
    for event in events:
        accrued += balance * (event.day - cursor).days
        cursor = event.day
        kind = event.kind
        if kind in ("interest", "close_interest"):
            year_end = dt.date(year_start.year + 1, 6, 30)
            days = (year_end - year_start).days + 1
            total = accrued + (balance if kind == "interest" else 0)
            amount = int((Decimal(total) * INTEREST_RATE / days).quantize(1, ROUND_HALF_UP))
            accrued = 0
            if kind == "interest":
                cursor = event.day + ONE_DAY
                year_start = cursor
            kind = "interest"
        elif event.share > 0:  # a share of the balance (1.0: everything, closing)
            amount = -(balance if event.share >= 1 else yuan_floor(int(balance * event.share)))
        elif event.share < 0:  # a fixed amount capped by the balance
            amount = -min(event.fen, yuan_floor(balance))
        else:
            amount = event.fen
        if amount == 0:
            continue
        balance += amount
        booked.append(
            Booked(event.day, kind, amount, balance, event.period, event.summary, event.reason)
        )
    return booked


def transactions(
    centre: Centre, rows: Rows, ledger: list[Booked], account_id: int, member_id: int
) -> None:
    add = rows.tuples("fund_transactions", TRANSACTION_COLUMNS).append
    first = centre.ids.block("fund_transactions", len(ledger))
    # The hottest loop of the seed (three rows in four): money() inlined.
    for txn_id, entry in enumerate(ledger, first):
        day = entry.day
        add(
            (
                txn_id,
                account_id,
                member_id,
                day,
                entry.kind,
                Decimal(entry.fen).scaleb(-2),
                Decimal(entry.balance).scaleb(-2),
                entry.period,
                entry.summary,
                None,
                booked_at(day),
            )
        )
