"""Reads of appointments. Never commit. A member's booking is found only by its member."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.appointments.models import (
    Appointment,
    AppointmentBusiness,
    AppointmentSlot,
    ServiceHall,
)
from backend.errors import NotFound
from backend.pagination import keyset_page


def open_halls(session: Session) -> list[tuple[ServiceHall, list[AppointmentBusiness]]]:
    """Active halls with the active businesses they handle, in the hall's order."""
    halls = list(
        session.scalars(select(ServiceHall).where(ServiceHall.active).order_by(ServiceHall.code))
    )
    businesses = {
        b.code: b
        for b in session.scalars(select(AppointmentBusiness).where(AppointmentBusiness.active))
    }
    return [
        (hall, [businesses[c] for c in hall.business_codes or [] if c in businesses])
        for hall in halls
    ]


def slot_open(slot: AppointmentSlot) -> bool:
    """Members may book the slot: places offered, hall and business active, and the business
    still one the hall handles."""
    return (
        slot.capacity > 0
        and slot.hall.active
        and slot.business.active
        and slot.business.code in (slot.hall.business_codes or [])
    )


def day_slots(
    session: Session, hall_id: int, business_id: int, day: dt.date
) -> list[AppointmentSlot]:
    slots = session.scalars(
        select(AppointmentSlot)
        .where(
            AppointmentSlot.hall_id == hall_id,
            AppointmentSlot.business_id == business_id,
            AppointmentSlot.day == day,
        )
        .order_by(AppointmentSlot.starts_at)
    )
    return [slot for slot in slots if slot_open(slot)]


def list_bookings(
    session: Session, member_id: int, *, cursor: str | None, limit: int
) -> tuple[list[Appointment], str | None]:
    """The member's bookings, newest first."""
    stmt = select(Appointment).where(Appointment.member_id == member_id)
    return keyset_page(
        session, stmt, [Appointment.created_at, Appointment.id], cursor=cursor, limit=limit
    )


def get_booking(session: Session, member_id: int, appointment_id: int) -> Appointment:
    found = session.scalars(
        select(Appointment).where(
            Appointment.id == appointment_id, Appointment.member_id == member_id
        )
    ).first()
    if found is None:
        raise NotFound("未找到该预约", error_code="appointment.not_found")
    return found


def booked_on(session: Session, member_id: int, day: dt.date) -> Appointment | None:
    return session.scalars(
        select(Appointment).where(
            Appointment.member_id == member_id,
            Appointment.day == day,
            Appointment.status == "booked",
        )
    ).first()


def due_reminders(session: Session, day: dt.date, *, limit: int) -> list[Appointment]:
    """Active bookings of ``day`` not yet reminded, in id order."""
    return list(
        session.scalars(
            select(Appointment)
            .where(
                Appointment.day == day,
                Appointment.status == "booked",
                Appointment.reminded_at.is_(None),
            )
            .order_by(Appointment.id)
            .limit(limit)
        )
    )
