"""Pure rules of appointments (网点预约): which slots may be booked or cancelled, a booking's
state, when reminders go out. Times are the centre's (Asia/Shanghai)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from backend.clock import SHANGHAI

STATE_NAMES = {"booked": "已预约", "cancelled": "已取消", "expired": "已过期"}


@dataclass(frozen=True)
class Refusal:
    message: str
    error_code: str


def local_moment(day: dt.date, at: dt.time) -> dt.datetime:
    """A Beijing-time slot boundary as an aware datetime."""
    return dt.datetime.combine(day, at, tzinfo=SHANGHAI)


def booking_refusal(
    day: dt.date, starts_at: dt.time, now: dt.datetime, *, days_ahead: int
) -> Refusal | None:
    """Why a slot cannot be booked at ``now``: started (or past), or beyond the booking window
    (today plus ``days_ahead`` days)."""
    local_now = now.astimezone(SHANGHAI)
    if local_moment(day, starts_at) <= local_now:
        return Refusal("该时段已开始或已过，请选择其他时段", "appointment.slot_started")
    if day > local_now.date() + dt.timedelta(days=days_ahead):
        return Refusal(f"只能预约 {days_ahead} 天内的时段", "appointment.too_far_ahead")
    return None


def cancel_refusal(day: dt.date, starts_at: dt.time, now: dt.datetime) -> Refusal | None:
    """A booking may be cancelled until its slot starts."""
    if local_moment(day, starts_at) <= now.astimezone(SHANGHAI):
        return Refusal("预约时段已开始，不能取消", "appointment.too_late_to_cancel")
    return None


def state(status: str, day: dt.date, ends_at: dt.time, now: dt.datetime) -> str:
    """``booked``, ``cancelled``, or ``expired`` (booked, and the slot is over)."""
    if status == "booked" and local_moment(day, ends_at) <= now.astimezone(SHANGHAI):
        return "expired"
    return status


def reminder_day(today: dt.date) -> dt.date:
    """Reminders go out the day before: on ``today``, for bookings of the next day."""
    return today + dt.timedelta(days=1)


def slot_problem(starts_at: dt.time, ends_at: dt.time) -> str | None:
    """What is wrong with a slot's times the centre sets, or ``None``."""
    return "结束时间须晚于开始时间" if ends_at <= starts_at else None


def capacity_problem(capacity: int, booked: int) -> str | None:
    """A capacity below the places already booked would strand members who booked."""
    return f"容量不能小于已预约人数（{booked}）" if capacity < booked else None
