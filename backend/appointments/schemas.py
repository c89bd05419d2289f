"""Member-facing shapes of appointments (网点预约)."""

from __future__ import annotations

from typing import Any

import marshmallow as ma

from backend.appointments.rules import STATE_NAMES, cancel_refusal, state
from backend.clock import utcnow
from backend.fields import InputDate, LocalDateTime
from backend.pagination import PageArgsSchema


class Clock(ma.fields.Field):
    """A wall-clock time as ``HH:MM``."""

    def _serialize(self, value: Any, attr: str | None, obj: Any, **kwargs: Any) -> Any:
        return None if value is None else f"{value:%H:%M}"


class BusinessSchema(ma.Schema):
    id = ma.fields.Integer()
    code = ma.fields.String()
    name = ma.fields.String()


class HallSchema(ma.Schema):
    id = ma.fields.Integer()
    code = ma.fields.String()
    name = ma.fields.String()
    address = ma.fields.String()
    phone = ma.fields.String()


class HallWithBusinessesSchema(HallSchema):
    businesses = ma.fields.List(ma.fields.Nested(BusinessSchema))


class HallListSchema(ma.Schema):
    items = ma.fields.List(ma.fields.Nested(HallWithBusinessesSchema))


class SlotArgsSchema(ma.Schema):
    hall_id = ma.fields.Integer(required=True, validate=ma.validate.Range(min=1))
    business_id = ma.fields.Integer(required=True, validate=ma.validate.Range(min=1))
    day = InputDate(required=True, metadata={"description": "YYYY-MM-DD"})


class SlotSchema(ma.Schema):
    id = ma.fields.Integer()
    day = ma.fields.Date()
    starts_at = Clock(metadata={"description": "HH:MM (Beijing time)"})
    ends_at = Clock()
    capacity = ma.fields.Integer()
    remaining = ma.fields.Integer(metadata={"description": "places left"})
    bookable = ma.fields.Boolean(
        metadata={"description": "places left, not started, within the booking window"}
    )
    refusal = ma.fields.String(allow_none=True, metadata={"description": "why not bookable"})


class SlotListSchema(ma.Schema):
    items = ma.fields.List(ma.fields.Nested(SlotSchema))


class BookArgsSchema(ma.Schema):
    class Meta:
        unknown = ma.RAISE

    slot_id = ma.fields.Integer(required=True, validate=ma.validate.Range(min=1))


def _state(a: Any) -> str:
    return state(a.status, a.day, a.slot.ends_at, utcnow())


def _cancellable(a: Any) -> bool:
    return a.status == "booked" and cancel_refusal(a.day, a.slot.starts_at, utcnow()) is None


class AppointmentSchema(ma.Schema):
    id = ma.fields.Integer()
    booking_no = ma.fields.String(metadata={"description": "预约号"})
    status = ma.fields.String(metadata={"description": "booked | cancelled (stored)"})
    state = ma.fields.Function(_state, metadata={"description": "booked | cancelled | expired"})
    state_name = ma.fields.Function(lambda a: STATE_NAMES[_state(a)])
    cancellable = ma.fields.Function(_cancellable)
    day = ma.fields.Date()
    starts_at = ma.fields.Function(lambda a: f"{a.slot.starts_at:%H:%M}")
    ends_at = ma.fields.Function(lambda a: f"{a.slot.ends_at:%H:%M}")
    hall = ma.fields.Function(lambda a: HallSchema().dump(a.slot.hall))
    business = ma.fields.Function(lambda a: BusinessSchema().dump(a.slot.business))
    created_at = LocalDateTime()
    cancelled_at = LocalDateTime(allow_none=True)


class AppointmentPageSchema(ma.Schema):
    items = ma.fields.List(ma.fields.Nested(AppointmentSchema))
    next_cursor = ma.fields.String(allow_none=True)


class AppointmentListArgsSchema(PageArgsSchema):
    pass


def slot_view(slot: Any, refusal: str | None) -> dict[str, Any]:
    return {
        "id": slot.id,
        "day": slot.day,
        "starts_at": slot.starts_at,
        "ends_at": slot.ends_at,
        "capacity": slot.capacity,
        "remaining": slot.remaining,
        "bookable": refusal is None and slot.remaining > 0,
        "refusal": refusal if refusal else (None if slot.remaining > 0 else "已约满"),
    }
