"""Appointment use cases: book, cancel, and the day-before reminders.

Capacity is never oversold: a booking takes a place with one conditional UPDATE
(``booked = booked + 1 WHERE booked < capacity``), which PostgreSQL serialises on the slot row;
the loser of the last place gets ``appointment.slot_full``. One active booking per member per
day is checked first for a clear answer, and held by a partial unique index for racing requests.
"""

from __future__ import annotations

import datetime as dt
import secrets

from sqlalchemy import update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from backend.appointments import queries
from backend.appointments.models import Appointment, AppointmentSlot
from backend.appointments.rules import booking_refusal, cancel_refusal, reminder_day
from backend.audit.services import RequestOrigin, record
from backend.clock import utcnow
from backend.errors import Conflict, NotFound, ValidationFailed
from backend.inbox.services import post_message

REMIND_BATCH = 500
REMINDER_KEY = "apt:remind:{}"
ONE_PER_DAY = "您当天已有一个预约，如需改约请先取消原预约"


def _one_per_day() -> Conflict:
    return Conflict(ONE_PER_DAY, error_code="appointment.one_per_day")


def book(
    session: Session, member_id: int, slot_id: int, *, days_ahead: int, origin: RequestOrigin
) -> Appointment:
    """Book a place in the slot (committed)."""
    now = utcnow()
    slot = session.get(AppointmentSlot, slot_id)
    if slot is None or not queries.slot_open(slot):
        raise NotFound("未找到该预约时段", error_code="appointment.slot_not_found")
    refusal = booking_refusal(slot.day, slot.starts_at, now, days_ahead=days_ahead)
    if refusal:
        raise ValidationFailed(
            refusal.message, error_code=refusal.error_code, errors={"slot_id": [refusal.message]}
        )
    if queries.booked_on(session, member_id, slot.day) is not None:
        raise _one_per_day()
    taken = session.execute(
        update(AppointmentSlot)
        .where(AppointmentSlot.id == slot_id, AppointmentSlot.booked < AppointmentSlot.capacity)
        .values(booked=AppointmentSlot.booked + 1)
        .execution_options(synchronize_session=False)
    )
    if taken.rowcount != 1:  # type: ignore[attr-defined]
        session.rollback()
        raise Conflict("该时段已约满，请选择其他时段", error_code="appointment.slot_full")
    appointment = Appointment(
        booking_no=f"YY{slot.day:%Y%m%d}{secrets.token_hex(4).upper()}",
        member_id=member_id,
        slot_id=slot_id,
        day=slot.day,
        status="booked",
        created_at=now,
    )
    session.add(appointment)
    try:
        session.flush()
    except IntegrityError:  # a concurrent request of the member booked that day first
        session.rollback()
        raise _one_per_day() from None
    record(
        session,
        "appointment.book",
        member_id=member_id,
        origin=origin,
        booking_no=appointment.booking_no,
        slot_id=slot_id,
    )
    session.commit()
    return appointment


def cancel(
    session: Session, member_id: int, appointment_id: int, *, origin: RequestOrigin
) -> Appointment:
    """Cancel before the slot starts; the place goes back. Cancelling twice changes nothing."""
    appointment = queries.get_booking(session, member_id, appointment_id)
    if appointment.status == "cancelled":
        return appointment
    slot = appointment.slot
    refusal = cancel_refusal(slot.day, slot.starts_at, utcnow())
    if refusal:
        raise Conflict(refusal.message, error_code=refusal.error_code)
    now = utcnow()
    moved = session.execute(
        update(Appointment)
        .where(Appointment.id == appointment.id, Appointment.status == "booked")
        .values(status="cancelled", cancelled_at=now)
        .execution_options(synchronize_session=False)
    )
    if moved.rowcount == 1:  # type: ignore[attr-defined]
        session.execute(
            update(AppointmentSlot)
            .where(AppointmentSlot.id == slot.id, AppointmentSlot.booked > 0)
            .values(booked=AppointmentSlot.booked - 1)
            .execution_options(synchronize_session=False)
        )
        record(
            session,
            "appointment.cancel",
            member_id=member_id,
            origin=origin,
            booking_no=appointment.booking_no,
        )
    session.commit()
    session.refresh(appointment)
    return appointment


def reminder_text(appointment: Appointment) -> str:
    slot = appointment.slot
    return (
        f"您已预约{slot.day:%m月%d日} {slot.starts_at:%H:%M}-{slot.ends_at:%H:%M}"
        f"到{slot.hall.name}办理{slot.business.name}（预约号{appointment.booking_no}），"
        f"请携带本人身份证件准时前往。地址：{slot.hall.address}"
    )


def send_reminders(sessions: sessionmaker[Session], today: dt.date) -> int:
    """The day-before reminders: a message (and its pushes) for every active booking of
    tomorrow not yet reminded, a batch per transaction. Running it again sends nothing twice."""
    day = reminder_day(today)
    sent = 0
    while True:
        with sessions() as session:
            due = queries.due_reminders(session, day, limit=REMIND_BATCH)
            for appointment in due:
                post_message(
                    session,
                    member_id=appointment.member_id,
                    business_name="网点预约提醒",
                    content=reminder_text(appointment),
                    business_type="appointment",
                    source_channel="网上服务大厅",
                    dedupe_key=REMINDER_KEY.format(appointment.id),
                )
                appointment.reminded_at = utcnow()
            session.commit()
        sent += len(due)
        if len(due) < REMIND_BATCH:
            return sent
