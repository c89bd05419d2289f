"""A member's housing loan: planned along the loan engine (:mod:`backend.loans.rules`), never a
formula of our own; its application and nodes, contract, rates, repayments (some late, with the
engine's penalty), overdue notices and 提前还款 applications."""

from __future__ import annotations

import datetime as dt
import functools
import random
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from backend.applications.services import LOAN_NODES
from backend.loans import amortisation, prepayment_rules, rates, rules
from backend.loans.prepayments import contract_quote
from backend.loans.schemas import PrepaymentQuoteSchema
from devtools.seed import applications, data, inbox
from devtools.seed.common import (
    BANKS,
    at,
    month_day,
    month_index,
    pick,
)
from devtools.seed.context import Centre, MemberContext

REPAYMENT_COLUMNS = (
    "id",
    "contract_id",
    "period",
    "due_date",
    "paid_on",
    "principal",
    "interest",
    "penalty",
    "balance_after",
    "channel",
    "external_id",
    "created_at",
)

# Before the 2022 benchmark (backend.loans.rates.BENCHMARK_RATES): the rates of 24 October 2015
# (≤5 years, >5 years), second homes at 1.1 times.
RATES_2015 = (
    dt.date(2015, 10, 24),
    Decimal("2.75"),
    Decimal("3.25"),
    Decimal("3.025"),
    Decimal("3.575"),
)


def rate_history(months: int, first_home: bool) -> tuple[tuple[dt.date, Decimal], ...]:
    """The benchmark history a contract re-prices along, back to 2015 for old loans."""
    effective, first_short, first_long, second_short, second_long = RATES_2015
    short = months <= rates.SHORT_TERM_MONTHS
    if first_home:
        early = first_short if short else first_long
    else:
        early = second_short if short else second_long
    return ((effective, early), *rates.benchmark_rate_history(months, second_home=not first_home))


@functools.cache  # a few thousand terms: amount × months × method × rate
def estimated_payment(amount: Decimal, months: int, method: rules.Method, rate: Decimal) -> Decimal:
    """The first instalment an application quotes (at one rate it does not depend on dates)."""
    return amortisation.generate_schedule(
        amount, months, method, rate, dt.date(2000, 1, 1)
    ).monthly_payment


@dataclass
class Loan:
    state: str
    amount: Decimal
    months: int
    method: rules.Method
    first_home: bool
    applied_on: dt.date
    signed_on: dt.date | None = None
    disbursed_on: dt.date | None = None
    schedule: amortisation.Schedule | None = None
    settle_on: dt.date | None = None  # prepaid in full that day
    missed: int = 0
    contract_no: str = ""
    bank: str = ""


def plan_loan(
    centre: Centre,
    rng: random.Random,
    state: str,
    open_month: int,
    index: int,
    *,
    prepaid: bool = False,
) -> Loan:
    months = rng.choice((120, 180, 240, 300, 360))
    method = rules.Method.EQUAL_INSTALLMENT if rng.random() < 0.75 else rules.Method.EQUAL_PRINCIPAL
    first_home = rng.random() < 0.88
    amount = Decimal(rng.randint(10, 80) * 10000)
    earliest = open_month + 14
    as_month = centre.as_month
    loan = Loan(state, amount, months, method, first_home, applied_on=centre.as_of)
    loan.bank = pick(rng, BANKS)
    if state == "approving":
        loan.applied_on = centre.as_of - dt.timedelta(days=rng.randint(1, 20))
    elif state == "signed":
        loan.applied_on = centre.as_of - dt.timedelta(days=rng.randint(30, 60))
        loan.signed_on = centre.as_of - dt.timedelta(days=rng.randint(1, 15))
    else:
        latest = {"repaying": as_month - 3, "overdue": as_month - 8, "settled": as_month - 15}
        disbursal_month = rng.randint(earliest, max(earliest, latest[state]))
        if prepaid:
            months = 360  # still running: settled early by a full prepayment
        elif state == "settled" and rng.random() < 0.35 and disbursal_month <= as_month - 62:
            months = 60  # ran its course
        loan.months = months
        disbursed = max(month_day(disbursal_month, rng.randint(1, 28)), RATES_2015[0])
        loan.disbursed_on = disbursed
        loan.signed_on = disbursed - dt.timedelta(days=rng.randint(7, 20))
        loan.applied_on = loan.signed_on - dt.timedelta(days=rng.randint(20, 45))
        loan.schedule = amortisation.generate_schedule(
            amount, months, method, rate_history(months, first_home), disbursed
        )
        if state == "settled" and loan.schedule.end_date > centre.as_of:
            paid_up_to = amortisation.add_months(
                disbursed,
                rng.randint(12, max(12, month_index(centre.as_of) - disbursal_month - 1)),
            )
            loan.settle_on = paid_up_to + dt.timedelta(days=rng.randint(10, 16))
            if loan.settle_on >= centre.as_of:
                loan.settle_on = None
                loan.state = "repaying"
        elif state == "repaying" and loan.schedule.end_date <= centre.as_of:
            loan.state = "settled"
        elif state == "overdue":
            loan.missed = rng.randint(1, 3)
    year = (loan.disbursed_on or loan.signed_on or loan.applied_on).year
    loan.contract_no = f"JK1401{year}{index + 1:07d}"  # one loan per member
    return loan


def loan_rows(centre: Centre, ctx: MemberContext, loan: Loan) -> list[dict[str, Any]]:
    rng = ctx.rng
    contract_id = centre.ids("loan_contracts")
    application_id = centre.ids("applications")
    messages: list[dict[str, Any]] = []
    rate = rates.rate_lookup(rate_history(loan.months, loan.first_home))(loan.applied_on)
    estimate = estimated_payment(loan.amount, loan.months, loan.method, rate)
    submitted = at(loan.applied_on, rng.randint(9, 17), rng.randint(0, 59))
    app_no = f"DK{loan.applied_on:%Y%m%d}{ctx.numbers.next()}"
    status = {"approving": "processing", "signed": "approved"}.get(loan.state, "completed")
    completed = at(loan.disbursed_on, 15) if loan.disbursed_on else None
    ctx.rows.add(
        "applications",
        {
            "id": application_id,
            "application_no": app_no,
            "member_id": ctx.member_id,
            "kind": "loan",
            "reason": "购买自住住房",
            "amount": loan.amount,
            "status": status,
            "details": {
                "purpose": "purchase",
                "term_months": loan.months,
                "method": loan.method.value,
                "method_label": loan.method.label,
                "first_home": loan.first_home,
                "annual_rate": str(rate),
                "estimated_monthly_payment": str(estimate),
            },
            "submitted_at": submitted,
            "completed_at": completed,
            "updated_at": completed or submitted,
        },
    )
    _loan_nodes(centre, ctx, loan, application_id, submitted)
    messages.append(
        inbox.message(
            centre,
            ctx,
            "贷款申请受理",
            f"您的住房公积金贷款申请（{app_no}）已受理，申请金额 {loan.amount} 元，"
            f"期限 {loan.months} 个月。",
            submitted + dt.timedelta(minutes=5),
            "application",
            application_id=application_id,
        )
    )
    schedule = loan.schedule
    balance = Decimal("0.00")
    settled_on: dt.date | None = None
    if schedule is not None:
        balance, settled_on = _repayments(centre, ctx, loan, contract_id, schedule, messages)
        messages += _prepayments(centre, ctx, loan, contract_id, schedule)
        for k, segment in enumerate(schedule.segments()):
            due = schedule.periods[segment.first_period - 1].due_date
            ctx.rows.add(
                "loan_rates",
                {
                    "id": centre.ids("loan_rates"),
                    "contract_id": contract_id,
                    "effective_from": loan.disbursed_on if k == 0 else dt.date(due.year, 1, 1),
                    "annual_rate": segment.annual_rate,
                },
            )
    else:
        ctx.rows.add(
            "loan_rates",
            {
                "id": centre.ids("loan_rates"),
                "contract_id": contract_id,
                "effective_from": loan.signed_on or loan.applied_on,
                "annual_rate": rate,
            },
        )
    if loan.state == "signed":
        assert loan.signed_on is not None
        messages.append(
            inbox.message(
                centre,
                ctx,
                "借款合同签订",
                f"您的借款合同【{loan.contract_no}】已签订，贷款将在抵押登记办结后发放。",
                at(loan.signed_on, 16),
                "loan",
                application_id=application_id,
            )
        )
        messages.append(
            inbox.message(
                centre,
                ctx,
                "办理抵押登记",
                f"请于 15 日内携带购房合同到不动产登记中心办理借款合同【{loan.contract_no}】的抵押登记。",
                at(loan.signed_on, 16, 5),
                "todo",
                due_days=15,
                application_id=application_id,
            )
        )
    first_due = schedule.periods[0].due_date if schedule else None
    ctx.rows.add(
        "loan_contracts",
        {
            "id": contract_id,
            "contract_no": loan.contract_no,
            "member_id": ctx.member_id,
            "application_id": application_id,
            "amount": loan.amount,
            "term_months": loan.months,
            "method": loan.method.value,
            "status": loan.state,
            "first_home": loan.first_home,
            "signed_on": loan.signed_on,
            "disbursed_on": loan.disbursed_on,
            "first_due_date": first_due,
            "repayment_day": first_due.day if first_due else None,
            "balance": balance,
            "bank_name": loan.bank,
            "settled_on": settled_on,
            "created_at": submitted,
            "updated_at": submitted,
        },
    )
    return messages


def _loan_nodes(
    centre: Centre, ctx: MemberContext, loan: Loan, application_id: int, submitted: dt.datetime
) -> None:
    rng = ctx.rng
    if loan.state == "approving":
        done = rng.randint(0, 1)  # still at 申请受理, or accepted and under 审批
    elif loan.state == "signed":
        done = 3
    else:
        done = len(LOAN_NODES)
    stamps = [submitted]
    if loan.signed_on and loan.disbursed_on:
        stamps = [
            submitted,
            submitted + dt.timedelta(days=rng.randint(3, 10)),
            at(loan.signed_on, 10),
            at(loan.disbursed_on - dt.timedelta(days=rng.randint(1, 5)), 11),
            at(loan.disbursed_on, 14),
        ]
    elif loan.signed_on:
        stamps = [submitted, submitted + dt.timedelta(days=7), at(loan.signed_on, 10)]
    else:
        stamps = [submitted + dt.timedelta(hours=2)]
    for seq, name in enumerate(LOAN_NODES):
        state = "done" if seq < done else "current" if seq == done else "pending"
        opinion = handler = acted = None
        if state == "done":
            opinion = data.LOAN_OPINIONS[name]
            handler = rng.choice(data.HANDLERS)
            acted = stamps[min(seq, len(stamps) - 1)]
        elif state == "current":
            opinion = data.LOAN_PENDING_OPINIONS.get(name)
        applications.node(
            centre, ctx.rows, application_id, seq, name, state, opinion, handler, acted
        )


def _repayments(
    centre: Centre,
    ctx: MemberContext,
    loan: Loan,
    contract_id: int,
    schedule: amortisation.Schedule,
    messages: list[dict[str, Any]],
) -> tuple[Decimal, dt.date | None]:
    """Repayment rows as the schedule has them; returns (remaining principal, settled on)."""
    rng = ctx.rng
    cutoff = loan.settle_on or centre.as_of
    due = [p for p in schedule.periods if p.due_date <= cutoff]
    if loan.state == "overdue":
        late = [p for p in due if p.due_date < centre.as_of]
        loan.missed = min(loan.missed, max(len(late) - 1, 0))
        if loan.missed == 0:
            loan.state = "repaying"  # disbursed too recently to have missed a period
        due = late[: len(late) - loan.missed] if loan.missed else late
    add = ctx.rows.tuples("loan_repayments", REPAYMENT_COLUMNS).append
    balance = schedule.principal
    for period in due:
        paid_on = period.due_date
        penalty = Decimal("0.00")
        channel = "entrusted" if rng.random() < 0.93 else "self"
        if rng.random() < 0.03:
            late_days = rng.randint(3, 20)
            if period.due_date + dt.timedelta(days=late_days) <= centre.as_of:
                paid_on = period.due_date + dt.timedelta(days=late_days)
                penalty = rules.overdue_penalty(period.payment, late_days, period.annual_rate)
                channel = "self"
        add(
            (
                centre.ids("loan_repayments"),
                contract_id,
                period.period,
                period.due_date,
                paid_on,
                period.principal,
                period.interest,
                penalty,
                period.remaining,
                channel,
                None,
                at(paid_on, 18),
            )
        )
        balance = period.remaining
    for period in due[-2:]:
        messages.append(
            inbox.message(
                centre,
                ctx,
                "贷款还款成功",
                f"您的借款合同【{loan.contract_no}】第 {period.period} 期应还 {period.payment} 元"
                f"（本金 {period.principal} 元，利息 {period.interest} 元）已扣款成功，"
                f"剩余本金 {period.remaining} 元。",
                at(period.due_date, 19),
                "loan",
            )
        )
    if loan.settle_on is not None:
        quote = prepayment_rules.quote_prepayment(
            schedule, loan.settle_on, prepayment_rules.PrepaymentKind.FULL, paid_periods=len(due)
        )
        add(
            (
                centre.ids("loan_repayments"),
                contract_id,
                len(due) + 1,
                loan.settle_on,
                loan.settle_on,
                quote.prepaid_principal,
                quote.accrued_interest,
                Decimal("0.00"),
                Decimal("0.00"),
                "self",
                None,
                at(loan.settle_on, 18),
            )
        )
        balance = Decimal("0.00")
    if loan.state == "settled":
        settled_on = loan.settle_on or schedule.end_date
        messages.append(
            inbox.message(
                centre,
                ctx,
                "贷款结清",
                f"您的借款合同【{loan.contract_no}】已于 {settled_on} 结清。请携带本人身份证到"
                f"{loan.bank}办理抵押注销手续。",
                at(settled_on, 17),
                "loan",
            )
        )
        return Decimal("0.00"), settled_on
    if loan.state == "overdue":
        missed = [p for p in schedule.periods if p.due_date < centre.as_of][len(due) :]
        owed = sum((p.payment for p in missed), Decimal("0.00"))
        penalty = sum(
            (
                rules.overdue_penalty(
                    p.payment, rules.days_overdue(p.due_date, centre.as_of), p.annual_rate
                )
                for p in missed
            ),
            Decimal("0.00"),
        )
        notice = (
            f"您的借款合同【{loan.contract_no}】已逾期 {len(missed)} 期，逾期本息 {owed} 元，"
            f"截至 {centre.as_of} 罚息 {penalty} 元。请尽快归还，以免影响个人征信。"
        )
        sent = at(centre.as_of - dt.timedelta(days=1), 9)
        messages.append(inbox.message(centre, ctx, "贷款逾期提醒", notice, sent, "loan"))
        messages.append(
            inbox.message(centre, ctx, "归还逾期贷款", notice, sent, "todo", due_days=10)
        )
    return balance, None


def _prepayments(
    centre: Centre,
    ctx: MemberContext,
    loan: Loan,
    contract_id: int,
    schedule: amortisation.Schedule,
) -> list[dict[str, Any]]:
    """提前还款申请 rows: the booked full prepayment of a loan settled early; for a repaying
    loan (the showcase, and some others) a pending one and, on the showcase, a refused one."""
    wanted = ctx.profile.prepayment
    messages: list[dict[str, Any]] = []
    if loan.settle_on is not None:
        quote = prepayment_rules.quote_prepayment(
            schedule, loan.settle_on, prepayment_rules.PrepaymentKind.FULL
        )
        no = _prepayment(centre, ctx, contract_id, loan, "full", None, quote, "booked")
        messages.append(
            inbox.message(
                centre,
                ctx,
                "提前还款办理成功",
                f"您的借款合同（{loan.contract_no}）提前还款申请（编号{no}）已于"
                f"{loan.settle_on:%Y年%m月%d日}办理，归还本金{quote.prepaid_principal}元、"
                f"利息{quote.accrued_interest}元，贷款已全部结清。",
                at(loan.settle_on, 16),
                "loan",
            )
        )
        return messages
    if loan.state != "repaying" or not (wanted == "pending" or ctx.rng.random() < 0.15):
        return messages
    paid = schedule.due_on_or_before(centre.as_of)
    following = schedule.next_due(centre.as_of)
    if len(paid) < 3 or following is None:
        return messages
    balance = paid[-1].remaining
    amount = max(
        Decimal("10000.00"),
        ((balance / 5 / 10000).to_integral_value() * 10000).quantize(rules.FEN),
    )
    if amount >= balance:
        return messages
    if wanted == "pending":
        earlier = paid[-3].due_date + dt.timedelta(days=10)
        refused = prepayment_rules.quote_prepayment(
            schedule, earlier, prepayment_rules.PrepaymentKind.REDUCE_INSTALMENT, amount
        )
        _prepayment(
            centre, ctx, contract_id, loan, "partial", "reduce_instalment", refused, "refused"
        )
    day = next(
        (
            centre.as_of + dt.timedelta(days=d)
            for d in range(1, 32)
            if prepayment_rules.booking_refusal(
                centre.as_of + dt.timedelta(days=d),
                today=centre.as_of,
                next_due=following.due_date,
                repayment_day=schedule.periods[0].due_date.day,
                paid_periods=len(paid),
            )
            is None
        ),
        None,
    )
    if day is None:
        return messages
    quote = prepayment_rules.quote_prepayment(
        schedule, day, prepayment_rules.PrepaymentKind.SHORTEN_TERM, amount, paid_periods=len(paid)
    )
    no = _prepayment(centre, ctx, contract_id, loan, "partial", "shorten_term", quote, "pending")
    messages.append(
        inbox.message(
            centre,
            ctx,
            "提前还款申请",
            f"您的借款合同（{loan.contract_no}）部分提前还款（缩短期限）申请（编号{no}）已提交，"
            f"预约还款日期{day:%Y年%m月%d日}，预计应还{quote.amount_due}元。",
            at(centre.as_of - dt.timedelta(days=1), 15),
            "loan",
        )
    )
    return messages


def _prepayment(
    centre: Centre,
    ctx: MemberContext,
    contract_id: int,
    loan: Loan,
    kind: str,
    option: str | None,
    quote: prepayment_rules.PrepaymentQuote,
    status: str,
) -> str:
    no = f"HK{quote.on:%Y%m%d}{ctx.numbers.next()}"
    created = at(min(quote.on - dt.timedelta(days=5), centre.as_of - dt.timedelta(days=1)), 10)
    decided = at(quote.on, 16) if status != "pending" else None
    ctx.rows.add(
        "loan_prepayments",
        {
            "id": centre.ids("loan_prepayments"),
            "prepayment_no": no,
            "contract_id": contract_id,
            "member_id": ctx.member_id,
            "kind": kind,
            "option": option,
            "amount": quote.prepaid_principal if kind == "partial" else None,
            "prepay_on": quote.on,
            "status": status,
            "quote": PrepaymentQuoteSchema().dump(
                contract_quote(loan.contract_no, kind, option, quote)
            ),
            "opinion": "预约还款日还款账户余额不足，未能扣款" if status == "refused" else "",
            "decision_event_id": f"seed-{no}" if decided else None,
            "decision_hash": None,
            "booked_principal": quote.prepaid_principal if status == "booked" else None,
            "booked_interest": quote.accrued_interest if status == "booked" else None,
            "decided_at": decided,
            "created_at": created,
        },
    )
    return no
