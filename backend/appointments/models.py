"""Appointments at a service hall (网点预约): halls, businesses and time slots set by the centre,
and the members' bookings."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    Time,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from backend.clock import utcnow
from backend.db import Base, UtcDateTime

APPOINTMENT_STATUS = ("booked", "cancelled")


class ServiceHall(Base):
    __tablename__ = "service_halls"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)  # the centre's key
    name: Mapped[str] = mapped_column(String(60))
    address: Mapped[str] = mapped_column(String(200), default="")
    phone: Mapped[str] = mapped_column(String(30), default="")
    # Codes of the businesses the hall handles, in display order.
    business_codes: Mapped[list[str]] = mapped_column(JSON, default=list)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    updated_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow, onupdate=utcnow)


class AppointmentBusiness(Base):
    __tablename__ = "appointment_businesses"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(40))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    updated_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow, onupdate=utcnow)


class AppointmentSlot(Base):
    """One time slot of one business at one hall on one day (Beijing time), with its capacity.
    ``booked`` only moves by a conditional UPDATE (``booked < capacity``): never oversold."""

    __tablename__ = "appointment_slots"
    __table_args__ = (
        UniqueConstraint("hall_id", "business_id", "day", "starts_at"),
        CheckConstraint("booked >= 0 AND booked <= capacity", name="booked_within_capacity"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    hall_id: Mapped[int] = mapped_column(ForeignKey("service_halls.id"))
    business_id: Mapped[int] = mapped_column(ForeignKey("appointment_businesses.id"))
    day: Mapped[dt.date] = mapped_column(Date)
    starts_at: Mapped[dt.time] = mapped_column(Time)
    ends_at: Mapped[dt.time] = mapped_column(Time)
    capacity: Mapped[int] = mapped_column(Integer)
    booked: Mapped[int] = mapped_column(Integer, default=0)

    hall: Mapped[ServiceHall] = relationship(lazy="joined", innerjoin=True)
    business: Mapped[AppointmentBusiness] = relationship(lazy="joined", innerjoin=True)

    @property
    def remaining(self) -> int:
        return max(0, self.capacity - self.booked)


class Appointment(Base):
    __tablename__ = "appointments"
    __table_args__ = (
        Index("ix_appointments_member_list", "member_id", "created_at", "id"),
        # One active booking per member per day, whatever two racing requests do.
        Index(
            "uq_appointments_member_day_booked",
            "member_id",
            "day",
            unique=True,
            postgresql_where=text("status = 'booked'"),
            sqlite_where=text("status = 'booked'"),
        ),
        Index("ix_appointments_remind", "day", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    booking_no: Mapped[str] = mapped_column(String(24), unique=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id"))
    slot_id: Mapped[int] = mapped_column(ForeignKey("appointment_slots.id"), index=True)
    day: Mapped[dt.date] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(10), default="booked")
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)
    cancelled_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)
    reminded_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)

    slot: Mapped[AppointmentSlot] = relationship(lazy="joined", innerjoin=True)
