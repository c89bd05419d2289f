"""The centre-wide rows: employers (with their deposit rates and day), announcements in every
state and audience, service halls with a week of appointment slots and a few bookings."""

from __future__ import annotations

import datetime as dt
import random
from collections import defaultdict
from dataclasses import dataclass
from decimal import Decimal

from backend.announcements.rules import request_hash
from devtools.seed import data
from devtools.seed.common import (
    Rows,
    at,
    pick,
    weighted,
)
from devtools.seed.context import Centre

_TRADES = weighted(data.COMPANY_TRADES)
_FORMS = weighted(data.COMPANY_FORMS)
_RATE_PAIRS = weighted(
    (
        ((Decimal("0.12"), Decimal("0.12")), 6),
        ((Decimal("0.10"), Decimal("0.10")), 2),
        ((Decimal("0.08"), Decimal("0.08")), 2),
        ((Decimal("0.05"), Decimal("0.05")), 1),
    )
)


# The demo's full slot: tomorrow 14:00, provident-fund withdrawal at the first hall.
_FULL_SLOT = ("H01", "tq", 1, "14:00")


@dataclass
class Employer:
    id: int
    name: str
    employee_rate: Decimal
    employer_rate: Decimal
    deposit_day: int


def employers(centre: Centre, rows: Rows) -> None:
    rng = random.Random(f"{centre.seed}:employers")
    count = max(8, centre.members // 40)
    names: set[str] = set()
    for seq in range(count):
        name = _company_name(centre, rng, seq)
        while name in names:
            name = _company_name(centre, rng, seq)
        names.add(name)
        employee_rate, employer_rate = pick(rng, _RATE_PAIRS)
        employer = Employer(
            id=centre.ids("employers"),
            name=name,
            employee_rate=employee_rate,
            employer_rate=employer_rate,
            deposit_day=rng.randint(5, 20),
        )
        centre.employers.append(employer)
        rows.add(
            "employers",
            {
                "id": employer.id,
                "name": name,
                "unit_account_no": f"1401{rng.randint(10, 99)}{seq + 1:08d}",
                "created_at": centre.created,
            },
        )


def _company_name(centre: Centre, rng: random.Random, seq: int) -> str:
    if rng.random() < 0.12:
        return rng.choice(data.INSTITUTIONS).format(n=rng.choice("一二三四五六七八九十"))
    word = rng.choice(data.COMPANY_WORDS) + rng.choice(data.COMPANY_WORDS)
    return rng.choice(data.COMPANY_PLACES) + word + pick(rng, _TRADES) + pick(rng, _FORMS)


def announcements(centre: Centre, rows: Rows) -> None:
    """One announcement in each state and audience: published to everyone (already read by
    the first showcase member), to loan holders, to active accounts; scheduled; withdrawn.
    The published ones count as pushed already; the scheduled one waits for
    ``gjj announcements fanout``."""
    day = centre.as_of
    for number, title, body, audience, offset, withdrawn in data.ANNOUNCEMENTS:
        published_at = at(day + dt.timedelta(days=offset), 9)
        announcement_id = centre.ids("announcements")
        payload = {
            "announcement_no": number,
            "title": title,
            "body": body,
            "audience": audience,
            "published_at": published_at,
        }
        rows.add(
            "announcements",
            {
                "id": announcement_id,
                "announcement_no": number,
                "title": title,
                "body": body,
                "audience": audience,
                "published_at": published_at,
                "withdrawn_at": published_at + dt.timedelta(hours=2) if withdrawn else None,
                "withdraw_reason": "内容有误，已重新发布" if withdrawn else None,
                "request_hash": request_hash(payload),
                "fanout_after": 0,
                "fanout_done_at": published_at if offset <= 0 else None,
                "pushed": 0,
                "created_at": published_at,
            },
        )
        if offset < -10 and not withdrawn:  # the oldest: read by the first showcase member
            rows.add(
                "announcement_reads",
                {
                    "id": centre.ids("announcement_reads"),
                    "announcement_id": announcement_id,
                    "member_id": centre.first_member_id,
                    "read_at": published_at + dt.timedelta(days=1),
                },
            )


def appointments(centre: Centre, rows: Rows) -> None:
    """Halls, businesses and a week of slots from the seed date; the first showcase member
    has a booking tomorrow (cancellable, reminded the day before), a cancelled one and an
    expired one; the next two fill tomorrow's 14:00 slot at the first hall (shown full)."""
    business_ids = {}
    for code, name in data.APPOINTMENT_BUSINESSES:
        business_ids[code] = centre.ids("appointment_businesses")
        rows.add(
            "appointment_businesses",
            {
                "id": business_ids[code],
                "code": code,
                "name": name,
                "active": True,
                "updated_at": centre.created,
            },
        )
    slots: dict[tuple[str, str, int, str], int] = {}
    for hall_code, name, address, phone, codes in data.SERVICE_HALLS:
        hall_id = centre.ids("service_halls")
        rows.add(
            "service_halls",
            {
                "id": hall_id,
                "code": hall_code,
                "name": name,
                "address": address,
                "phone": phone,
                "business_codes": list(codes),
                "active": True,
                "updated_at": centre.created,
            },
        )
        for code in codes:
            for offset in range(-3, 8):
                for start, end, capacity in data.APPOINTMENT_TIMES:
                    slot_id = centre.ids("appointment_slots")
                    slots[(hall_code, code, offset, start)] = slot_id
                    rows.add(
                        "appointment_slots",
                        {
                            "id": slot_id,
                            "hall_id": hall_id,
                            "business_id": business_ids[code],
                            "day": centre.as_of + dt.timedelta(days=offset),
                            "starts_at": dt.time.fromisoformat(start),
                            "ends_at": dt.time.fromisoformat(end),
                            "capacity": 2
                            if (hall_code, code, offset, start) == _FULL_SLOT
                            else capacity,
                            "booked": 0,
                        },
                    )
    first = centre.first_member_id
    bookings = [  # (member, slot key, status)
        (first, ("H01", "tq", 1, "09:00"), "booked"),
        (first, ("H01", "dk", 2, "10:00"), "cancelled"),
        (first, ("H02", "tq", -3, "09:00"), "booked"),  # the slot is over: expired
        (first + 1, _FULL_SLOT, "booked"),
        (first + 2, _FULL_SLOT, "booked"),
    ]
    booked: dict[int, int] = defaultdict(int)
    for member_id, key, status in bookings:
        if member_id >= first + centre.members:
            continue
        appointment_id = centre.ids("appointments")
        day = centre.as_of + dt.timedelta(days=key[2])
        rows.add(
            "appointments",
            {
                "id": appointment_id,
                "booking_no": f"YY{day:%Y%m%d}{appointment_id:06d}",
                "member_id": member_id,
                "slot_id": slots[key],
                "day": day,
                "status": status,
                "created_at": at(centre.as_of - dt.timedelta(days=5), 20),
                "cancelled_at": at(centre.as_of - dt.timedelta(days=1), 8)
                if status == "cancelled"
                else None,
                "reminded_at": at(day - dt.timedelta(days=1), 18) if key[2] < 1 else None,
            },
        )
        if status == "booked":
            booked[slots[key]] += 1
    for table_row in rows.tables["appointment_slots"]:
        table_row["booked"] = booked.get(table_row["id"], 0)
