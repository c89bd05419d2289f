"""Concurrent bookings on PostgreSQL: a slot's places are taken by one conditional UPDATE each,
so racing members never overbook it, and a member racing for two slots of one day gets one."""

import threading

import pytest
from sqlalchemy import func, select

from backend.appointments.models import Appointment, AppointmentSlot
from tests.api.test_appointments_api import _configure

pytestmark = [pytest.mark.postgres, pytest.mark.usefixtures("postgres_only")]

RACERS = 12


def _race(app, calls):
    """Run each (headers, slot_id) booking in its own thread, all released at once."""
    barrier = threading.Barrier(len(calls))
    results = [None] * len(calls)

    def run(i, headers, slot_id):
        client = app.test_client()
        barrier.wait()
        r = client.post("/api/v1/appointments", json={"slot_id": slot_id}, headers=headers)
        results[i] = (r.status_code, r.get_json()["error_code"] if r.status_code >= 400 else None)

    threads = [threading.Thread(target=run, args=(i, *c)) for i, c in enumerate(calls)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    return results


def test_slot_never_oversold_when_members_race_for_the_last_places(
    app, make, client, login, session, clock
):
    [slot] = _configure(
        make, client, slots=[{"starts_at": "09:00", "ends_at": "10:00", "capacity": 3}]
    )
    members = [make.member(password="abc12345") for _ in range(RACERS)]

    results = _race(app, [(login(m), slot["id"]) for m in members])

    assert sorted(results, key=str) == sorted(
        [(201, None)] * 3 + [(409, "appointment.slot_full")] * (RACERS - 3), key=str
    ), results
    session.expire_all()
    assert session.get(AppointmentSlot, slot["id"]).booked == 3
    assert session.scalar(select(func.count()).select_from(Appointment)) == 3


def test_member_gets_one_booking_when_racing_for_two_slots_of_a_day(
    app, make, client, login, session, clock
):
    slots = _configure(
        make,
        client,
        slots=[
            {"starts_at": f"{h:02d}:00", "ends_at": f"{h:02d}:30", "capacity": 5}
            for h in range(9, 15)
        ],
    )
    member = make.member(password="abc12345")
    headers = login(member)

    results = _race(app, [(headers, s["id"]) for s in slots])

    assert sorted(status for status, _ in results) == [201] + [409] * (len(slots) - 1), results
    assert {code for status, code in results if status == 409} == {"appointment.one_per_day"}
    session.expire_all()
    assert session.scalar(select(func.sum(AppointmentSlot.booked))) == 1
