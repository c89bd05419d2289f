"""Loan rules: schedule engine, rates, penalties, prepayment quotes, input bounds."""

from dataclasses import replace
from datetime import date, timedelta
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from backend.loans import amortisation, prepayment_rules
from backend.loans.amortisation import (
    add_months,
    contract_end_date,
    generate_schedule,
    next_instalment,
    rebase_schedule,
    split_term,
)
from backend.loans.prepayment_rules import PrepaymentKind, prepayment_refusal, quote_prepayment
from backend.loans.rates import benchmark_rate, benchmark_rate_history, period_rates
from backend.loans.rules import (
    PRINCIPAL_CEILING,
    LoanRuleError,
    LoanTransitionRefused,
    Method,
    PrepaymentRefused,
    days_overdue,
    loan_transition,
    overdue_penalty,
    validate_annual_rate,
    validate_loan_terms,
    validate_months,
    validate_principal,
)

D = Decimal
FEN = D("0.01")

any_principals = st.decimals(
    min_value=D("0.01"), max_value=PRINCIPAL_CEILING, places=2, allow_nan=False
)
any_rates = st.decimals(min_value=D("0.001"), max_value=D("20"), places=3, allow_nan=False)
# Real loans: from 10,000 yuan and at most 15 %. Below that, over long terms, the fen rounding of
# the instalment can clear the balance before the last period (see the toy-loan test).
principals = st.decimals(
    min_value=D("10000.00"), max_value=PRINCIPAL_CEILING, places=2, allow_nan=False
)
rates = st.decimals(min_value=D("0.5"), max_value=D("15"), places=3, allow_nan=False)
months = st.integers(min_value=1, max_value=360)
starts = st.dates(min_value=date(2022, 10, 1), max_value=date(2030, 12, 31))
methods = st.sampled_from(list(Method))


def _histories(rate_strategy):
    """A rate history with changes in later years, so schedules re-price."""
    return st.lists(
        st.tuples(
            st.dates(min_value=date(2023, 1, 1), max_value=date(2040, 12, 31)), rate_strategy
        ),
        max_size=4,
    ).map(lambda changes: [(date(2000, 1, 1), D("3.1")), *changes])


histories = _histories(rates)


def _schedule_1m_30y(rate: str):
    return generate_schedule("1000000", 360, Method.EQUAL_INSTALLMENT, rate, date(2025, 6, 20))


# --- published figures --------------------------------------------------------------------------


def test_equal_installment_matches_pboc_figure_when_1m_30y_at_2_85():
    assert _schedule_1m_30y("2.85").monthly_payment == D("4135.57")


def test_equal_installment_matches_pboc_figure_when_1m_30y_at_2_6():
    assert _schedule_1m_30y("2.6").monthly_payment == D("4003.40")


def test_equal_installment_is_948_97_when_150k_20y_at_4_5():
    schedule = generate_schedule("150000", 240, "equal_installment", "4.5", date(2025, 1, 10))
    assert schedule.monthly_payment == D("948.97")
    assert all(p.payment == D("948.97") for p in schedule.periods[:-1])


def test_equal_principal_first_month_and_step_when_150k_20y_at_4_5():
    schedule = generate_schedule("150000", 240, "equal_principal", "4.5", date(2025, 1, 10))
    payments = [p.payment for p in schedule.periods]
    assert payments[0] == D("1187.50")
    # (P/n)·r = 625 × 0.00375 = 2.34375; interest is rounded per period, so the engine's
    # steps alternate 2.34, 2.35, 2.34, 2.34 … and the first one is exactly the published 2.34.
    assert payments[0] - payments[1] == D("2.34")
    assert payments[1:5] == [D("1185.16"), D("1182.81"), D("1180.47"), D("1178.13")]
    assert {a - b for a, b in zip(payments, payments[1:-1], strict=False)} <= {D("2.34"), D("2.35")}


def test_totals_derive_from_schedule_rows_when_150k_20y_at_4_5():
    schedule = generate_schedule("150000", 240, "equal_installment", "4.5", date(2025, 1, 10))
    assert schedule.total_payment == sum(p.payment for p in schedule.periods)
    assert schedule.total_interest == schedule.total_payment - D("150000")
    assert schedule.periods[-1].remaining == D("0.00")


# --- properties ---------------------------------------------------------------------------------


def _check_rows(schedule, principal):
    rows = schedule.periods
    assert sum(p.principal for p in rows) == principal
    assert rows[-1].remaining == D("0.00")
    balance = principal
    for row in rows:
        assert row.principal >= 0 and row.interest >= 0
        assert row.payment == row.principal + row.interest
        balance -= row.principal
        assert row.remaining == balance >= 0
        for amount in (row.payment, row.principal, row.interest, row.remaining):
            assert amount == amount.quantize(FEN)


@settings(max_examples=60, deadline=None)
@given(
    principal=any_principals,
    term=months,
    history=_histories(any_rates),
    start=starts,
    method=methods,
)
def test_schedule_sums_to_principal_and_ends_at_zero_when_any_loan(
    principal, term, history, start, method
):
    schedule = generate_schedule(principal, term, method, history, start)
    assert schedule.months == term
    _check_rows(schedule, principal)


@settings(max_examples=60, deadline=None)
@given(principal=principals, term=months, history=histories, start=starts)
def test_equal_installment_payments_equal_within_each_rate_segment_when_any_loan(
    principal, term, history, start
):
    schedule = generate_schedule(principal, term, Method.EQUAL_INSTALLMENT, history, start)
    last = schedule.periods[-1].period
    for segment in schedule.segments():
        payments = {
            p.payment
            for p in schedule.periods[segment.first_period - 1 : segment.last_period]
            if p.period != last
        }
        assert payments <= {segment.payment}


@settings(max_examples=60, deadline=None)
@given(principal=principals, term=st.integers(min_value=3, max_value=360), rate=rates)
def test_equal_principal_payments_fall_by_a_constant_step_when_rate_is_fixed(principal, term, rate):
    schedule = generate_schedule(principal, term, Method.EQUAL_PRINCIPAL, rate, date(2025, 1, 1))
    step = schedule.periods[0].principal * rate / 1200
    payments = [p.payment for p in schedule.periods[:-1]]  # the last takes the residual
    for before, after in zip(payments, payments[1:], strict=False):
        assert before >= after
        assert abs((before - after) - step) <= FEN


@settings(max_examples=40, deadline=None)
@given(principal=principals, term=months, history=histories, start=starts, method=methods)
def test_re_priced_segment_is_the_balance_re_amortised_when_rate_changes(
    principal, term, history, start, method
):
    schedule = generate_schedule(principal, term, method, history, start)
    for segment in schedule.segments()[1:]:
        before = schedule.periods[segment.first_period - 2]
        fresh = generate_schedule(
            before.remaining,
            term - segment.first_period + 1,
            method,
            segment.annual_rate,
            before.due_date,
        )
        if method is Method.EQUAL_INSTALLMENT:
            assert segment.payment == fresh.monthly_payment
        else:
            # 等额本金 keeps the contract's principal part; only the interest re-prices.
            row = schedule.periods[segment.first_period - 1]
            assert row.interest == fresh.periods[0].interest


@pytest.mark.parametrize(
    ("principal", "rate", "method"),
    [
        ("1000.00", "10", Method.EQUAL_INSTALLMENT),
        ("50.00", "20", Method.EQUAL_INSTALLMENT),
        ("100.00", "20", Method.EQUAL_PRINCIPAL),
    ],
)
def test_balance_clears_early_but_never_negative_when_toy_loan_over_30_years(
    principal, rate, method
):
    # The fen rounding of the instalment (or principal part), compounded over 360 months,
    # outweighs these principals: the balance reaches 0.00 before the last period.
    schedule = generate_schedule(principal, 360, method, rate, date(2025, 1, 1))
    _check_rows(schedule, D(principal))
    assert schedule.periods[-1].payment == D("0.00")


# --- re-pricing on 1 January ----------------------------------------------------------------------


def test_loan_re_prices_each_new_year_when_benchmark_changed_the_year_before():
    # Disbursed 2024-03-15 at 3.1 %; the 2024-05-18 cut (2.85 %) applies from 2025-01-01 and the
    # 2025-05-08 cut (2.6 %) from 2026-01-01.
    schedule = generate_schedule(
        "1000000", 360, Method.EQUAL_INSTALLMENT, benchmark_rate_history(360), date(2024, 3, 15)
    )
    segments = schedule.segments()
    assert [(s.first_period, s.last_period, s.annual_rate) for s in segments] == [
        (1, 9, D("3.1")),
        (10, 21, D("2.85")),
        (22, 360, D("2.6")),
    ]
    assert schedule.periods[8].due_date == date(2024, 12, 15)
    assert schedule.periods[9].due_date == date(2025, 1, 15)
    assert schedule.periods[21].due_date == date(2026, 1, 15)
    assert [s.payment for s in segments] == [D("4270.16"), D("4138.34"), D("4012.56")]
    assert (
        segments[0].payment
        == generate_schedule(
            "1000000", 360, Method.EQUAL_INSTALLMENT, "3.1", date(2024, 3, 15)
        ).monthly_payment
    )
    assert schedule.periods[9].interest == (
        schedule.periods[8].remaining * D("2.85") / 1200
    ).quantize(FEN)


def test_period_due_on_1_january_takes_new_rate_when_31_december_does_not():
    history = [(date(2022, 10, 1), D("3.1")), (date(2024, 5, 18), D("2.85"))]
    dues = [date(2024, 12, 31), date(2025, 1, 1)]
    assert period_rates(dues, date(2024, 3, 1), history) == [D("3.1"), D("2.85")]


def test_contract_keeps_its_rate_in_first_year_when_disbursed_after_a_cut():
    history = benchmark_rate_history(360)
    dues = [date(2025, 6, 8), date(2025, 12, 8), date(2026, 1, 8)]
    assert period_rates(dues, date(2025, 5, 8), history) == [D("2.6"), D("2.6"), D("2.6")]
    assert period_rates(dues, date(2025, 5, 7), history) == [D("2.85"), D("2.85"), D("2.6")]


def test_rate_lookup_refuses_when_day_precedes_history():
    with pytest.raises(LoanRuleError) as caught:
        generate_schedule(
            "1000", 12, "equal_principal", benchmark_rate_history(12), date(2020, 1, 1)
        )
    assert caught.value.error_code == "loan.rate_unknown"


# --- reading the schedule -------------------------------------------------------------------------


def test_remaining_and_next_due_read_off_schedule_when_between_due_dates():
    schedule = generate_schedule("150000", 240, "equal_principal", "4.5", date(2025, 1, 10))
    assert schedule.remaining_at(date(2025, 1, 31)) == D("150000")
    assert schedule.next_due(date(2025, 1, 31)).period == 1
    assert schedule.remaining_at(date(2025, 3, 10)) == D("148750.00")
    assert schedule.next_due(date(2025, 3, 10)).due_date == date(2025, 4, 10)
    assert schedule.next_due(date(2045, 1, 10)) is None
    assert schedule.remaining_at(date(2045, 1, 10)) == D("0.00")


def test_due_dates_clip_to_month_end_when_first_due_is_31st():
    schedule = generate_schedule(
        "12000", 3, "equal_principal", "3.1", date(2025, 1, 15), first_due=date(2025, 1, 31)
    )
    assert [p.due_date for p in schedule.periods] == [
        date(2025, 1, 31),
        date(2025, 2, 28),
        date(2025, 3, 31),
    ]


def test_add_months_clips_leap_february_when_from_31_january():
    assert add_months(date(2024, 1, 31), 1) == date(2024, 2, 29)
    assert add_months(date(2024, 11, 30), 14) == date(2026, 1, 30)


def test_split_term_gives_years_and_months_when_not_whole_years():
    assert split_term(246) == (20, 6)
    assert split_term(360) == (30, 0)


def test_engine_refuses_when_principal_is_not_in_fen():
    with pytest.raises(LoanRuleError):
        generate_schedule("100.001", 12, "equal_principal", "3.1", date(2025, 1, 1))
    with pytest.raises(TypeError):
        generate_schedule(100.5, 12, "equal_principal", "3.1", date(2025, 1, 1))


# --- benchmark rates ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("on", "term", "second_home", "expected"),
    [
        (date(2022, 10, 1), 60, False, "2.6"),
        (date(2022, 10, 1), 61, False, "3.1"),
        (date(2024, 5, 17), 360, False, "3.1"),
        (date(2024, 5, 18), 360, False, "2.85"),
        (date(2024, 5, 18), 36, False, "2.35"),
        (date(2025, 5, 8), 360, False, "2.6"),
        (date(2025, 5, 8), 60, False, "2.1"),
        (date(2025, 5, 8), 360, True, "3.075"),
        (date(2023, 1, 1), 12, True, "3.025"),
    ],
)
def test_benchmark_rate_follows_table_when_looked_up_by_date_and_term(
    on, term, second_home, expected
):
    assert benchmark_rate(on, term, second_home=second_home) == D(expected)


def test_benchmark_rate_refuses_when_before_table():
    with pytest.raises(LoanRuleError):
        benchmark_rate(date(2022, 9, 30), 360)


# --- penalty ---------------------------------------------------------------------------------------


def test_penalty_is_one_and_a_half_months_interest_when_30_days_late():
    monthly_interest = D("10000") * D("3.1") / 1200
    assert overdue_penalty("10000", 30, "3.1") == (monthly_interest * D("1.5")).quantize(FEN)
    assert overdue_penalty("10000", 30, "3.1") == D("38.75")


def test_penalty_is_zero_when_paid_on_time():
    assert (
        overdue_penalty("4135.57", days_overdue(date(2025, 3, 10), date(2025, 3, 10)), "2.85") == 0
    )
    assert days_overdue(date(2025, 3, 10), date(2025, 3, 13)) == 3


def test_penalty_refuses_when_days_negative():
    with pytest.raises(LoanRuleError):
        overdue_penalty("100", -1, "3.1")


# --- prepayment ------------------------------------------------------------------------------------


@pytest.fixture
def repriced_loan():
    return generate_schedule(
        "1000000", 360, Method.EQUAL_INSTALLMENT, benchmark_rate_history(360), date(2024, 3, 15)
    )


@pytest.mark.parametrize("offset", [-3, -1, 0, 1, 3])
def test_prepayment_refused_when_inside_deduction_window(repriced_loan, offset):
    on = date(2025, 6, 15) + timedelta(days=offset)
    assert prepayment_refusal(repriced_loan, on) == "loan.prepayment_deduction_window"
    with pytest.raises(PrepaymentRefused) as caught:
        quote_prepayment(repriced_loan, on, PrepaymentKind.FULL)
    assert caught.value.error_code == "loan.prepayment_deduction_window"
    assert "还款日" in caught.value.message


def test_prepayment_allowed_when_just_outside_window(repriced_loan):
    assert prepayment_refusal(repriced_loan, date(2025, 6, 19)) is None
    assert prepayment_refusal(repriced_loan, date(2025, 6, 11)) is None


def test_deduction_window_follows_parameter_when_configured_wider(repriced_loan):
    assert prepayment_refusal(repriced_loan, date(2025, 6, 20), window_days=5) is not None
    assert prepayment_refusal(repriced_loan, date(2025, 6, 16), window_days=0) is None
    assert prepayment_refusal(repriced_loan, date(2025, 6, 15), window_days=0) is not None


def test_prepayment_refused_when_periods_overdue(repriced_loan):
    on = date(2025, 6, 25)  # 15 periods due by then
    assert prepayment_refusal(repriced_loan, on, paid_periods=14) == "loan.prepayment_overdue"
    assert prepayment_refusal(repriced_loan, on, paid_periods=15) is None


def test_prepayment_refused_when_schedule_finished_or_not_started(repriced_loan):
    assert prepayment_refusal(repriced_loan, date(2054, 4, 1)) == "loan.settled"
    assert prepayment_refusal(repriced_loan, date(2024, 3, 1)) == "loan.not_started"


def test_full_prepayment_is_balance_plus_accrued_interest_when_mid_period(repriced_loan):
    on = date(2025, 6, 1)  # 17 days after the 2025-05-15 deduction, rate 2.85 %
    quote = quote_prepayment(repriced_loan, on, "full")
    balance = repriced_loan.periods[13].remaining
    accrued = (balance * D("2.85") / 36000 * 17).quantize(FEN)
    assert quote.balance == balance
    assert quote.accrued_interest == accrued
    assert quote.amount_due == balance + accrued
    remaining_interest = sum(p.interest for p in repriced_loan.periods[14:])
    assert quote.interest_saved == remaining_interest - accrued
    assert quote.new_schedule is None and quote.new_months == 0


def test_reduce_instalment_keeps_term_and_lowers_payment_when_partial(repriced_loan):
    on = date(2025, 6, 1)
    quote = quote_prepayment(repriced_loan, on, "reduce_instalment", "100000.00")
    new = quote.new_schedule
    assert quote.new_months == quote.old_months == 346
    assert quote.new_end_date == repriced_loan.end_date
    assert quote.new_payment < quote.old_payment
    assert new.periods[0].period == 15
    _check_rows(new, quote.balance - D("100000.00"))
    # the 2026 re-pricing still applies to the shortened schedule
    assert [s.annual_rate for s in new.segments()] == [D("2.85"), D("2.6")]
    assert quote.amount_due == D("100000.00") + quote.accrued_interest
    assert quote.interest_saved == (
        sum(p.interest for p in repriced_loan.periods[14:])
        - new.total_interest
        - quote.accrued_interest
    )
    assert quote.interest_saved > 0


def test_shorten_term_keeps_payment_and_ends_earlier_when_partial(repriced_loan):
    on = date(2025, 6, 1)
    quote = quote_prepayment(repriced_loan, on, "shorten_term", "100000.00")
    assert quote.new_payment <= quote.old_payment
    assert quote.new_months < quote.old_months
    assert quote.new_end_date == repriced_loan.periods[14 + quote.new_months - 1].due_date
    # one month fewer would need a larger payment than today's
    longer = quote_prepayment(repriced_loan, on, "reduce_instalment", "100000.00")
    assert quote.interest_saved > longer.interest_saved > 0
    _check_rows(quote.new_schedule, quote.balance - D("100000.00"))


def test_shorten_term_keeps_principal_part_when_equal_principal():
    schedule = generate_schedule("150000", 240, "equal_principal", "4.5", date(2025, 1, 10))
    quote = quote_prepayment(schedule, date(2025, 6, 1), "shorten_term", "30000")
    # 150000 − 4 × 625 = 147500 outstanding; 117500 / 625 = 188 months
    assert quote.balance == D("147500.00")
    assert quote.new_months == 188
    assert quote.new_schedule.periods[0].principal == D("625.00")


@pytest.mark.parametrize("amount", ["0", "-5", "10.001", None])
def test_partial_prepayment_refused_when_amount_invalid(repriced_loan, amount):
    with pytest.raises(LoanRuleError) as caught:
        quote_prepayment(repriced_loan, date(2025, 6, 1), "reduce_instalment", amount)
    assert "amount" in caught.value.errors


def test_partial_prepayment_refused_when_amount_covers_balance(repriced_loan):
    balance = repriced_loan.remaining_at(date(2025, 6, 1))
    with pytest.raises(LoanRuleError) as caught:
        quote_prepayment(repriced_loan, date(2025, 6, 1), "shorten_term", balance)
    assert caught.value.error_code == "loan.prepayment_amount_exceeds_balance"


@settings(max_examples=40, deadline=None)
@given(
    principal=principals,
    term=st.integers(min_value=2, max_value=360),
    method=methods,
    kind=st.sampled_from([PrepaymentKind.SHORTEN_TERM, PrepaymentKind.REDUCE_INSTALMENT]),
    share=st.decimals(min_value=D("0.01"), max_value=D("0.99"), places=2),
    day=st.integers(min_value=4, max_value=24),
)
def test_partial_prepayment_saves_interest_and_clears_rest_when_any_loan(
    principal, term, method, kind, share, day
):
    schedule = generate_schedule(
        principal, term, method, benchmark_rate_history(term), date(2024, 3, 1)
    )
    on = date(2024, 4, 1) + timedelta(days=day)  # between the 1st and 2nd due dates
    balance = schedule.remaining_at(on)
    amount = (balance * share).quantize(FEN)
    quote = quote_prepayment(schedule, on, kind, amount)
    _check_rows(quote.new_schedule, balance - amount)
    assert quote.new_months <= quote.old_months
    assert quote.interest_saved >= 0
    if kind is PrepaymentKind.SHORTEN_TERM and method is Method.EQUAL_INSTALLMENT:
        assert quote.new_payment <= quote.old_payment


# --- input bounds ----------------------------------------------------------------------------------


def test_loan_terms_parsed_when_query_strings_in_bounds():
    terms = validate_loan_terms("150000", "240", "4.5", "equal_principal")
    assert (terms.principal, terms.months, terms.annual_rate, terms.method) == (
        D("150000.00"),
        240,
        D("4.5"),
        Method.EQUAL_PRINCIPAL,
    )


def test_every_bad_field_reported_when_several_out_of_bounds():
    with pytest.raises(LoanRuleError) as caught:
        validate_loan_terms("0", "361", "20.5", "monthly")
    assert set(caught.value.errors) == {"principal", "months", "annual_rate", "method"}
    assert caught.value.error_code == "loan.terms_invalid"


@pytest.mark.parametrize(
    "value", ["0", "-1", "5000000.01", "12.345", "abc", "NaN", "Infinity", 1000.5]
)
def test_principal_refused_when_out_of_bounds(value):
    with pytest.raises(LoanRuleError) as caught:
        validate_principal(value)
    assert "principal" in caught.value.errors


def test_principal_accepted_when_at_ceiling():
    assert validate_principal("5000000") == D("5000000.00")
    assert validate_principal("0.01") == D("0.01")


@pytest.mark.parametrize("value", ["0", "361", "12.5", "abc", "", True])
def test_months_refused_when_out_of_bounds(value):
    with pytest.raises(LoanRuleError):
        validate_months(value)


@pytest.mark.parametrize("value", ["0", "-2.6", "20.0001", "2.60001", "x"])
def test_annual_rate_refused_when_out_of_bounds(value):
    with pytest.raises(LoanRuleError):
        validate_annual_rate(value)


def test_annual_rate_accepted_when_at_bounds():
    assert validate_annual_rate("20") == D("20")
    assert validate_annual_rate("0.0001") == D("0.0001")


def test_method_parsed_when_given_chinese_label():
    assert Method.parse("等额本息") is Method.EQUAL_INSTALLMENT
    assert Method.EQUAL_PRINCIPAL.label == "等额本金"


# --- the schedule as it stands -----------------------------------------------------------------


def _paid_as_scheduled(schedule, count):
    return list(schedule.periods[:count])


def test_rebased_schedule_keeps_scheduled_rows_when_paid_as_scheduled(repriced_loan):
    rebased = rebase_schedule(repriced_loan, _paid_as_scheduled(repriced_loan, 14))
    assert rebased.periods == repriced_loan.periods


def test_rebased_schedule_re_amortises_tail_when_balance_differs(repriced_loan):
    paid = _paid_as_scheduled(repriced_loan, 13)
    last = repriced_loan.periods[13]
    # period 14 paid with 50,000 extra principal
    paid.append(
        replace(
            last,
            principal=last.principal + D("50000"),
            payment=last.payment + D("50000"),
            remaining=last.remaining - D("50000"),
        )
    )
    rebased = rebase_schedule(repriced_loan, paid)
    assert rebased.months == 360
    tail = rebased.periods[14:]
    assert tail[0].period == 15 and tail[0].due_date == repriced_loan.periods[14].due_date
    assert tail[0].payment < repriced_loan.periods[14].payment
    assert sum(p.principal for p in tail) == last.remaining - D("50000")
    assert tail[-1].remaining == D("0.00")


def test_rebased_schedule_ends_when_balance_cleared(repriced_loan):
    paid = _paid_as_scheduled(repriced_loan, 5)
    paid[-1] = replace(paid[-1], remaining=D("0.00"))
    assert rebase_schedule(repriced_loan, paid).months == 5


def test_due_dates_keep_disbursal_day_when_it_is_the_31st():
    schedule = generate_schedule("12000", 3, "equal_principal", "3.1", date(2025, 1, 31))
    assert [p.due_date for p in schedule.periods] == [
        date(2025, 2, 28),
        date(2025, 3, 31),
        date(2025, 4, 30),
    ]


def test_engine_refuses_when_first_due_not_after_disbursal():
    with pytest.raises(LoanRuleError):
        generate_schedule(
            "12000", 3, "equal_principal", "3.1", date(2025, 1, 31), first_due=date(2025, 1, 31)
        )


def test_full_prepayment_accrues_at_the_old_rate_when_settled_before_1_january(repriced_loan):
    # 2025 periods carry 2.85 %, 2026 periods 2.6 %: the days of December 2025 are still 2.85 %
    # although the period they belong to falls due on 2026-01-15.
    on = date(2025, 12, 28)
    quote = quote_prepayment(repriced_loan, on, "full")
    balance = quote.balance
    assert quote.accrued_interest == (balance * D("2.85") / 36000 * 13).quantize(FEN)
    assert quote.accrued_interest != (balance * D("2.6") / 36000 * 13).quantize(FEN)


def test_full_prepayment_accrues_at_the_new_rate_when_settled_after_1_january(repriced_loan):
    on = date(2026, 1, 10)  # 26 days after 2025-12-15; the January period is at 2.6 %
    quote = quote_prepayment(repriced_loan, on, "full")
    assert quote.accrued_interest == (quote.balance * D("2.6") / 36000 * 26).quantize(FEN)


def test_partial_prepayment_accrues_at_the_rate_in_force_when_before_1_january(repriced_loan):
    on = date(2025, 12, 28)
    quote = quote_prepayment(repriced_loan, on, "reduce_instalment", "100000.00")
    assert quote.accrued_interest == (D("100000.00") * D("2.85") / 36000 * 13).quantize(FEN)


def test_rate_on_is_the_contract_rate_when_first_due_falls_in_the_next_year():
    history = [(date(2024, 1, 1), D("3.1")), (date(2024, 12, 20), D("2.85"))]
    schedule = generate_schedule("100000", 24, "equal_installment", history, date(2024, 12, 10))
    assert schedule.periods[0].due_date == date(2025, 1, 10)
    assert schedule.periods[0].annual_rate == D("2.85")
    assert schedule.rate_on(date(2024, 12, 31)) == D("3.1")
    assert schedule.rate_on(date(2025, 1, 1)) == D("2.85")


def test_contract_end_date_is_the_last_scheduled_due_date_when_term_runs_out(repriced_loan):
    first = repriced_loan.periods[0].due_date
    assert contract_end_date(first, 360) == repriced_loan.end_date == date(2054, 3, 15)
    # settled early, the schedule as it stands ends on the settlement; the contract does not
    paid = (replace(repriced_loan.periods[0], remaining=D("0.00")),)
    assert rebase_schedule(repriced_loan, paid).end_date == first
    assert contract_end_date(first, 360) == date(2054, 3, 15)


def test_next_instalment_skips_overdue_periods_when_some_are_unpaid(repriced_loan):
    upcoming = repriced_loan.periods[14:]  # period 15 due 2025-06-15 onwards unpaid
    assert next_instalment(upcoming, date(2025, 7, 20)).due_date == date(2025, 8, 15)
    assert next_instalment(upcoming, date(2025, 7, 15)).due_date == date(2025, 7, 15)
    assert next_instalment(upcoming, date(2055, 1, 1)) is None


@pytest.mark.parametrize(
    ("status", "event", "application", "code"),
    [
        ("approving", "signed", "processing", "loan.application_not_approved"),
        ("approving", "disbursed", "approved", "loan.invalid_transition"),
        ("signed", "signed", "approved", "loan.invalid_transition"),
        ("settled", "repaid", None, "loan.invalid_transition"),
        ("signed", "overdue", None, "loan.invalid_transition"),
        ("repaying", "refinanced", None, "loan.unknown_event"),
    ],
)
def test_loan_event_is_refused_when_not_an_allowed_transition(status, event, application, code):
    with pytest.raises(LoanTransitionRefused) as caught:
        loan_transition(status, event, application)
    assert caught.value.error_code == code


@pytest.mark.parametrize(
    ("status", "event", "application", "after"),
    [
        ("approving", "signed", "approved", "signed"),
        ("signed", "disbursed", "approved", "repaying"),
        ("overdue", "repaid", None, "repaying"),
        ("repaying", "overdue", None, "overdue"),
        ("overdue", "settled", None, "settled"),
    ],
)
def test_loan_event_moves_the_contract_when_allowed(status, event, application, after):
    assert loan_transition(status, event, application) == after


# --- prepayment booking: the deduction window and the bookable dates ------------------------------


@pytest.mark.parametrize(
    ("on", "day", "window"),
    [
        (date(2025, 6, 13), 15, (date(2025, 6, 13), date(2025, 6, 17))),
        (date(2025, 6, 17), 15, (date(2025, 6, 13), date(2025, 6, 17))),
        (date(2025, 6, 12), 15, None),
        (date(2025, 6, 18), 15, None),
        # repayment day 31: February's deduction is on its last day, the window reaches March
        (date(2025, 3, 2), 31, (date(2025, 2, 26), date(2025, 3, 2))),
        (date(2025, 3, 3), 31, None),
        # a window around 31 December reaches into January
        (date(2026, 1, 1), 30, (date(2025, 12, 28), date(2026, 1, 1))),
    ],
)
def test_deduction_window_is_found_around_the_repayment_day_when_month_lengths_differ(
    on, day, window
):
    assert prepayment_rules.deduction_window(on, day, 2) == window


@pytest.mark.parametrize(
    ("on", "paid", "code"),
    [
        (date(2025, 6, 5), 14, None),
        (date(2025, 6, 1), 14, "loan.prepayment_date_not_future"),
        (date(2025, 6, 14), 14, "loan.prepayment_deduction_window"),
        (date(2025, 6, 13), 14, "loan.prepayment_deduction_window"),  # its first day
        (date(2025, 6, 15), 14, "loan.prepayment_date_too_late"),
        (date(2025, 6, 5), 0, "loan.prepayment_before_first_instalment"),
    ],
)
def test_booking_refusal_names_the_reason_when_the_date_is_not_bookable(on, paid, code):
    refusal = prepayment_rules.booking_refusal(
        on,
        today=date(2025, 6, 1),
        next_due=date(2025, 6, 15),
        repayment_day=15,
        paid_periods=paid,
        window_days=2,
    )
    assert (refusal[0] if refusal else None) == code
    if refusal:
        assert refusal[1] and "{" not in refusal[1]


def test_term_after_prepayment_counts_due_periods_and_the_new_months_when_shortened():
    schedule = amortisation.generate_schedule(
        "300000.00", 120, "equal_installment", "2.85", date(2025, 1, 10)
    )
    quote = prepayment_rules.quote_prepayment(
        schedule, date(2025, 6, 1), "shorten_term", "100000.00", window_days=2
    )
    assert quote.new_months < 115
    assert (
        prepayment_rules.term_after_prepayment(schedule, quote) == 4 + quote.new_months
    )  # due 10 Feb … 10 May
    reduce = prepayment_rules.quote_prepayment(
        schedule, date(2025, 6, 1), "reduce_instalment", "100000.00", window_days=2
    )
    assert prepayment_rules.term_after_prepayment(schedule, reduce) == 120
