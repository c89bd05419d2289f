"""Appointments (网点预约): halls, businesses and slots set by the core system through the
signed internal API; members book, list and cancel; reminders go out the day before."""

import datetime as dt

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from backend.appointments.models import AppointmentSlot
from backend.cli import Context, cli
from backend.inbox.models import Message

TOMORROW = "2026-11-27"  # the clock fixture stands at 2026-11-26 10:00 Beijing time


def _configure(make, client, *, day=TOMORROW, slots=None, hall="H01", business="tq"):
    r = make.signed(
        client, "PUT", f"/internal/v1/appointments/businesses/{business}", {"name": "公积金提取"}
    )
    assert r.status_code == 200, r.json
    r = make.signed(
        client,
        "PUT",
        f"/internal/v1/appointments/halls/{hall}",
        {
            "name": "市民中心服务大厅",
            "address": "示范市人民路1号",
            "phone": "12329",
            "business_codes": [business],
        },
    )
    assert r.status_code == 200, r.json
    r = make.signed(
        client,
        "PUT",
        f"/internal/v1/appointments/halls/{hall}/slots",
        {
            "business_code": business,
            "day": day,
            "slots": slots or [{"starts_at": "09:00", "ends_at": "10:00", "capacity": 2}],
        },
    )
    assert r.status_code == 200, r.json
    return r.json["items"]


def _book(client, headers, slot_id):
    return client.post("/api/v1/appointments", json={"slot_id": slot_id}, headers=headers)


def _slots(client, headers, hall_id, business_id, day=TOMORROW):
    query = f"hall_id={hall_id}&business_id={business_id}&day={day}"
    return client.get(f"/api/v1/appointments/slots?{query}", headers=headers).json["items"]


@pytest.fixture
def member(make, clock):
    return make.member(password="abc12345")


def test_member_books_a_slot_and_places_left_drop_when_booked(make, client, login, member):
    [slot] = _configure(make, client)
    headers = login(member)
    [hall] = client.get("/api/v1/appointments/halls", headers=headers).json["items"]
    assert hall["name"] == "市民中心服务大厅" and hall["businesses"][0]["name"] == "公积金提取"
    before = _slots(client, headers, hall["id"], hall["businesses"][0]["id"])
    assert before[0]["remaining"] == 2 and before[0]["bookable"] is True

    r = _book(client, headers, slot["id"])

    assert r.status_code == 201
    booking = r.json
    assert booking["state"] == "booked" and booking["state_name"] == "已预约"
    assert (booking["day"], booking["starts_at"], booking["ends_at"]) == (
        TOMORROW,
        "09:00",
        "10:00",
    )
    assert booking["booking_no"].startswith("YY20261127") and booking["cancellable"] is True
    after = _slots(client, headers, hall["id"], hall["businesses"][0]["id"])
    assert after[0]["remaining"] == 1
    listed = client.get("/api/v1/appointments", headers=headers).json["items"]
    assert [b["id"] for b in listed] == [booking["id"]]


def test_booking_refused_when_slot_full(make, client, login, clock):
    [slot] = _configure(
        make, client, slots=[{"starts_at": "09:00", "ends_at": "10:00", "capacity": 1}]
    )
    first, second = make.member(password="abc12345"), make.member(password="abc12345")
    assert _book(client, login(first), slot["id"]).status_code == 201

    r = _book(client, login(second), slot["id"])

    assert r.status_code == 409 and r.json["error_code"] == "appointment.slot_full"
    assert r.json["message"] == "该时段已约满，请选择其他时段"


def test_second_booking_same_day_refused_until_first_cancelled(make, client, login, member):
    morning, afternoon = _configure(
        make,
        client,
        slots=[
            {"starts_at": "09:00", "ends_at": "10:00", "capacity": 2},
            {"starts_at": "14:00", "ends_at": "15:00", "capacity": 2},
        ],
    )
    headers = login(member)
    first = _book(client, headers, morning["id"]).json

    refused = _book(client, headers, afternoon["id"])
    cancelled = client.post(f"/api/v1/appointments/{first['id']}/cancel", headers=headers)
    again = client.post(f"/api/v1/appointments/{first['id']}/cancel", headers=headers)
    rebooked = _book(client, headers, afternoon["id"])

    assert refused.status_code == 409 and refused.json["error_code"] == "appointment.one_per_day"
    assert cancelled.status_code == 200 and cancelled.json["state"] == "cancelled"
    assert again.status_code == 200 and again.json == cancelled.json
    assert rebooked.status_code == 201
    make.session.expire_all()
    places = {s.starts_at.hour: s.booked for s in make.session.scalars(select(AppointmentSlot))}
    assert places == {9: 0, 14: 1}  # the cancelled place went back


def test_cancel_refused_when_slot_started(make, client, login, member, clock):
    [slot] = _configure(make, client)
    headers = login(member)
    booking = _book(client, headers, slot["id"]).json
    clock.set(dt.datetime(2026, 11, 27, 1, 0, tzinfo=dt.UTC))  # 09:00 Beijing time

    r = client.post(f"/api/v1/appointments/{booking['id']}/cancel", headers=login(member))

    assert r.status_code == 409 and r.json["error_code"] == "appointment.too_late_to_cancel"
    clock.set(dt.datetime(2026, 11, 27, 2, 0, tzinfo=dt.UTC))  # 10:00: the slot is over
    shown = client.get(f"/api/v1/appointments/{booking['id']}", headers=login(member)).json
    assert shown["state"] == "expired" and shown["cancellable"] is False


@pytest.mark.parametrize(
    ("day", "starts_at", "error_code"),
    [
        ("2026-11-26", "09:00", "appointment.slot_started"),  # earlier today
        ("2026-12-11", "09:00", "appointment.too_far_ahead"),  # beyond 14 days
    ],
)
def test_booking_refused_when_slot_outside_window(
    make, client, login, member, day, starts_at, error_code
):
    [slot] = _configure(
        make, client, day=day, slots=[{"starts_at": starts_at, "ends_at": "10:00", "capacity": 3}]
    )

    r = _book(client, login(member), slot["id"])

    assert r.status_code == 422 and r.json["error_code"] == error_code
    assert "slot_id" in r.json["errors"]


def test_other_members_booking_is_not_found(make, client, login, member):
    [slot] = _configure(make, client)
    booking = _book(client, login(member), slot["id"]).json
    other = make.member(password="abc12345")

    for r in (
        client.get(f"/api/v1/appointments/{booking['id']}", headers=login(other)),
        client.post(f"/api/v1/appointments/{booking['id']}/cancel", headers=login(other)),
    ):
        assert r.status_code == 404 and r.json["error_code"] == "appointment.not_found"


def test_inactive_hall_hidden_and_its_slots_not_bookable(make, client, login, member):
    [slot] = _configure(make, client)
    make.signed(
        client,
        "PUT",
        "/internal/v1/appointments/halls/H01",
        {"name": "市民中心服务大厅", "business_codes": ["tq"], "active": False},
    )
    headers = login(member)

    assert client.get("/api/v1/appointments/halls", headers=headers).json["items"] == []
    r = _book(client, headers, slot["id"])
    assert r.status_code == 404 and r.json["error_code"] == "appointment.slot_not_found"


def test_slots_of_a_business_the_hall_dropped_are_not_bookable(make, client, login, member):
    [slot] = _configure(make, client)
    make.signed(client, "PUT", "/internal/v1/appointments/businesses/dk", {"name": "公积金贷款"})
    make.signed(
        client,
        "PUT",
        "/internal/v1/appointments/halls/H01",
        {"name": "市民中心服务大厅", "business_codes": ["dk"]},
    )
    headers = login(member)

    [hall] = client.get("/api/v1/appointments/halls", headers=headers).json["items"]
    assert [b["code"] for b in hall["businesses"]] == ["dk"]
    assert _slots(client, headers, hall["id"], 1) == []
    r = _book(client, headers, slot["id"])
    assert r.status_code == 404 and r.json["error_code"] == "appointment.slot_not_found"


@pytest.mark.parametrize(
    ("query", "field"),
    [("business_id=1&day=2026-11-27", "hall_id"), ("hall_id=1&business_id=1&day=soon", "day")],
)
def test_slots_query_refused_when_bad(client, login, member, query, field):
    r = client.get(f"/api/v1/appointments/slots?{query}", headers=login(member))
    assert r.status_code == 422 and field in r.json["errors"]


# --- internal side ----------------------------------------------------------------------------


def test_capacity_below_booked_refused_with_409(make, client, login, member):
    [slot] = _configure(make, client)
    _book(client, login(member), slot["id"])

    r = make.signed(
        client,
        "PUT",
        "/internal/v1/appointments/halls/H01/slots",
        {
            "business_code": "tq",
            "day": TOMORROW,
            "slots": [{"starts_at": "09:00", "ends_at": "10:00", "capacity": 0}],
        },
    )

    assert r.status_code == 409 and r.json["error_code"] == "appointment.capacity_below_booked"


def test_setting_slots_again_resizes_and_keeps_bookings(make, client, login, member):
    [slot] = _configure(make, client)
    _book(client, login(member), slot["id"])

    items = _configure(
        make, client, slots=[{"starts_at": "09:00", "ends_at": "10:30", "capacity": 5}]
    )

    assert [(s["id"], s["capacity"], s["booked"], s["ends_at"]) for s in items] == [
        (slot["id"], 5, 1, "10:30")
    ]


@pytest.mark.parametrize(
    ("path", "payload", "status", "error_code"),
    [
        (
            "/internal/v1/appointments/halls/H01/slots",
            {
                "business_code": "tq",
                "day": TOMORROW,
                "slots": [{"starts_at": "10:00", "ends_at": "09:00", "capacity": 1}],
            },
            422,
            "request.validation_failed",
        ),
        (
            "/internal/v1/appointments/halls/NOPE/slots",
            {
                "business_code": "tq",
                "day": TOMORROW,
                "slots": [{"starts_at": "09:00", "ends_at": "10:00", "capacity": 1}],
            },
            404,
            "appointment.hall_not_found",
        ),
        (
            "/internal/v1/appointments/halls/H01/slots",
            {
                "business_code": "dk",
                "day": TOMORROW,
                "slots": [{"starts_at": "09:00", "ends_at": "10:00", "capacity": 1}],
            },
            422,
            "request.validation_failed",
        ),
        (
            "/internal/v1/appointments/halls/H02",
            {"name": "新网点", "business_codes": ["unknown"]},
            422,
            "request.validation_failed",
        ),
    ],
)
def test_internal_settings_refused_when_bad(make, client, clock, path, payload, status, error_code):
    _configure(make, client)
    r = make.signed(client, "PUT", path, payload)
    assert r.status_code == status, r.json
    assert r.json["error_code"] == error_code and r.json["message"]


def test_internal_settings_refused_when_unsigned(client):
    r = client.put("/internal/v1/appointments/businesses/tq", json={"name": "x"})
    assert r.status_code == 401


# --- reminders --------------------------------------------------------------------------------


def test_reminder_sent_once_the_day_before_when_command_runs(make, client, login, runtime, clock):
    tomorrow = _configure(make, client)[0]
    later = _configure(make, client, day="2026-11-28")[0]
    booked, cancelled, later_one = (make.member(password="abc12345") for _ in range(3))
    _book(client, login(booked), tomorrow["id"])
    gone = _book(client, login(cancelled), tomorrow["id"]).json
    client.post(f"/api/v1/appointments/{gone['id']}/cancel", headers=login(cancelled))
    _book(client, login(later_one), later["id"])

    def remind():
        return CliRunner().invoke(cli, ["appointments", "remind"], obj=Context(runtime=runtime))

    first, second = remind(), remind()

    assert first.exit_code == 0, first.output
    assert "reminded 1 bookings" in first.output and "reminded 0 bookings" in second.output
    make.session.expire_all()
    [message] = make.session.scalars(select(Message)).all()
    assert message.member_id == booked.id and message.business_name == "网点预约提醒"
    assert "11月27日 09:00-10:00" in message.content and "市民中心服务大厅" in message.content
    clock.set(dt.datetime(2026, 11, 27, 2, 0, tzinfo=dt.UTC))  # the next day: the 28th's turn
    assert "reminded 1 bookings" in remind().output
