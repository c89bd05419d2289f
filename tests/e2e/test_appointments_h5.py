"""Appointments (网点预约) in the H5 build against the real backend and the demo data."""

from __future__ import annotations

import re

import pytest

from tests.e2e.conftest import Backend
from tests.e2e.h5 import log_in, shot, toast

pytestmark = pytest.mark.e2e


def test_member_books_and_cancels_an_appointment(backend: Backend, page) -> None:
    # The first showcase member: booked tomorrow, one cancelled and one expired booking.
    log_in(page, backend.base_url, backend.member(has_loan=True))
    page.locator("[data-testid=go-appointments]").click()
    rows = page.locator("[data-testid=appointment-list] .apt-row")
    rows.first.wait_for()
    assert {rows.nth(i).get_attribute("data-state") for i in range(rows.count())} >= {
        "booked",
        "cancelled",
        "expired",
    }
    shot(page, "appointments-list")

    page.locator("[data-testid=new-appointment]").click()
    page.locator("[data-testid=hall-option]", has_text="市民中心服务大厅").click()
    page.locator("[data-testid=business-option]", has_text="公积金提取").click()
    # Tomorrow's 14:00 slot is full in the demo data: shown, not bookable.
    page.locator("[data-testid=day-option]").nth(1).click()
    full = page.locator("[data-testid=slot-option]", has_text="14:00-15:00")
    full.wait_for()
    assert full.get_attribute("data-bookable") == "no" and "已约满" in full.inner_text()
    shot(page, "appointment-full-slot")

    page.locator("[data-testid=day-option]").nth(3).click()
    page.locator("[data-testid=slot-option][data-bookable=yes]", has_text="10:00-11:00").click()
    with page.expect_response(re.compile(r"/api/v1/appointments$")) as answer:
        page.locator("[data-testid=submit-appointment]").click()
    assert answer.value.status == 201
    booking_id = answer.value.json()["id"]
    row = page.locator(f"[data-testid=appointment-{booking_id}]")
    row.wait_for()
    assert row.get_attribute("data-state") == "booked" and "10:00-11:00" in row.inner_text()
    shot(page, "appointment-booked")

    row.locator("[data-testid=cancel-appointment]").click()
    with page.expect_response(re.compile(rf"/api/v1/appointments/{booking_id}/cancel$")) as done:
        page.locator(".uni-modal__btn_primary").click()
    assert done.value.ok
    toast(page, "预约已取消")
    page.locator(f"[data-testid=appointment-{booking_id}][data-state=cancelled]").wait_for()
