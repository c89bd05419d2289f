"""HTTP layer of appointments (网点预约): halls and their businesses, a day's slots, the member's
bookings (book, list, detail, cancel)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from flask.views import MethodView

from backend.api import Blueprint, db, runtime
from backend.appointments import queries, services
from backend.appointments.rules import booking_refusal
from backend.appointments.schemas import (
    AppointmentListArgsSchema,
    AppointmentPageSchema,
    AppointmentSchema,
    BookArgsSchema,
    HallListSchema,
    SlotArgsSchema,
    SlotListSchema,
    slot_view,
)
from backend.auth import current_member_id, member_view, origin
from backend.clock import utcnow
from backend.pagination import Page

blp = Blueprint("appointments", __name__, url_prefix="/api/v1", description="网点预约")


@blp.route("/appointments/halls")
class Halls(MethodView):
    @member_view(blp)
    @blp.response(200, HallListSchema)
    def get(self) -> dict[str, Any]:
        """Service halls (服务网点) and the businesses each handles"""
        return {
            "items": [
                {**_hall(hall), "businesses": businesses}
                for hall, businesses in queries.open_halls(db())
            ]
        }


def _hall(hall: Any) -> dict[str, Any]:
    return {c: getattr(hall, c) for c in ("id", "code", "name", "address", "phone")}


@blp.route("/appointments/slots")
class Slots(MethodView):
    @member_view(blp)
    @blp.arguments(SlotArgsSchema, location="query", as_kwargs=True)
    @blp.response(200, SlotListSchema)
    @blp.alt_response(422, description="Missing or bad hall_id, business_id or day")
    def get(self, hall_id: int, business_id: int, day: dt.date) -> Page[Any]:
        """A day's time slots of a business at a hall, with the places left

        ``bookable`` is false for a slot that is full, started, or beyond the booking window
        (``GJJ_APPOINTMENT_DAYS_AHEAD`` days); ``refusal`` says why.
        """
        now = utcnow()
        days_ahead = runtime().settings.appointment_days_ahead
        items = []
        for slot in queries.day_slots(db(), hall_id, business_id, day):
            refusal = booking_refusal(slot.day, slot.starts_at, now, days_ahead=days_ahead)
            items.append(slot_view(slot, refusal.message if refusal else None))
        return Page(items)


@blp.route("/appointments")
class Appointments(MethodView):
    @member_view(blp)
    @blp.arguments(AppointmentListArgsSchema, location="query", as_kwargs=True)
    @blp.response(200, AppointmentPageSchema)
    @blp.alt_response(422, description="Bad limit or cursor")
    def get(self, cursor: str | None, limit: int) -> Page[Any]:
        """My bookings, newest first"""
        items, next_cursor = queries.list_bookings(
            db(), current_member_id(), cursor=cursor, limit=limit
        )
        return Page(items, next_cursor)

    @member_view(blp)
    @blp.arguments(BookArgsSchema)
    @blp.response(201, AppointmentSchema)
    @blp.alt_response(404, description="appointment.slot_not_found")
    @blp.alt_response(
        409, description="appointment.slot_full, or appointment.one_per_day (one booking a day)"
    )
    @blp.alt_response(
        422, description="appointment.slot_started or appointment.too_far_ahead, bad payload"
    )
    def post(self, args: dict[str, Any]) -> Any:
        """Book a slot (预约)

        One active booking per member per day; a full slot is refused, never oversold.
        """
        return services.book(
            db(),
            current_member_id(),
            args["slot_id"],
            days_ahead=runtime().settings.appointment_days_ahead,
            origin=origin(),
        )


@blp.route("/appointments/<int:appointment_id>")
class AppointmentDetail(MethodView):
    @member_view(blp)
    @blp.response(200, AppointmentSchema)
    @blp.alt_response(404, description="No such booking of this member")
    def get(self, appointment_id: int) -> Any:
        """A booking: hall, business, day, time, state"""
        return queries.get_booking(db(), current_member_id(), appointment_id)


@blp.route("/appointments/<int:appointment_id>/cancel")
class AppointmentCancel(MethodView):
    @member_view(blp)
    @blp.response(200, AppointmentSchema)
    @blp.alt_response(404, description="No such booking of this member")
    @blp.alt_response(409, description="appointment.too_late_to_cancel: the slot has started")
    def post(self, appointment_id: int) -> Any:
        """Cancel a booking before its slot starts (idempotent); the place goes back"""
        return services.cancel(db(), current_member_id(), appointment_id, origin=origin())
