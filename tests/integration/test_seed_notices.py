"""The demo data of announcements and appointments shows every state, consistently."""

from __future__ import annotations

import datetime as dt
from collections import Counter

from sqlalchemy import select

from backend.announcements.models import Announcement, AnnouncementRead
from backend.announcements.rules import AUDIENCES
from backend.announcements.rules import state as announcement_state
from backend.appointments.models import Appointment, AppointmentSlot
from backend.appointments.rules import state as appointment_state
from devtools.seed.runner import seed_centre

AS_OF = dt.date(2026, 11, 20)
NOW = dt.datetime(2026, 11, 20, 2, 0, tzinfo=dt.UTC)  # 10:00 Beijing time on the seed date


def test_seed_shows_every_announcement_state_and_audience(runtime, session):
    seed_centre(runtime, members=15, seed=7, as_of=AS_OF, progress=False)

    announcements = session.scalars(select(Announcement)).all()
    states = Counter(announcement_state(a.published_at, a.withdrawn_at, NOW) for a in announcements)
    assert set(states) == {"published", "scheduled", "withdrawn"}
    assert {a.audience for a in announcements} == set(AUDIENCES)
    [read] = session.scalars(select(AnnouncementRead)).all()
    assert read.announcement_id in {a.id for a in announcements if a.withdrawn_at is None}


def test_seed_shows_every_booking_state_and_a_full_slot_with_exact_counters(runtime, session):
    seed_centre(runtime, members=15, seed=7, as_of=AS_OF, progress=False)

    bookings = session.scalars(select(Appointment)).all()
    states = {appointment_state(b.status, b.day, b.slot.ends_at, NOW) for b in bookings}
    assert states == {"booked", "cancelled", "expired"}
    active = Counter(b.slot_id for b in bookings if b.status == "booked")
    slots = session.scalars(select(AppointmentSlot)).all()
    assert all(s.booked == active.get(s.id, 0) <= s.capacity for s in slots)
    assert any(s.booked == s.capacity and s.day > AS_OF for s in slots)  # a full future slot
    per_day = Counter((b.member_id, b.day) for b in bookings if b.status == "booked")
    assert max(per_day.values()) == 1
