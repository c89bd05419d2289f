"""Loans API: contracts, info, progress, repayments, schedule, prepayment quotes, calculator and
applications. Repayment history is seeded from the engine and read back through the API."""

import datetime as dt
import json
from contextlib import contextmanager
from decimal import Decimal

import pytest
from sqlalchemy import event, func, select

from backend.app import create_app
from backend.applications.models import Application, ApplicationNode
from backend.identity.stepup import send_transaction_code
from backend.loans import amortisation, prepayment_rules, rates, rules
from backend.loans.contracts import percent
from backend.loans.models import LoanRepayment
from tests.factories import seeded_schedule

D = Decimal
NO_LOAN = "您未办理贷款业务，如需办理贷款业务，请回到主页面进行贷款申请"


def ten_am(day: dt.date) -> dt.datetime:
    """10:00 in Asia/Shanghai on ``day``: the moment a test sets the clock to for that business date."""
    return dt.datetime(day.year, day.month, day.day, 2, 0, tzinfo=dt.UTC)


@pytest.fixture
def member(make):
    return make.member(balance="80000.00")


@pytest.fixture
def auth(member, login):
    return login(member)


@pytest.fixture
def statements(runtime):
    """Counts SQL statements sent while the block runs: ``with statements() as count: …``."""

    @contextmanager
    def _count():
        seen = []

        def _before(conn, cursor, statement, parameters, context, executemany):
            seen.append(statement)

        event.listen(runtime.engine, "before_cursor_execute", _before)
        try:
            yield seen
        finally:
            event.remove(runtime.engine, "before_cursor_execute", _before)

    return _count


# --- GET /loans ---------------------------------------------------------------------------------


def test_loans_list_gives_manual_notice_when_member_has_no_loan(client, auth):
    r = client.get("/api/v1/loans", headers=auth)
    assert r.status_code == 200
    assert r.json["items"] == []
    assert r.json["notice"] == NO_LOAN


def test_loans_list_shows_own_contracts_when_several(client, auth, member, make, loan):
    signed = loan(member, status="signed")
    repaying = loan(member, paid=3)
    loan(make.member())  # someone else's
    r = client.get("/api/v1/loans", headers=auth)
    assert r.status_code == 200
    assert "notice" not in r.json
    assert [(i["contract_no"], i["status"], i["amount"]) for i in r.json["items"]] == [
        (repaying.contract_no, "repaying", "1000000.00"),
        (signed.contract_no, "signed", "1000000.00"),
    ]
    assert r.json["items"][1]["status_label"] == "已签合同未放款"
    assert r.json["next_cursor"] is None


def test_loans_list_refuses_when_not_logged_in(client):
    r = client.get("/api/v1/loans")
    assert r.status_code == 401
    assert r.json["error_code"] == "auth.missing_token"


# --- 404 for another member's contract, on every endpoint ------------------------------------------

CONTRACT_ENDPOINTS = [
    ("get", "/api/v1/loans/{}"),
    ("get", "/api/v1/loans/{}/progress"),
    ("get", "/api/v1/loans/{}/repayments"),
    ("get", "/api/v1/loans/{}/schedule"),
    ("post", "/api/v1/loans/{}/prepayment-quotes"),
]


@pytest.mark.parametrize(("method", "path"), CONTRACT_ENDPOINTS)
def test_contract_endpoint_answers_404_when_contract_is_another_members(
    client, auth, make, loan, method, path
):
    theirs = loan(make.member(), paid=2)
    kwargs = {"json": {"kind": "full"}} if method == "post" else {}
    r = getattr(client, method)(path.format(theirs.contract_no), headers=auth, **kwargs)
    assert r.status_code == 404
    assert r.json["error_code"] == "loan.not_found"
    assert r.json["message"] == "未找到该贷款合同"


@pytest.mark.parametrize(("method", "path"), CONTRACT_ENDPOINTS)
def test_contract_endpoint_answers_404_when_contract_unknown(client, auth, method, path):
    kwargs = {"json": {"kind": "full"}} if method == "post" else {}
    r = getattr(client, method)(path.format("HT-NOPE"), headers=auth, **kwargs)
    assert r.status_code == 404


# --- GET /loans/{no} ------------------------------------------------------------------------------


def test_loan_info_reads_figures_off_engine_when_disbursed(client, auth, member, loan, clock):
    contract = loan(member, paid=14)  # paid through 2025-05-15
    clock.set(ten_am(dt.date(2025, 6, 1)))
    r = client.get(f"/api/v1/loans/{contract.contract_no}", headers=auth)
    assert r.status_code == 200
    body = r.json
    schedule = seeded_schedule(contract)
    assert body["disbursed_on"] == "2024-03-15"
    assert body["term"] == {"years": 30, "months": 0}
    assert body["amount"] == "1000000.00"
    assert body["annual_rate"] == "2.85"
    assert body["method_label"] == "等额本息"
    assert body["monthly_payment"] == str(schedule.periods[14].payment) == "4138.34"
    assert body["remaining_balance"] == str(schedule.periods[13].remaining)
    assert body["next_due"] == {
        "period": 15,
        "due_date": "2025-06-15",
        "amount": "4138.34",
        "principal": str(schedule.periods[14].principal),
        "interest": str(schedule.periods[14].interest),
    }
    assert body["status_label"] == "还款中"
    assert body["bank_name"] == "中国建设银行示范市分行"
    assert body["overdue"] is None
    assert "notice" not in body


def test_loan_info_gives_notice_and_no_figures_when_not_disbursed(client, auth, member, loan):
    contract = loan(member, status="signed")
    r = client.get(f"/api/v1/loans/{contract.contract_no}", headers=auth)
    assert r.status_code == 200
    assert r.json["notice"] == f"此合同【{contract.contract_no}】的贷款未发放"
    for figure in ("monthly_payment", "remaining_balance", "next_due", "annual_rate"):
        assert r.json.get(figure) is None
    assert r.json["amount"] == "1000000.00"


def test_loan_info_reports_overdue_penalty_when_period_unpaid(client, auth, member, loan, clock):
    contract = loan(member, paid=14)
    clock.set(ten_am(dt.date(2025, 7, 15)))  # period 15 (due 06-15) is 30 days late
    r = client.get(f"/api/v1/loans/{contract.contract_no}", headers=auth)
    overdue = r.json["overdue"]
    assert overdue["periods"] == 1 and overdue["days"] == 30
    assert overdue["amount"] == "4138.34"
    assert overdue["penalty"] == str(rules.overdue_penalty(D("4138.34"), 30, "2.85"))


def test_loan_info_shows_the_next_instalment_still_to_come_when_overdue(
    client, auth, member, loan, clock
):
    contract = loan(member, paid=14, status="overdue")
    clock.set(ten_am(dt.date(2025, 7, 20)))  # periods 15 (06-15) and 16 (07-15) unpaid
    body = client.get(f"/api/v1/loans/{contract.contract_no}", headers=auth).json
    assert body["overdue"]["periods"] == 2
    assert body["next_due"]["period"] == 17 and body["next_due"]["due_date"] == "2025-08-15"


def test_loan_info_shows_the_contract_end_date_when_settled_early(
    client, auth, member, loan, session
):
    contract = loan(member, paid=14, status="settled")
    session.add(
        LoanRepayment(
            contract_id=contract.id,
            period=15,
            due_date=dt.date(2025, 6, 2),
            paid_on=dt.date(2025, 6, 2),
            principal=contract.balance,
            interest=D("100.00"),
            penalty=D("0.00"),
            balance_after=D("0.00"),
            channel="self",
        )
    )
    contract.settled_on = dt.date(2025, 6, 2)
    contract.balance = D("0.00")
    session.commit()
    body = client.get(f"/api/v1/loans/{contract.contract_no}", headers=auth).json
    assert body["end_date"] == seeded_schedule(contract).end_date.isoformat() == "2054-03-15"


# --- GET /loans/{no}/progress -----------------------------------------------------------------------


def test_loan_info_shows_nothing_left_to_pay_when_settled(client, auth, member, loan, clock):
    contract = loan(member, paid=360, status="settled")
    body = client.get(f"/api/v1/loans/{contract.contract_no}", headers=auth).json
    assert body["status_label"] == "已结清"
    assert body["remaining_balance"] == "0.00"
    assert body["next_due"] is None and body["monthly_payment"] is None
    assert body["paid_periods"] == 360 and body["remaining_periods"] == 0
    r = _quote(clock, client, auth, contract, {"kind": "full"})
    assert r.status_code == 422 and r.json["error_code"] == "loan.settled"


def test_progress_lists_application_nodes_when_loan_came_through_application(
    client, auth, member, loan, session
):
    application = Application(
        application_no="DK2024030100000001",
        member_id=member.id,
        kind="loan",
        reason="购买自住住房",
        amount=D("1000000.00"),
        status="approved",
    )
    acted = dt.datetime(2024, 3, 1, 2, 30, tzinfo=dt.UTC)
    application.nodes = [
        ApplicationNode(seq=0, name="申请受理", state="done", acted_at=acted, opinion="资料齐全"),
        ApplicationNode(seq=1, name="审批", state="done", acted_at=acted, opinion="同意"),
        ApplicationNode(seq=2, name="签订合同", state="current"),
        ApplicationNode(seq=3, name="抵押登记", state="pending"),
        ApplicationNode(seq=4, name="放款", state="pending"),
    ]
    session.add(application)
    session.commit()
    contract = loan(member, status="signed", application_id=application.id)
    r = client.get(f"/api/v1/loans/{contract.contract_no}/progress", headers=auth)
    assert r.status_code == 200
    nodes = r.json["nodes"]
    assert [(n["name"], n["state"]) for n in nodes] == [
        ("申请受理", "done"),
        ("审批", "done"),
        ("签订合同", "current"),
        ("抵押登记", "pending"),
        ("放款", "pending"),
    ]
    assert nodes[0]["acted_at"] == "2024-03-01T10:30:00+08:00"
    assert nodes[1]["opinion"] == "同意"
    assert nodes[2]["state_label"] == "办理中"
    assert r.json["application_no"] == "DK2024030100000001"


def test_progress_derives_nodes_from_status_when_no_application(client, auth, member, loan):
    contract = loan(member, paid=1)
    r = client.get(f"/api/v1/loans/{contract.contract_no}/progress", headers=auth)
    assert {n["state"] for n in r.json["nodes"]} == {"done"}
    signed = loan(member, status="signed")
    r = client.get(f"/api/v1/loans/{signed.contract_no}/progress", headers=auth)
    assert [n["state"] for n in r.json["nodes"]] == ["done", "done", "done", "current", "pending"]


# --- GET /loans/{no}/repayments ---------------------------------------------------------------------


def test_repayments_agree_with_engine_when_seeded_from_schedule(client, auth, member, loan):
    contract = loan(member, paid=12)
    r = client.get(f"/api/v1/loans/{contract.contract_no}/repayments?limit=100", headers=auth)
    assert r.status_code == 200
    items = r.json["items"]
    assert [i["period"] for i in items] == list(range(12, 0, -1))  # newest first
    schedule = seeded_schedule(contract)
    for item in items:
        row = schedule.periods[item["period"] - 1]
        assert item["principal"] == str(row.principal)
        assert item["interest"] == str(row.interest)
        assert item["amount"] == str(row.payment)
        assert item["balance_after"] == str(row.remaining)
        assert item["channel_label"] == "委托扣划"
    assert items[0]["amount"] == "4138.34"  # 2025 re-priced instalment
    assert items[-1]["amount"] == "4270.16"


def test_schedule_agrees_with_seeded_history_when_equal_principal(client, auth, member, loan):
    contract = loan(member, paid=24, method="equal_principal")
    schedule = seeded_schedule(contract)
    plan = client.get(f"/api/v1/loans/{contract.contract_no}/schedule", headers=auth).json
    paid = client.get(
        f"/api/v1/loans/{contract.contract_no}/repayments?limit=100", headers=auth
    ).json["items"]
    assert [row["payment"] for row in plan["schedule"]] == [
        str(p.payment) for p in schedule.periods
    ]
    assert {(i["period"], i["amount"]) for i in paid} == {
        (p.period, str(p.payment)) for p in schedule.periods[:24]
    }
    assert plan["schedule"][0]["payment"] == "5361.11"  # 2777.78 + 1,000,000 × 3.1 % / 12 (2583.33)
    info = client.get(f"/api/v1/loans/{contract.contract_no}", headers=auth).json
    assert info["method_label"] == "等额本金"
    assert info["remaining_balance"] == str(schedule.periods[23].remaining)


def test_repayments_paginate_by_cursor_when_more_than_limit(client, auth, member, loan):
    contract = loan(member, paid=12)
    url = f"/api/v1/loans/{contract.contract_no}/repayments?limit=5"
    seen, cursor = [], None
    for _ in range(4):
        r = client.get(url + (f"&cursor={cursor}" if cursor else ""), headers=auth)
        seen += [i["period"] for i in r.json["items"]]
        cursor = r.json["next_cursor"]
        if cursor is None:
            break
    assert seen == list(range(12, 0, -1))


def test_repayments_filter_by_paid_date_when_range_given(client, auth, member, loan):
    contract = loan(member, paid=12, channel="fund_offset")
    r = client.get(
        f"/api/v1/loans/{contract.contract_no}/repayments?start=2024-06-01&end=2024-08-31",
        headers=auth,
    )
    assert [i["paid_on"] for i in r.json["items"]] == ["2024-08-15", "2024-07-15", "2024-06-15"]
    assert r.json["items"][0]["channel_label"] == "公积金冲还"


@pytest.mark.parametrize(
    "query", ["start=2024-09-01&end=2024-06-01", "limit=101", "limit=0", "cursor=%%%", "start=x"]
)
def test_repayments_refuse_with_422_when_query_invalid(client, auth, member, loan, query):
    contract = loan(member, paid=2)
    r = client.get(f"/api/v1/loans/{contract.contract_no}/repayments?{query}", headers=auth)
    assert r.status_code == 422
    assert r.json["message"]


# --- GET /loans/{no}/schedule ------------------------------------------------------------------------


def test_schedule_marks_paid_periods_and_matches_engine_when_paid_as_scheduled(
    client, auth, member, loan
):
    contract = loan(member, paid=14)
    r = client.get(f"/api/v1/loans/{contract.contract_no}/schedule", headers=auth)
    assert r.status_code == 200
    rows = r.json["schedule"]
    schedule = seeded_schedule(contract)
    assert len(rows) == 360
    assert [row["paid"] for row in rows] == [True] * 14 + [False] * 346
    for row, period in zip(rows, schedule.periods, strict=True):
        assert row == {
            "period": period.period,
            "due_date": period.due_date.isoformat(),
            "payment": str(period.payment),
            "principal": str(period.principal),
            "interest": str(period.interest),
            "remaining": str(period.remaining),
            "paid": row["paid"],
        }
    totals = r.json["totals"]
    assert totals["total_payment"] == str(schedule.total_payment)
    assert totals["total_interest"] == str(schedule.total_interest)
    assert totals["remaining_principal"] == str(schedule.periods[13].remaining)
    assert totals["remaining_periods"] == 346
    assert totals["remaining_interest"] == str(sum(p.interest for p in schedule.periods[14:]))


def test_schedule_re_amortises_remaining_periods_when_history_has_a_prepayment(
    client, auth, member, loan, session
):
    contract = loan(member, paid=14)
    last = session.scalars(
        select(LoanRepayment).where(
            LoanRepayment.contract_id == contract.id, LoanRepayment.period == 14
        )
    ).one()
    session.add(
        LoanRepayment(
            contract_id=contract.id,
            period=14,
            due_date=last.due_date,
            paid_on=dt.date(2025, 5, 20),
            principal=D("100000.00"),
            interest=D("0.00"),
            balance_after=last.balance_after - D("100000.00"),
            channel="self",
        )
    )
    session.commit()
    r = client.get(f"/api/v1/loans/{contract.contract_no}/schedule", headers=auth)
    rows = r.json["schedule"]
    assert len(rows) == 360
    paid14 = rows[13]
    assert paid14["paid"] and paid14["principal"] == str(last.principal + D("100000.00"))
    remaining = sum(D(row["principal"]) for row in rows[14:])
    assert remaining == last.balance_after - D("100000.00")
    assert rows[-1]["remaining"] == "0.00"
    assert D(rows[14]["payment"]) < D("4138.34")
    assert r.json["totals"]["remaining_principal"] == str(remaining)


def test_schedule_gives_notice_when_not_disbursed(client, auth, member, loan):
    contract = loan(member, status="approving")
    r = client.get(f"/api/v1/loans/{contract.contract_no}/schedule", headers=auth)
    assert r.status_code == 200
    assert r.json["schedule"] == [] and r.json["totals"] is None
    assert r.json["notice"] == f"此合同【{contract.contract_no}】的贷款未发放"


# --- POST /loans/{no}/prepayment-quotes --------------------------------------------------------------


def _quote(clock, client, auth, contract, body, day=dt.date(2025, 6, 1)):
    clock.set(ten_am(day))
    return client.post(
        f"/api/v1/loans/{contract.contract_no}/prepayment-quotes", json=body, headers=auth
    )


def test_full_prepayment_quote_is_balance_plus_accrued_interest_when_mid_period(
    client, auth, member, loan, clock
):
    contract = loan(member, paid=14)
    r = _quote(clock, client, auth, contract, {"kind": "full"})
    assert r.status_code == 200, r.json
    schedule = seeded_schedule(contract)
    expected = prepayment_rules.quote_prepayment(
        schedule, dt.date(2025, 6, 1), "full", window_days=2
    )
    balance = schedule.periods[13].remaining
    accrued = (balance * D("2.85") / 36000 * 17).quantize(D("0.01"))
    assert r.json["balance"] == str(balance)
    assert r.json["accrued_interest"] == str(accrued)
    assert r.json["amount_due"] == str(balance + accrued) == str(expected.amount_due)
    assert r.json["interest_saved"] == str(expected.interest_saved)
    assert r.json["new_months"] == 0 and r.json["new_payment"] is None


def test_partial_prepayment_quotes_shorter_term_or_smaller_instalment_when_option_chosen(
    client, auth, member, loan, clock
):
    contract = loan(member, paid=14)
    shorten = _quote(
        clock,
        client,
        auth,
        contract,
        {"kind": "partial", "option": "shorten_term", "amount": "100000.00"},
    ).json
    reduce = _quote(
        clock,
        client,
        auth,
        contract,
        {"kind": "partial", "option": "reduce_instalment", "amount": "100000.00"},
    ).json
    assert shorten["new_months"] < shorten["current_months"] == 346
    assert D(shorten["new_payment"]) <= D(shorten["current_payment"]) == D("4138.34")
    assert shorten["new_end_date"] < shorten["current_end_date"]
    assert reduce["new_months"] == 346 and reduce["new_end_date"] == reduce["current_end_date"]
    assert D(reduce["new_payment"]) < D("4138.34")
    assert D(shorten["interest_saved"]) > D(reduce["interest_saved"]) > 0
    assert D(reduce["amount_due"]) == D("100000.00") + D(reduce["accrued_interest"])


@pytest.mark.parametrize("day", [dt.date(2025, 6, 13), dt.date(2025, 6, 15), dt.date(2025, 6, 17)])
def test_prepayment_quote_refused_when_on_or_around_deduction_day(
    client, auth, member, loan, day, clock
):
    contract = loan(member, paid=14 if day < dt.date(2025, 6, 15) else 15)
    r = _quote(clock, client, auth, contract, {"kind": "full"}, day=day)
    assert r.status_code == 422
    assert r.json["error_code"] == "loan.prepayment_deduction_window"
    assert "还款日及其前后2天内不能办理提前还款" in r.json["message"]


def test_prepayment_quote_follows_configured_window_when_setting_changed(
    make_runtime, runtime, auth, member, loan, clock
):
    runtime = make_runtime(settings=runtime.settings.with_(prepayment_blackout_days=5))
    client = create_app(runtime=runtime).test_client()
    contract = loan(member, paid=14)
    r = _quote(clock, client, auth, contract, {"kind": "full"}, day=dt.date(2025, 6, 10))
    assert r.status_code == 422
    assert "前后5天" in r.json["message"]


def test_prepayment_quote_refused_when_a_period_is_overdue(client, auth, member, loan, clock):
    contract = loan(member, paid=13)  # period 14 (2025-05-15) unpaid
    r = _quote(clock, client, auth, contract, {"kind": "full"})
    assert r.status_code == 422
    assert r.json["error_code"] == "loan.prepayment_overdue"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"kind": "partial", "amount": "1000"}, "option"),
        ({"kind": "partial", "option": "shorten_term"}, "amount"),
        ({"kind": "partial", "option": "shorten_term", "amount": "0"}, "amount"),
        ({"kind": "partial", "option": "shorten_term", "amount": "99999999"}, "amount"),
        ({"kind": "some"}, "kind"),
    ],
)
def test_prepayment_quote_refused_with_field_error_when_body_invalid(
    client, auth, member, loan, body, field, clock
):
    contract = loan(member, paid=14)
    r = _quote(clock, client, auth, contract, body)
    assert r.status_code == 422
    assert field in r.json["errors"]


def test_prepayment_quote_refused_when_not_disbursed(client, auth, member, loan, clock):
    contract = loan(member, status="signed")
    r = _quote(clock, client, auth, contract, {"kind": "full"})
    assert r.status_code == 422
    assert r.json["error_code"] == "loan.not_disbursed"
    assert r.json["message"] == f"此合同【{contract.contract_no}】的贷款未发放"


# --- GET /loan-calculator -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "monthly"),
    [
        ("principal=1000000&months=360&annual_rate=2.85&method=equal_installment", "4135.57"),
        ("principal=1000000&months=360&annual_rate=2.6&method=equal_installment", "4003.40"),
        ("principal=150000&months=240&annual_rate=4.5&method=equal_installment", "948.97"),
        ("principal=150000&months=240&annual_rate=4.5&method=equal_principal", "1187.50"),
    ],
)
def test_calculator_gives_published_figures_when_public_and_anonymous(client, query, monthly):
    r = client.get(f"/api/v1/loan-calculator?{query}")
    assert r.status_code == 200
    body = r.json
    assert body["monthly_payment"] == monthly
    rows = body["schedule"]
    assert set(rows[0]) == {"period", "due_date", "payment", "principal", "interest", "remaining"}
    assert rows[-1]["remaining"] == "0.00"
    assert body["total_payment"] == str(sum(D(row["payment"]) for row in rows))
    assert body["total_interest"] == str(sum(D(row["interest"]) for row in rows))
    assert sum(D(row["principal"]) for row in rows) == D(body["principal"])


def test_calculator_schedule_starts_next_month_when_computed_today(client, clock):
    clock.set(ten_am(dt.date(2025, 1, 31)))
    r = client.get(
        "/api/v1/loan-calculator?principal=12000&months=3&annual_rate=3.1&method=equal_principal"
    )
    assert [row["due_date"] for row in r.json["schedule"]] == [
        "2025-02-28",
        "2025-03-31",
        "2025-04-30",
    ]
    assert r.json["annual_rate"] == "3.10"


def test_calculator_reports_every_bad_field_when_out_of_bounds(client):
    r = client.get(
        "/api/v1/loan-calculator?principal=5000000.01&months=361&annual_rate=0&method=monthly"
    )
    assert r.status_code == 422
    assert r.json["error_code"] == "loan.terms_invalid"
    assert set(r.json["errors"]) == {"principal", "months", "annual_rate", "method"}


@pytest.mark.parametrize(
    "query",
    [
        "principal=abc&months=12&annual_rate=3&method=equal_principal",
        "principal=100&months=1.5&annual_rate=3&method=equal_principal",
        "principal=100&months=12&annual_rate=20.5&method=equal_principal",
        "principal=-1&months=12&annual_rate=3&method=equal_principal",
        "months=12&annual_rate=3&method=equal_principal",
    ],
)
def test_calculator_answers_422_envelope_when_input_bad(client, query):
    r = client.get(f"/api/v1/loan-calculator?{query}")
    assert r.status_code == 422
    assert {"code", "status", "message", "error_code", "errors"} <= set(r.json)


# --- POST /loan-applications -------------------------------------------------------------------------------

APPLY_DAY = dt.date(2025, 6, 20)


@pytest.fixture
def depositor(make, session):
    """A member with a normal account, 80,000.00 balance and deposits for 2024-12 … 2025-05."""
    member = make.member(balance="0.00")
    from backend.accounts.models import FundAccount

    account = session.scalars(select(FundAccount).filter_by(member_id=member.id)).one()
    make.transaction(account, txn_date=dt.date(2024, 11, 1), amount="74240.00", kind="transfer_in")
    for month in range(6):
        day = amortisation.add_months(dt.date(2024, 12, 10), month)
        make.transaction(account, txn_date=day, amount="960.00", period_month=day.strftime("%Y-%m"))
    return member


def _sms_code(clock, runtime, member):
    clock.set(ten_am(APPLY_DAY))
    send_transaction_code(runtime, member)
    with open(runtime.settings.sms_outbox, encoding="utf-8") as outbox:
        return json.loads(outbox.readlines()[-1])["code"]


def _apply(clock, client, headers, body, key="key-1"):
    clock.set(ten_am(APPLY_DAY))
    return client.post(
        "/api/v1/loan-applications",
        json=body,
        headers=headers | ({"Idempotency-Key": key} if key else {}),
    )


def _application_body(code, **changes):
    return {
        "amount": "600000.00",
        "term_months": 360,
        "method": "equal_installment",
        "sms_code": code,
    } | changes


def _loan_applications(session, member):
    session.expire_all()
    return session.scalar(
        select(func.count()).select_from(Application).filter_by(member_id=member.id, kind="loan")
    )


def test_loan_application_created_and_visible_at_once_when_eligible(
    client, runtime, login, depositor, session, clock
):
    r = _apply(
        clock, client, login(depositor), _application_body(_sms_code(clock, runtime, depositor))
    )
    assert r.status_code == 201, r.json
    body = r.json
    assert body["kind"] == "loan" and body["status"] == "processing"
    assert body["amount"] == "600000.00"
    assert [n["state"] for n in body["nodes"]] == [
        "current",
        "pending",
        "pending",
        "pending",
        "pending",
    ]
    assert body["nodes"][0]["name"] == "申请受理"
    assert body["details"]["annual_rate"] == "2.60"
    assert body["details"]["estimated_monthly_payment"] == str(
        amortisation.generate_schedule(
            "600000", 360, "equal_installment", "2.6", APPLY_DAY
        ).monthly_payment
    )
    stored = session.scalars(select(Application).filter_by(member_id=depositor.id)).one()
    assert stored.application_no == body["application_no"]


def test_loan_application_replays_first_answer_when_same_key_resent(
    client, runtime, login, depositor, session, clock
):
    headers = login(depositor)
    body = _application_body(_sms_code(clock, runtime, depositor))
    first = _apply(clock, client, headers, body)
    again = _apply(clock, client, headers, body | {"sms_code": "000000"})
    assert again.status_code == 201
    assert again.json == first.json
    assert again.headers["Idempotency-Replayed"] == "true"
    assert _loan_applications(session, depositor) == 1


def test_loan_application_refused_when_idempotency_key_missing(
    client, runtime, login, depositor, clock
):
    r = _apply(clock, client, login(depositor), _application_body("123456"), key=None)
    assert r.status_code == 422
    assert r.json["error_code"] == "idempotency.key_missing"


def test_loan_application_refused_and_nothing_created_when_sms_code_wrong(
    client, runtime, login, depositor, session, clock
):
    code = _sms_code(clock, runtime, depositor)
    wrong = "000000" if code != "000000" else "111111"
    r = _apply(clock, client, login(depositor), _application_body(wrong))
    assert r.status_code == 422
    assert r.json["error_code"] == "sms.code_invalid"
    assert _loan_applications(session, depositor) == 0


def test_loan_application_refused_when_account_not_normal(client, login, make, session, clock):
    member = make.member(balance="50000.00", status="frozen")
    r = _apply(clock, client, login(member), _application_body("123456"))
    assert r.status_code == 422
    assert r.json["error_code"] == "loan.account_not_normal"
    assert "冻结" in r.json["message"]


def test_loan_application_refused_when_deposits_not_consecutive(
    client, login, make, session, clock
):
    member = make.member(balance="0.00")
    from backend.accounts.models import FundAccount

    account = session.scalars(select(FundAccount).filter_by(member_id=member.id)).one()
    for month in ("2024-12", "2025-01", "2025-03", "2025-04", "2025-05"):  # 2025-02 missing
        make.transaction(
            account, txn_date=dt.date(2025, 5, 1), amount="5000.00", period_month=month
        )
    r = _apply(clock, client, login(member), _application_body("123456"))
    assert r.status_code == 422
    assert r.json["error_code"] == "loan.deposit_months_insufficient"


def test_loan_application_refused_when_amount_over_balance_multiple(
    client, make_runtime, runtime, login, depositor, clock
):
    # 80,000.00 × 15 = 1,200,000 but the ceiling is 1,000,000.00
    r = _apply(clock, client, login(depositor), _application_body("123456", amount="1000000.01"))
    assert r.status_code == 422
    assert r.json["error_code"] in {"loan.amount_over_limit", "loan.principal_out_of_range"}
    runtime = make_runtime(settings=runtime.settings.with_(loan_balance_multiple=D("5")))
    client = create_app(runtime=runtime).test_client()
    r = _apply(clock, client, login(depositor), _application_body("123456", amount="400000.01"))
    assert r.json["error_code"] == "loan.amount_over_limit"
    assert "400000.00" in r.json["message"]


def test_loan_application_refused_when_loan_still_open(client, login, depositor, loan, clock):
    loan(depositor, paid=3)
    r = _apply(clock, client, login(depositor), _application_body("123456"))
    assert r.status_code == 409
    assert r.json["error_code"] == "loan.open_contract_exists"


def test_loan_application_refused_when_another_application_open(
    client, runtime, login, depositor, clock
):
    headers = login(depositor)
    assert (
        _apply(
            clock, client, headers, _application_body(_sms_code(clock, runtime, depositor))
        ).status_code
        == 201
    )
    r = _apply(clock, client, headers, _application_body("123456"), key="key-2")
    assert r.status_code == 409
    assert r.json["error_code"] == "loan.open_application_exists"


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"term_months": 361}, "term_months"),
        ({"method": "balloon"}, "method"),
        ({"amount": "0"}, "amount"),
    ],
)
def test_loan_application_refused_with_field_error_when_terms_bad(
    client, login, depositor, changes, field, clock
):
    r = _apply(clock, client, login(depositor), _application_body("123456", **changes))
    assert r.status_code == 422
    assert set(r.json["errors"]) == {field}


# --- SQL statements per endpoint (no N+1) ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "bound"),
    [
        ("/api/v1/loans", 2),
        ("/api/v1/loans/{}", 4),
        ("/api/v1/loans/{}/progress", 2),
        ("/api/v1/loans/{}/repayments", 3),
        ("/api/v1/loans/{}/schedule", 4),
    ],
)
def test_statement_count_stays_flat_when_history_grows(
    client, auth, member, loan, statements, path, bound
):
    short = loan(member, paid=2)
    long = loan(member, paid=40)
    counts = []
    for contract in (short, long):
        with statements() as seen:
            r = client.get(path.format(contract.contract_no), headers=auth)
        assert r.status_code == 200
        counts.append(len(seen))
    assert counts[0] == counts[1] <= bound


def test_statement_count_is_bounded_when_quoting_prepayment(
    client, auth, member, loan, statements, clock
):
    contract = loan(member, paid=14)
    with statements() as seen:
        r = _quote(clock, client, auth, contract, {"kind": "full"})
    assert r.status_code == 200
    assert len(seen) <= 4


def test_calculator_runs_no_sql_when_public(client, statements):
    with statements() as seen:
        client.get(
            "/api/v1/loan-calculator?principal=1000&months=12&annual_rate=3&method=equal_principal"
        )
    assert seen == []


# --- GET /loan-applications/quota ---------------------------------------------------------------------


def test_loan_quota_names_the_limit_and_rate_the_application_would_get(
    client, login, depositor, clock
):
    clock.set(ten_am(APPLY_DAY))
    r = client.get("/api/v1/loan-applications/quota", headers=login(depositor))
    short = client.get(
        "/api/v1/loan-applications/quota?term_months=60&first_home=false",
        headers=login(depositor),
    )
    assert r.status_code == 200, r.json
    # 80,000.00 × 15 = 1,200,000.00, capped at the 1,000,000.00 ceiling
    assert r.json["amount_limit"] == "1000000.00"
    assert r.json["balance"] == "80000.00"
    assert r.json["balance_multiple"] == "15"
    assert r.json["ceiling"] == "1000000.00"
    assert r.json["term_months"] == 360 and r.json["first_home"] is True
    assert r.json["annual_rate"] == str(percent(rates.benchmark_rate(APPLY_DAY, 360)))
    assert r.json["max_term_months"] == rules.MAX_MONTHS
    assert short.json["annual_rate"] == str(
        percent(rates.benchmark_rate(APPLY_DAY, 60, second_home=True))
    )
    assert short.json["first_home"] is False


def test_loan_quota_is_the_balance_multiple_below_the_ceiling(client, login, make):
    member = make.member(balance="12345.67")
    r = client.get("/api/v1/loan-applications/quota", headers=login(member))
    assert r.status_code == 200
    assert r.json["amount_limit"] == "185185.05"


def test_loan_quota_has_no_limit_and_says_why_without_an_account(client, login, make):
    member = make.member(account=False)
    r = client.get("/api/v1/loan-applications/quota", headers=login(member))
    assert r.status_code == 200
    assert r.json["amount_limit"] is None
    assert r.json["notice"] == "您尚未开立住房公积金个人账户，不能申请贷款"


def test_loan_quota_answers_422_when_term_out_of_bounds(client, login, depositor):
    r = client.get("/api/v1/loan-applications/quota?term_months=361", headers=login(depositor))
    assert r.status_code == 422
    assert "term_months" in r.json["errors"]
