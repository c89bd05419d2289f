"""One money input type for the whole API (``backend.fields.Amount``): a plain decimal string with
at most two places and at most 99,999,999.99 in absolute value, refused otherwise with a field
error; and a ledger entry whose running balance would not fit the NUMERIC(14, 2) column is refused
(4xx) instead of overflowing PostgreSQL (500) or being booked on SQLite."""

import datetime as dt
import uuid
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from backend.accounts.models import FundAccount, FundTransaction

NOT_MONEY = [
    "1e10",
    "1E2",
    "NaN",
    "nan",
    "Infinity",
    "-Infinity",
    "sNaN",
    "1.005",
    "1_000.00",
    " 10.00",
    "10.00\n",
    "+10.00",
    "0x10",
    "１０.００",  # full-width digits: Decimal reads them, a ledger should not
    "",
    10.5,
    1e3,
    100,
    True,
    None,
    ["1.00"],
    "100000000.00",  # above the per-entry bound
    "999999999999.99",  # passed before and overflowed the PostgreSQL column
]


def _account(session, member):
    session.expire_all()
    return session.scalars(select(FundAccount).filter_by(member_id=member.id)).one()


def _deposit(make, client, account, amount, external_id="E-1"):
    body = {
        "account_no": account.account_no,
        "external_id": external_id,
        "kind": "deposit",
        "amount": amount,
        "txn_date": "2026-03-10",
    }
    return make.signed(client, "POST", "/internal/v1/fund/transactions", body)


@pytest.mark.parametrize("amount", NOT_MONEY, ids=repr)
def test_ledger_entry_refused_422_when_amount_is_not_a_plain_decimal_string(
    make, client, session, amount
):
    account = _account(session, make.member(balance="100.00"))

    r = _deposit(make, client, account, amount)

    assert r.status_code == 422, r.json
    assert "amount" in r.json["errors"] and r.json["message"]
    assert session.scalar(select(func.count(FundTransaction.id))) == 0


@pytest.mark.parametrize("amount", ["99999999.99", "0.01", "12", "12.5"])
def test_ledger_entry_booked_when_amount_is_within_bounds(make, client, session, amount):
    member = make.member(balance="0.00")

    r = _deposit(make, client, _account(session, member), amount)

    assert r.status_code == 201, r.json
    assert _account(session, member).balance == Decimal(amount)


def test_ledger_entry_refused_when_running_balance_would_not_fit_the_column(make, client, session):
    member = make.member(balance="999999999000.00")

    r = _deposit(make, client, _account(session, member), "99999999.99")

    assert r.status_code == 422, r.json
    assert r.json["error_code"] == "fund.balance_out_of_range"
    assert "余额" in r.json["message"]
    assert _account(session, member).balance == Decimal("999999999000.00")
    assert session.scalar(select(func.count(FundTransaction.id))) == 0


@pytest.mark.parametrize("amount", ["1e3", "NaN", 1200, "1200.001", "100000000.00"], ids=repr)
def test_loan_repayment_refused_422_when_principal_is_not_a_plain_decimal_string(
    make, client, amount
):
    contract = make.loan(make.member(), balance="10000.00")
    body = {
        "type": "repaid",
        "external_id": "HK-1",
        "period": 1,
        "principal": amount,
        "interest": "1.00",
        "paid_on": "2026-04-20",
    }

    r = make.signed(client, "POST", f"/internal/v1/loans/{contract.contract_no}/events", body)

    assert r.status_code == 422 and "principal" in r.json["errors"], r.json


@pytest.mark.parametrize("amount", ["1e3", "Infinity", 1000, 1000.5, "-1000.00"], ids=repr)
def test_withdrawal_refused_422_when_amount_is_not_a_plain_decimal_string(
    client, make, login, amount
):
    member = make.member(balance="20000.00")
    body = {
        "reason": "purchase",
        "amount": amount,
        "bank_name": "中国建设银行示范市分行",
        "bank_account": "6227001234567890123",
        "sms_code": make.transaction_code(member),
        "document_no": "HT2026110500012",
    }

    r = client.post(
        "/api/v1/withdrawals",
        json=body,
        headers={**login(member), "Idempotency-Key": uuid.uuid4().hex},
    )

    assert r.status_code == 422 and "amount" in r.json["errors"], r.json


@pytest.mark.parametrize("amount", ["1e5", "NaN", 100000], ids=repr)
def test_loan_application_refused_422_when_amount_is_not_a_plain_decimal_string(
    client, make, login, amount
):
    member = make.member(balance="1000.00")
    body = {"amount": amount, "term_months": 120, "method": "equal_installment", "sms_code": "1"}

    r = client.post(
        "/api/v1/loan-applications",
        json=body,
        headers={**login(member), "Idempotency-Key": uuid.uuid4().hex},
    )

    assert r.status_code == 422 and "amount" in r.json["errors"], r.json


@pytest.mark.parametrize("amount", ["1e3", "Infinity", 1000], ids=repr)
def test_prepayment_quote_refused_422_when_amount_is_not_a_plain_decimal_string(
    client, make, login, amount
):
    member = make.member()
    contract = make.loan(member, first_due_date=dt.date(2024, 2, 20))
    body = {"kind": "partial", "option": "shorten_term", "amount": amount}

    r = client.post(
        f"/api/v1/loans/{contract.contract_no}/prepayment-quotes", json=body, headers=login(member)
    )

    assert r.status_code == 422 and "amount" in r.json["errors"], r.json


@pytest.mark.parametrize("principal", ["1e5", "NaN", "100000.001"])
def test_loan_calculator_refused_422_when_principal_is_not_a_plain_decimal_string(
    client, principal
):
    r = client.get(
        "/api/v1/loan-calculator",
        query_string={
            "principal": principal,
            "months": "120",
            "annual_rate": "2.6",
            "method": "equal_installment",
        },
    )

    assert r.status_code == 422 and "principal" in r.json["errors"], r.json
