import datetime as dt

import pytest

from backend.fund.rules import RangeRefused, resolve_range
from backend.months import add_months

TODAY = dt.date(2026, 11, 5)


def test_range_defaults_to_last_twelve_months_when_no_dates_given():
    assert resolve_range(None, None, TODAY) == (dt.date(2025, 11, 5), TODAY)


def test_range_defaults_start_to_twelve_months_before_end_when_only_end_given():
    assert resolve_range(None, dt.date(2024, 2, 29), TODAY) == (
        dt.date(2023, 2, 28),
        dt.date(2024, 2, 29),
    )


def test_range_ends_today_when_only_start_given():
    assert resolve_range(dt.date(2026, 1, 1), None, TODAY) == (dt.date(2026, 1, 1), TODAY)


def test_single_day_range_is_allowed_when_start_equals_end():
    assert resolve_range(TODAY, TODAY, TODAY) == (TODAY, TODAY)


def test_range_is_refused_when_start_after_end():
    with pytest.raises(RangeRefused) as exc:
        resolve_range(dt.date(2026, 2, 2), dt.date(2026, 2, 1), TODAY)
    assert exc.value.error_code == "fund.range_reversed"


def test_five_years_exactly_is_allowed_when_queried():
    assert resolve_range(dt.date(2021, 11, 5), TODAY, TODAY)[0] == dt.date(2021, 11, 5)


def test_range_is_refused_when_one_day_over_five_years():
    with pytest.raises(RangeRefused) as exc:
        resolve_range(dt.date(2021, 11, 4), TODAY, TODAY)
    assert exc.value.error_code == "fund.range_too_long"
    assert "5年" in exc.value.message


@pytest.mark.parametrize(
    ("day", "months", "expected"),
    [
        (dt.date(2026, 3, 31), -1, dt.date(2026, 2, 28)),
        (dt.date(2024, 2, 29), -12, dt.date(2023, 2, 28)),
        (dt.date(2026, 12, 15), 1, dt.date(2027, 1, 15)),
        (dt.date(2026, 1, 15), -1, dt.date(2025, 12, 15)),
    ],
)
def test_shift_months_clamps_to_month_end_when_day_missing(day, months, expected):
    assert add_months(day, months) == expected
