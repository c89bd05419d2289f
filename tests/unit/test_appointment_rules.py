"""Pure rules of appointments (网点预约); times are Beijing time."""

import datetime as dt

import pytest

from backend.appointments import rules

NOW = dt.datetime(2026, 11, 26, 2, 0, tzinfo=dt.UTC)  # 10:00 Beijing time
TODAY = dt.date(2026, 11, 26)
NINE, TEN, ELEVEN = dt.time(9), dt.time(10), dt.time(11)


@pytest.mark.parametrize(
    ("day", "starts_at", "expected"),
    [
        (TODAY, NINE, "appointment.slot_started"),
        (TODAY, TEN, "appointment.slot_started"),  # starting now
        (TODAY, ELEVEN, None),
        (TODAY + dt.timedelta(days=14), NINE, None),
        (TODAY + dt.timedelta(days=15), NINE, "appointment.too_far_ahead"),
    ],
)
def test_booking_refusal_when_slot_started_or_beyond_window(day, starts_at, expected):
    refusal = rules.booking_refusal(day, starts_at, NOW, days_ahead=14)
    assert (refusal.error_code if refusal else None) == expected


def test_cancel_refused_from_the_slot_start():
    assert rules.cancel_refusal(TODAY, ELEVEN, NOW) is None
    refusal = rules.cancel_refusal(TODAY, TEN, NOW)
    assert refusal is not None and refusal.error_code == "appointment.too_late_to_cancel"


@pytest.mark.parametrize(
    ("status", "ends_at", "expected"),
    [
        ("booked", ELEVEN, "booked"),
        ("booked", TEN, "expired"),
        ("cancelled", NINE, "cancelled"),
        ("cancelled", ELEVEN, "cancelled"),
    ],
)
def test_state_expires_a_booking_once_its_slot_is_over(status, ends_at, expected):
    assert rules.state(status, TODAY, ends_at, NOW) == expected
    assert expected in rules.STATE_NAMES


def test_reminder_day_is_tomorrow_across_a_month_end():
    assert rules.reminder_day(dt.date(2026, 11, 30)) == dt.date(2026, 12, 1)


def test_slot_settings_refused_when_end_not_after_start_or_capacity_below_booked():
    assert rules.slot_problem(NINE, TEN) is None
    assert rules.slot_problem(TEN, TEN) == "结束时间须晚于开始时间"
    assert rules.capacity_problem(3, 3) is None
    assert rules.capacity_problem(2, 3) == "容量不能小于已预约人数（3）"
