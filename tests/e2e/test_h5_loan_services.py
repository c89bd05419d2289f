"""The loan services of issue 16 in the H5 build against the real backend and the demo data:
the settlement certificate (贷款结清证明) and an online prepayment (提前还款申请) the core system
then books, after which the plan shows the shorter term."""

from __future__ import annotations

import datetime as dt
import json
import re
import urllib.error
import urllib.request
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from backend.integration import signing
from backend.loans import prepayment_rules
from tests.e2e.conftest import CAPTCHA, CORE_KEY, Backend, DemoMember
from tests.e2e.h5 import log_in, shot, toast, type_into

pytestmark = pytest.mark.e2e


def _call(
    backend: Backend,
    method: str,
    path: str,
    body: Any = None,
    headers: dict[str, str] | None = None,
) -> tuple[int, Any]:
    raw = signing.encode_body(body) if body is not None else None
    request = urllib.request.Request(
        f"{backend.base_url}{path}", data=raw, method=method, headers=headers or {}
    )
    if raw is not None:
        request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:
            return answer.status, json.loads(answer.read() or b"null")
    except urllib.error.HTTPError as refused:
        return refused.code, json.loads(refused.read() or b"null")


def _token(backend: Backend, member: DemoMember) -> dict[str, str]:
    _, captcha = _call(backend, "POST", "/api/v1/captchas", {})
    status, session = _call(
        backend,
        "POST",
        "/api/v1/sessions",
        {
            "username": member.id_number,
            "password": member.password,
            "captcha_id": captcha["captcha_id"],
            "captcha_code": CAPTCHA,
        },
    )
    assert status == 201, session
    return {"Authorization": f"Bearer {session['access_token']}"}


def _core(backend: Backend, method: str, path: str, body: Any = None) -> tuple[int, Any]:
    raw = signing.encode_body(body) if body is not None else b""
    headers = signing.signed_headers(
        *CORE_KEY, method, path, body=raw, timestamp=int(dt.datetime.now(dt.UTC).timestamp())
    )
    return _call(backend, method, path, body, headers)


def _member_with(backend: Backend, wanted: Any) -> tuple[DemoMember, dict[str, Any]]:
    """The first demo member with a loan contract ``wanted(contract)`` accepts."""
    for member in backend.members:
        if not member.has_loan:
            continue
        _, page = _call(backend, "GET", "/api/v1/loans", headers=_token(backend, member))
        for contract in page["items"]:
            if wanted(contract):
                return member, contract
    pytest.fail("the demo data has no member with such a loan")


def test_member_prints_a_verifiable_settlement_certificate_when_the_loan_is_settled(
    backend: Backend, page
) -> None:
    member, contract = _member_with(backend, lambda c: c["status"] == "settled")
    log_in(page, backend.base_url, member)
    page.locator("[data-testid=go-loan-info]").click()
    page.locator("[data-testid=go-settlement]").click()
    page.locator("[data-testid=settlement-status]").get_by_text("已结清").wait_for()
    with page.expect_response(re.compile(r"/settlement-certificates$")) as answer:
        page.locator("[data-testid=issue-settlement-certificate]").click()
    assert answer.value.status == 201
    serial = page.locator("[data-testid=settlement-certificate-serial]").inner_text()
    code = page.locator("[data-testid=settlement-certificate-code]").inner_text()
    assert serial.startswith("JQ")
    shot(page, "settlement-certificate-issued")

    status, checked = _call(backend, "GET", f"/api/v1/public/certificates/{serial}?code={code}")
    assert status == 200 and checked["status"] == "valid"
    assert (
        checked["kind"] == "loan_settlement" and checked["contract_no"] == contract["contract_no"]
    )
    page.goto(f"{backend.base_url}/verify/certificates/{serial}?code={code}")
    page.get_by_text("贷款结清证明核验").wait_for()
    page.get_by_text(contract["contract_no"]).wait_for()
    shot(page, "settlement-certificate-verified")


def test_member_is_told_why_when_the_loan_is_not_settled(backend: Backend, page) -> None:
    member, contract = _member_with(backend, lambda c: c["status"] == "repaying")
    log_in(page, backend.base_url, member)
    page.goto(f"{backend.base_url}/#/pages/loans/settlement?contract_no={contract['contract_no']}")
    page.locator("[data-testid=settlement-hint]").wait_for()
    with page.expect_response(re.compile(r"/settlement-certificates$")) as answer:
        page.locator("[data-testid=issue-settlement-certificate]").click()
    assert answer.value.status == 409
    toast(page, "尚未结清")


def _bookable_day(info: dict[str, Any], today: dt.date) -> dt.date | None:
    next_due = dt.date.fromisoformat(info["next_due"]["due_date"])
    for ahead in range(1, 32):
        day = today + dt.timedelta(days=ahead)
        refusal = prepayment_rules.booking_refusal(
            day,
            today=today,
            next_due=next_due,
            repayment_day=next_due.day,
            paid_periods=info["paid_periods"],
            window_days=2,
        )
        if refusal is None:
            return day
    return None


def test_member_books_a_prepayment_the_core_system_confirms_and_the_plan_shortens(
    backend: Backend, page
) -> None:
    # The demo member whose prepayment waits for the centre: the core system refuses that one
    # first (one pending per contract), then the member books a new one in the H5 page.
    status, pending = _core(backend, "GET", "/internal/v1/loan-prepayments")
    assert status == 200 and pending["items"], "the demo data has a pending prepayment"
    waiting = pending["items"][0]
    contract_no = waiting["contract_no"]
    member, _ = _member_with(backend, lambda c: c["contract_no"] == contract_no)
    events = f"/internal/v1/loans/{contract_no}/prepayments/{waiting['prepayment_no']}/events"
    refusal = {"type": "refused", "event_id": "e2e-refuse-1", "reason": "E2E 中心不予办理"}
    assert _core(backend, "POST", events, refusal)[0] == 201
    assert _core(backend, "POST", events, refusal)[0] == 200  # the same request replays

    headers = _token(backend, member)
    _, info = _call(backend, "GET", f"/api/v1/loans/{contract_no}", headers=headers)
    today = dt.datetime.now(ZoneInfo("Asia/Shanghai")).date()
    day = _bookable_day(info, today)

    log_in(page, backend.base_url, member)
    page.locator("[data-testid=go-loan-info]").click()
    page.locator("[data-testid=contract-picker]").wait_for()
    page.goto(f"{backend.base_url}/#/pages/loans/prepayment?contract_no={contract_no}")
    page.locator("[data-testid=prepayment-row]").first.wait_for()  # the refused one is listed
    page.get_by_text("E2E 中心不予办理").wait_for()
    type_into(page, "prepay-amount", "10000.00")
    page.locator("[data-testid=prepay-date]").fill((day or today).isoformat())
    sent_from = backend.outbox_size()
    with page.expect_response(re.compile(r"/api/v1/sms-codes/transaction$")) as sms:
        page.locator("[data-testid=sms-send]").click()
    assert sms.value.status == 202
    type_into(page, "sms-input", backend.sms_code(member.phone, "transaction", after=sent_from))
    with page.expect_response(re.compile(r"/prepayments$")) as answer:
        page.locator("[data-testid=prepay-submit]").click()
    if day is None:  # today leaves no bookable day before the next deduction
        assert answer.value.status == 422
        return
    assert answer.value.status == 201, answer.value.json()
    assert re.fullmatch(r"[0-9a-f-]{36}", answer.value.request.headers["idempotency-key"])
    booked = answer.value.json()
    page.locator("[data-testid=prepayment-status]").get_by_text("待中心确认").wait_for()
    shot(page, "prepayment-booked")

    decision = {
        "type": "booked",
        "event_id": "e2e-book-1",
        "principal": "10000.00",
        "interest": booked["quote"]["accrued_interest"],
    }
    events = f"/internal/v1/loans/{contract_no}/prepayments/{booked['prepayment_no']}/events"
    status, applied = _core(backend, "POST", events, decision)
    assert status == 201, applied
    term = applied["term_months"]
    assert term == info["paid_periods"] + booked["quote"]["new_months"] < info["term_months"]

    with page.expect_response(re.compile(rf"/loans/{contract_no}/schedule$")) as plan:
        page.goto(f"{backend.base_url}/#/pages/loans/schedule")
        page.reload()
    schedule = plan.value.json()["schedule"]
    assert len(schedule) == term
    assert schedule[-1]["due_date"] == booked["quote"]["new_end_date"]
    page.locator(".schedule__summary").get_by_text(str(term), exact=True).wait_for()
    shot(page, "prepayment-plan-shortened")
