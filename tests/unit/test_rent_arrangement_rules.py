"""Monthly rent withdrawal (按月提取) rules: sign-up and each month's payment (pure)."""

import datetime as dt
from decimal import Decimal

import pytest

from backend.withdrawals import rules
from backend.withdrawals.rules import AccountFacts, LoanFacts, MonthlyTransfer, Policy

D = Decimal
POLICY = Policy(rent_monthly_share=D("0.60"), min_balance=D("0.00"))


def facts(**changes):
    base = dict(
        status="normal",
        balance=D("20000.00"),
        monthly_amount=D("1920.00"),
        today=dt.date(2026, 11, 30),
    )
    base.update(changes)
    return AccountFacts(**base)


def sign_up(amount, **changes):
    refusal = rules.check_arrangement(D(amount), facts(**changes), POLICY)
    return refusal.error_code if refusal else None


def test_sign_up_within_the_monthly_share_is_allowed():
    assessment = rules.assess_arrangement(facts(), POLICY)
    assert assessment.eligible and assessment.withdrawable == D("1152.00")
    assert sign_up("1152.00") is None


@pytest.mark.parametrize(
    ("amount", "changes", "error_code"),
    [
        ("1152.01", {}, "withdrawal.rent_monthly_limit"),
        ("0.00", {}, "withdrawal.amount_invalid"),
        ("10.001", {}, "withdrawal.amount_invalid"),
        ("100.00", {"status": "sealed"}, "withdrawal.account_sealed"),
        ("100.00", {"status": "closed"}, "withdrawal.account_closed"),
        ("100.00", {"rent_arrangement_active": True}, "withdrawal.rent_arrangement_exists"),
        (
            "100.00",
            {"loans": (LoanFacts("JK1", "overdue", D("1.00")),)},
            "withdrawal.rent_loan_outstanding",
        ),
        ("100.00", {"monthly_amount": D("0.00")}, "withdrawal.nothing_withdrawable"),
    ],
)
def test_sign_up_refusals(amount, changes, error_code):
    assert sign_up(amount, **changes) == error_code


def test_a_settled_loan_does_not_stop_the_sign_up():
    assert sign_up("100.00", loans=(LoanFacts("JK1", "settled", D("0.00")),)) is None


def test_one_off_rent_is_refused_while_an_arrangement_pays_the_rent():
    refusal = rules.check_request(
        "rent", D("100.00"), facts(rent_arrangement_active=True), POLICY, {}
    )
    assert refusal is not None and refusal.error_code == "withdrawal.rent_arrangement_active"


def transfer(amount="1000.00", status="active", this_month=0):
    return MonthlyTransfer(status, D("1000.00"), D(amount), this_month)


@pytest.mark.parametrize(
    ("payment", "changes", "error_code"),
    [
        (transfer(), {}, None),
        (transfer(status="stopped"), {}, "withdrawal.rent_arrangement_not_active"),
        (transfer(this_month=1), {}, "withdrawal.rent_once_per_month"),
        (transfer("1000.01"), {}, "withdrawal.rent_monthly_limit"),
        (transfer(), {"status": "frozen"}, "withdrawal.account_frozen"),
        (
            transfer(),
            {"loans": (LoanFacts("JK1", "repaying", D("1.00")),)},
            "withdrawal.rent_loan_outstanding",
        ),
    ],
)
def test_monthly_payment_rules(payment, changes, error_code):
    refusal = rules.check_monthly_transfer(payment, facts(**changes))
    assert (refusal.error_code if refusal else None) == error_code
