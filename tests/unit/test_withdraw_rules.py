"""The centre's withdrawal rules, one refusal at a time (pure functions, no database)."""

import datetime as dt
from decimal import Decimal

import pytest

from backend.withdrawals import rules
from backend.withdrawals.retirement import Identity, RetirementFacts
from backend.withdrawals.rules import AccountFacts, LoanFacts, Policy

D = Decimal
POLICY = Policy(rent_monthly_share=D("0.60"), min_balance=D("0.00"))
TODAY = dt.date(2026, 11, 30)
# A man born in 1960: past 60, so retirement is open unless a test says otherwise.
RETIRED = RetirementFacts(Identity(dt.date(1960, 3, 1), male=True))
YOUNG = RetirementFacts(Identity(dt.date(2001, 5, 17), male=True))
REPAYING = LoanFacts("JK1", "repaying", D("80000.00"))


def facts(**changes):
    base = dict(
        status="normal",
        balance=D("20000.00"),
        monthly_amount=D("1920.00"),
        today=TODAY,
        retirement=RETIRED,
    )
    base.update(changes)
    return AccountFacts(**base)


def check(reason, amount, f=None, policy=POLICY, **fields):
    refusal = rules.check_request(reason, D(amount), f or facts(), policy, fields)
    return refusal.error_code if refusal else None


def test_rent_is_allowed_when_within_monthly_share():
    assert check("rent", "1152.00") is None


def test_rent_is_refused_when_over_monthly_share():
    refusal = rules.check_request("rent", D("1152.01"), facts(), POLICY, {})
    assert refusal.error_code == "withdrawal.rent_monthly_limit"
    assert refusal.status == 422 and refusal.field == "amount"
    assert "60%" in refusal.message and "1152.00元" in refusal.message


def test_rent_cap_rounds_down_to_the_fen_when_share_gives_fractions():
    f = facts(monthly_amount=D("1000.01"))
    assert rules.rent_cap(f, POLICY) == D("600.00")


def test_rent_is_refused_when_already_withdrawn_this_month():
    assert check("rent", "100.00", facts(rent_applications_this_month=1)) == (
        "withdrawal.rent_once_per_month"
    )


def test_rent_once_per_month_does_not_limit_other_reasons_when_rent_used():
    f = facts(rent_applications_this_month=1)
    assert check("purchase", "100.00", f, document_no="HT2026-001") is None


@pytest.mark.parametrize("reason", ["rent", "purchase", "loan_repayment"])
def test_non_closure_reason_is_refused_when_account_sealed(reason):
    code = check(reason, "100.00", facts(status="sealed"), document_no="X1", loan_contract_no="L1")
    assert code == "withdrawal.account_sealed"


@pytest.mark.parametrize("reason", ["retirement", "leaving"])
def test_closure_reason_is_allowed_when_account_sealed(reason):
    assert check(reason, "20000.00", facts(status="sealed")) is None


@pytest.mark.parametrize("reason", list(rules.REASONS))
def test_every_reason_is_refused_when_account_frozen(reason):
    assert check(reason, "100.00", facts(status="frozen")) == "withdrawal.account_frozen"


@pytest.mark.parametrize("reason", list(rules.REASONS))
def test_every_reason_is_refused_when_account_closed(reason):
    assert check(reason, "100.00", facts(status="closed")) == "withdrawal.account_closed"


def test_leaving_is_refused_when_account_not_sealed():
    assert check("leaving", "20000.00", facts(status="normal")) == "withdrawal.account_not_sealed"


def test_retirement_is_allowed_when_account_normal():
    assert check("retirement", "20000.00") is None


@pytest.mark.parametrize("amount", ["19999.99", "20000.01", "100.00"])
def test_closure_reason_is_refused_when_amount_is_not_the_full_balance(amount):
    assert check("retirement", amount) == "withdrawal.full_balance_required"


def test_closure_takes_balance_less_reserved_when_an_application_is_open_elsewhere():
    # The open application itself blocks a second one; the full amount excludes what it holds.
    f = facts(reserved=D("5000.00"))
    assessment = rules.assess("retirement", f, POLICY)
    assert assessment.eligible and assessment.withdrawable == D("15000.00")


def test_second_application_is_refused_when_one_is_open():
    f = facts(open_applications=1, reserved=D("1000.00"))
    assert check("purchase", "100.00", f, document_no="X1") == (
        "withdrawal.open_application_exists"
    )


def test_purchase_is_refused_when_document_number_missing():
    refusal = rules.check_request("purchase", D("100.00"), facts(), POLICY, {"document_no": " "})
    assert refusal.error_code == "withdrawal.document_no_required"
    assert refusal.field == "document_no" and "购房合同编号" in refusal.message


def test_loan_repayment_is_refused_when_contract_number_missing():
    f = facts(loans=(REPAYING,))
    assert check("loan_repayment", "100.00", f) == "withdrawal.loan_contract_no_required"


def test_purchase_is_refused_when_amount_exceeds_withdrawable_balance():
    assert check("purchase", "20000.01", document_no="X1") == "withdrawal.balance_insufficient"


def test_purchase_may_take_the_whole_balance_when_no_minimum_is_kept():
    assert check("purchase", "20000.00", document_no="X1") is None


def test_minimum_balance_is_kept_when_policy_sets_one():
    policy = Policy(rent_monthly_share=D("0.60"), min_balance=D("10.00"))
    assert check("purchase", "19990.01", policy=policy, document_no="X1") == (
        "withdrawal.balance_insufficient"
    )
    assert check("purchase", "19990.00", policy=policy, document_no="X1") is None
    # closure takes everything regardless of the minimum
    assert check("retirement", "20000.00", policy=policy) is None


def test_reserved_amounts_reduce_withdrawable_when_applications_are_open():
    f = facts(reserved=D("19000.00"))
    assert rules.assess("purchase", f, POLICY).refusals == []
    assert rules.available_balance(f) == D("1000.00")


@pytest.mark.parametrize("amount", ["0", "-1.00", "10.001"])
def test_amount_is_refused_when_not_positive_fen(amount):
    assert check("purchase", amount, document_no="X1") == "withdrawal.amount_invalid"


def test_unknown_reason_is_refused_when_checked():
    assert check("holiday", "1.00") == "withdrawal.reason_unknown"


def test_nothing_withdrawable_is_refused_when_balance_is_zero():
    assessment = rules.assess("purchase", facts(balance=D("0.00")), POLICY)
    assert [r.error_code for r in assessment.refusals] == ["withdrawal.nothing_withdrawable"]


def test_rent_withdrawable_is_the_smaller_of_cap_and_balance_when_assessed():
    assert rules.assess("rent", facts(balance=D("500.00")), POLICY).withdrawable == D("500.00")
    assert rules.assess("rent", facts(), POLICY).withdrawable == D("1152.00")


def test_assessment_lists_limits_and_every_refusal_when_several_apply():
    f = facts(status="sealed", open_applications=1, rent_applications_this_month=1)
    assessment = rules.assess("rent", f, POLICY)
    assert not assessment.eligible and assessment.withdrawable == D("0.00")
    assert [r.error_code for r in assessment.refusals] == [
        "withdrawal.account_sealed",
        "withdrawal.open_application_exists",
        "withdrawal.rent_once_per_month",
    ]
    assert any("每个自然月限提取一次" in limit for limit in assessment.limits)


def test_every_refusal_has_its_own_code_and_chinese_message_when_listed():
    cases = [
        ("rent", "2000.00", facts(), {}),
        ("rent", "1.00", facts(rent_applications_this_month=1), {}),
        ("rent", "1.00", facts(status="sealed"), {}),
        ("rent", "1.00", facts(status="frozen"), {}),
        ("rent", "1.00", facts(status="closed"), {}),
        ("leaving", "1.00", facts(), {}),
        ("retirement", "1.00", facts(), {}),
        ("purchase", "1.00", facts(open_applications=1), {}),
        ("purchase", "1.00", facts(), {}),
        ("loan_repayment", "1.00", facts(loans=(REPAYING,)), {}),
        ("loan_repayment", "1.00", facts(), {"loan_contract_no": "JK1"}),
        ("loan_repayment", "1.00", facts(loans=(REPAYING,)), {"loan_contract_no": "JK9"}),
        ("retirement", "1.00", facts(retirement=YOUNG), {}),
        ("rent", "1.00", facts(loans=(REPAYING,)), {}),
        ("leaving", "1.00", facts(status="sealed", paid_through="2026-10"), {}),
        ("purchase", "1.00", facts(purchase_documents=frozenset({"X"})), {"document_no": "X"}),
        ("purchase", "99999.00", facts(), {"document_no": "X"}),
        ("purchase", "0.00", facts(), {"document_no": "X"}),
        ("purchase", "1.00", facts(balance=D("0")), {"document_no": "X"}),
        ("holiday", "1.00", facts(), {}),
    ]
    refusals = [rules.check_request(r, D(a), f, POLICY, fl) for r, a, f, fl in cases]
    codes = [r.error_code for r in refusals]
    assert len(set(codes)) == len(codes)
    assert all(c.startswith("withdrawal.") for c in codes)
    assert all(any("\u4e00" <= ch <= "\u9fff" for ch in r.message) for r in refusals)


def test_retirement_is_refused_when_the_member_is_25():
    f = facts(retirement=YOUNG)
    assert check("retirement", "20000.00", f) == "withdrawal.retirement_age_not_reached"
    refusal = rules.assess("retirement", f, POLICY).refusals[0]
    assert "63岁" in refusal.message and "2064年05月17日" in refusal.message


def test_retirement_is_refused_when_a_man_is_one_day_short_of_the_delayed_age():
    man = RetirementFacts(Identity(dt.date(1965, 11, 30), male=True))  # 60y3m → 2026-02-28
    earlier = facts(retirement=man, today=dt.date(2026, 2, 27))
    assert check("retirement", "20000.00", earlier) == "withdrawal.retirement_age_not_reached"
    later = facts(retirement=man, today=dt.date(2026, 2, 28))
    assert check("retirement", "20000.00", later) is None


def test_retirement_is_allowed_when_the_core_system_recorded_it_before_the_age():
    woman = RetirementFacts(Identity(dt.date(1975, 6, 1), male=False), dt.date(2025, 9, 1))
    assert check("retirement", "20000.00", facts(retirement=woman)) is None


def test_retirement_is_refused_when_the_identity_is_unknown():
    f = facts(retirement=RetirementFacts(None))
    assert check("retirement", "20000.00", f) == "withdrawal.retirement_age_not_reached"


def test_rent_is_refused_when_a_fund_loan_is_being_repaid():
    assert check("rent", "100.00", facts(loans=(REPAYING,))) == "withdrawal.rent_loan_outstanding"
    settled = LoanFacts("JK2", "settled", D("0.00"))
    assert check("rent", "100.00", facts(loans=(settled,))) is None


def test_purchase_is_refused_when_the_document_was_used_before():
    f = facts(purchase_documents=frozenset({"FC-2024-001"}))
    assert check("purchase", "100.00", f, document_no=" FC-2024-001 ") == (
        "withdrawal.document_already_used"
    )
    assert check("purchase", "100.00", f, document_no="FC-2024-002") is None


def test_loan_repayment_is_refused_when_no_fund_loan_is_repaying():
    f = facts(loans=(LoanFacts("JK2", "settled", D("0.00")),))
    assert check("loan_repayment", "100.00", f, loan_contract_no="JK2") == (
        "withdrawal.no_repaying_loan"
    )


def test_loan_repayment_is_refused_when_the_contract_is_not_the_members():
    f = facts(loans=(REPAYING,))
    assert check("loan_repayment", "100.00", f, loan_contract_no="JK9") == (
        "withdrawal.loan_contract_unknown"
    )


def test_loan_repayment_is_refused_when_the_named_contract_is_settled():
    f = facts(loans=(REPAYING, LoanFacts("JK2", "settled", D("0.00"))))
    assert check("loan_repayment", "100.00", f, loan_contract_no="JK2") == (
        "withdrawal.loan_not_repaying"
    )


def test_loan_repayment_is_refused_when_above_the_loans_remaining_principal():
    f = facts(loans=(LoanFacts("JK1", "overdue", D("5000.00")),))
    assert check("loan_repayment", "5000.01", f, loan_contract_no="JK1") == (
        "withdrawal.exceeds_loan_balance"
    )
    assert check("loan_repayment", "5000.00", f, loan_contract_no="JK1") is None


def test_loan_repayment_is_refused_when_already_used_this_year():
    f = facts(loans=(REPAYING,), loan_repayment_withdrawals_this_year=1)
    assert check("loan_repayment", "100.00", f, loan_contract_no="JK1") == (
        "withdrawal.loan_repayment_once_per_year"
    )


@pytest.mark.parametrize(
    ("paid_through", "expected"),
    [("2026-06", "withdrawal.sealed_too_recent"), ("2026-05", None), (None, None)],
)
def test_leaving_needs_six_months_sealed_when_the_last_deposit_is_known(paid_through, expected):
    f = facts(status="sealed", paid_through=paid_through)
    assert check("leaving", "20000.00", f) == expected
