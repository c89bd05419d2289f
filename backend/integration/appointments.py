"""Appointment settings from the core system: businesses, halls and slot capacities.

These calls *set* state (PUT): repeating one changes nothing and answers the same; a different
body is a new setting, not a conflict. A capacity below the places already booked is a 409:
the centre must not strand members who booked.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any, TypeVar

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from backend.appointments.models import AppointmentBusiness, AppointmentSlot, ServiceHall
from backend.appointments.rules import capacity_problem, slot_problem
from backend.errors import Conflict, NotFound, ValidationFailed
from backend.integration.services import Caller, audit

Settable = TypeVar("Settable", AppointmentBusiness, ServiceHall)


def _by_code(session: Session, model: type[Settable], code: str) -> Settable | None:
    return session.scalars(select(model).where(model.code == code)).first()


def _put(
    session: Session, caller: Caller, model: type[Settable], code: str, **values: Any
) -> Settable:
    """Create or update the row named by ``code`` (committed). Two first calls racing: the
    loser's insert hits the unique code, and it updates the winner's row instead."""
    for _ in range(2):
        row = _by_code(session, model, code)
        if row is None:
            row = model(code=code)
            session.add(row)
        for name, value in values.items():
            setattr(row, name, value)
        audit(session, caller, f"internal.{model.__tablename__}", None, code=code, **values)
        try:
            session.commit()
        except IntegrityError:
            session.rollback()
            continue
        return row
    raise Conflict("请求与当前数据冲突，请稍后重试", error_code="internal.write_conflict")


def put_business(
    session: Session, caller: Caller, code: str, *, name: str, active: bool = True
) -> AppointmentBusiness:
    return _put(session, caller, AppointmentBusiness, code, name=name, active=active)


def put_hall(
    session: Session,
    caller: Caller,
    code: str,
    *,
    name: str,
    business_codes: Sequence[str],
    address: str = "",
    phone: str = "",
    active: bool = True,
) -> ServiceHall:
    known = set(
        session.scalars(
            select(AppointmentBusiness.code).where(AppointmentBusiness.code.in_(business_codes))
        )
    )
    unknown = [c for c in business_codes if c not in known]
    if unknown:
        raise ValidationFailed(
            "业务类型未登记", errors={"business_codes": [f"未登记的业务类型：{', '.join(unknown)}"]}
        )
    return _put(
        session,
        caller,
        ServiceHall,
        code,
        name=name,
        address=address,
        phone=phone,
        active=active,
        business_codes=list(dict.fromkeys(business_codes)),
    )


def set_slots(
    session: Session,
    caller: Caller,
    hall_code: str,
    *,
    business_code: str,
    day: dt.date,
    slots: Sequence[dict[str, Any]],
) -> list[AppointmentSlot]:
    """Create or re-size the day's slots named by their start time (rows locked). Capacity 0
    closes a slot to new bookings; slots not named are left as they are."""
    hall = _by_code(session, ServiceHall, hall_code)
    if hall is None:
        raise NotFound("未找到该服务网点", error_code="appointment.hall_not_found")
    business = _by_code(session, AppointmentBusiness, business_code)
    if business is None or business_code not in (hall.business_codes or []):
        raise ValidationFailed(
            "该网点未开办此业务",
            errors={"business_code": [f"网点 {hall_code} 未开办业务 {business_code}"]},
        )
    existing = {
        s.starts_at: s
        for s in session.scalars(
            select(AppointmentSlot)
            .where(
                AppointmentSlot.hall_id == hall.id,
                AppointmentSlot.business_id == business.id,
                AppointmentSlot.day == day,
            )
            .with_for_update(of=AppointmentSlot)
        )
    }
    bad_times = {
        f"slots.{i}": [problem]
        for i, wanted in enumerate(slots)
        if (problem := slot_problem(wanted["starts_at"], wanted["ends_at"]))
    }
    if bad_times:
        raise ValidationFailed("时段设置有误", errors=bad_times)
    below = {
        f"slots.{i}": [problem]
        for i, wanted in enumerate(slots)
        if (current := existing.get(wanted["starts_at"])) is not None
        and (problem := capacity_problem(wanted["capacity"], current.booked))
    }
    if below:
        raise Conflict(
            "容量不能小于已预约人数", error_code="appointment.capacity_below_booked", errors=below
        )
    for wanted in slots:
        slot = existing.get(wanted["starts_at"])
        if slot is None:
            slot = AppointmentSlot(
                hall_id=hall.id,
                business_id=business.id,
                day=day,
                starts_at=wanted["starts_at"],
                booked=0,
            )
            session.add(slot)
            existing[wanted["starts_at"]] = slot
        slot.ends_at, slot.capacity = wanted["ends_at"], wanted["capacity"]
    audit(
        session,
        caller,
        "internal.appointment_slots",
        None,
        hall=hall_code,
        business=business_code,
        day=day.isoformat(),
        slots=len(slots),
    )
    session.commit()
    return sorted(existing.values(), key=lambda s: s.starts_at)
