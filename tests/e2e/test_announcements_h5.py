"""Announcements (公告) in the H5 build against the real backend and the demo data."""

from __future__ import annotations

import re

import pytest

from devtools.seed import data
from tests.e2e.conftest import Backend
from tests.e2e.h5 import log_in, shot

pytestmark = pytest.mark.e2e

TITLES = {number: title for number, title, *_ in data.ANNOUNCEMENTS}


def test_member_reads_an_announcement_and_its_unread_mark_goes(backend: Backend, page) -> None:
    # The first showcase member: a loan, an account in normal status, the oldest one read.
    log_in(page, backend.base_url, backend.member(has_loan=True))
    page.locator("[data-testid=announcement-badge]", has_text="2 条未读").wait_for()

    page.locator("[data-testid=go-announcements]").click()
    rows = page.locator("[data-testid=announcement-list] .ann-row")
    rows.first.wait_for()
    listed = rows.locator(".ann-row__title").all_inner_texts()
    # Newest first; neither the scheduled one nor the withdrawn one is shown.
    assert listed == [TITLES["GG-DEMO-003"], TITLES["GG-DEMO-002"], TITLES["GG-DEMO-001"]]
    assert page.locator("[data-testid=unread-mark]").count() == 2
    shot(page, "announcements-list")

    target = rows.filter(has_text=TITLES["GG-DEMO-002"])
    with page.expect_response(re.compile(r"/api/v1/announcements/\d+/read$")) as answer:
        target.click()
    assert answer.value.ok
    page.locator("[data-testid=announcement-body]", has_text="2.85%").wait_for()
    shot(page, "announcement-detail")

    page.go_back()
    page.locator("[data-testid=announcement-list] [data-read=yes]").nth(1).wait_for()
    assert page.locator("[data-testid=unread-mark]").count() == 1
    page.go_back()
    page.locator("[data-testid=announcement-badge]", has_text="1 条未读").wait_for()
