"""The H5 build of the mini-program against the real backend, in Chromium."""

from __future__ import annotations

import datetime as dt
import json
import re
import urllib.request

import pytest

from tests.e2e.conftest import Backend
from tests.e2e.h5 import log_in, shot, toast, type_into

pytestmark = pytest.mark.e2e

YELLOW = "rgb(245, 184, 0)"
GREEN = "rgb(25, 161, 95)"
# Reasons that take part of the balance, with the name the page shows (withdrawals/rules.py).
PARTIAL_REASONS = {"rent": "租房", "purchase": "购房", "loan_repayment": "偿还贷款"}


def test_member_marks_a_message_read_when_logged_in(backend: Backend, page) -> None:
    log_in(page, backend.base_url, backend.member())
    # GET /me's account.status_name, not the status code
    status = page.locator("[data-testid=my-fund]").inner_text()
    assert re.search(r"账户状态：(正常|封存|冻结|销户)", status), status
    shot(page, "home")
    badge = page.locator("[data-testid=unread-badge]")
    badge.wait_for()
    unread_before = int(badge.inner_text())

    page.locator("[data-testid=task-messages]").click()
    first = page.locator(".msg-item").first
    first.wait_for()
    title = first.locator(".msg-item__title").inner_text()
    shot(page, "messages-unread")
    with page.expect_response(re.compile(r"/api/v1/messages/\d+/read$")) as answer:
        first.locator(".msg-item__read").click()
    assert answer.value.ok
    toast(page, "已标记为已阅")
    shot(page, "messages-marked-read")

    page.locator("[data-testid=tab-read]").click()
    page.locator(".msg-item__title", has_text=title).first.wait_for()
    page.go_back()
    page.locator("[data-testid=task-messages]").wait_for()
    if unread_before > 1:
        page.locator("[data-testid=unread-badge]", has_text=str(unread_before - 1)).wait_for()
    else:
        assert page.locator("[data-testid=unread-badge]").count() == 0


def test_member_sees_records_in_a_date_range_when_querying_the_fund_page(
    backend: Backend, page
) -> None:
    log_in(page, backend.base_url, backend.member())
    page.locator("[data-testid=go-fund]").click()
    page.locator("[data-testid=fund-account] .kv").first.wait_for()

    # the centre answers at most five years per query (fund.range_too_long beyond)
    today = dt.date.today()
    start, end = today.replace(year=today.year - 3, day=1).isoformat(), today.isoformat()
    page.locator("[data-testid=range-start]").fill(start)
    page.locator("[data-testid=range-end]").fill(end)
    with page.expect_response(re.compile(r"/api/v1/fund/transactions\?")) as answer:
        page.locator("[data-testid=range-query]").click()
    assert f"start={start}" in answer.value.url and f"end={end}" in answer.value.url
    body = answer.value.json()
    assert body["items"], "the demo member has deposit records"
    rows = page.locator("[data-testid=transaction-row]")
    rows.first.wait_for()
    assert rows.count() == len(body["items"])
    dates = [rows.nth(i).locator(".table__cell").first.inner_text() for i in range(rows.count())]
    assert all(start <= d <= end for d in dates)
    shot(page, "fund-records")

    # a range before any deposit lists nothing
    page.locator("[data-testid=range-start]").fill("1990-01-01")
    page.locator("[data-testid=range-end]").fill("1990-12-31")
    with page.expect_response(re.compile(r"/api/v1/fund/transactions\?")):
        page.locator("[data-testid=range-query]").click()
    page.get_by_text("该时间范围内没有缴存支取记录").wait_for()


def test_member_gets_a_verifiable_certificate_when_printing_one(backend: Backend, page) -> None:
    log_in(page, backend.base_url, backend.member())
    page.locator("[data-testid=go-fund]").click()
    with page.expect_response(re.compile(r"/api/v1/fund/certificates$")) as answer:
        page.locator("[data-testid=issue-certificate]").click()
    assert answer.value.status == 201
    serial = page.locator("[data-testid=certificate-serial]").inner_text()
    code = page.locator("[data-testid=certificate-code]").inner_text()
    assert serial == answer.value.json()["serial_no"]
    shot(page, "certificate-issued")

    with page.context.expect_page() as opened:
        page.locator("[data-testid=open-certificate]").click()
    pdf_tab = opened.value
    pdf_tab.wait_for_url(re.compile(r"^blob:"))
    head = pdf_tab.evaluate(
        "async () => { const r = await fetch(location.href); const b = new Uint8Array(await r.arrayBuffer());"
        " return String.fromCharCode(...b.slice(0, 5)); }"
    )
    assert head == "%PDF-"

    url = f"{backend.base_url}/api/v1/public/certificates/{serial}?code={code}"
    with urllib.request.urlopen(url, timeout=10) as r:
        assert r.status == 200
        assert json.loads(r.read())["serial_no"] == serial


def test_member_sees_loan_progress_and_plan_when_having_a_loan(backend: Backend, page) -> None:
    log_in(page, backend.base_url, backend.member(has_loan=True))
    page.locator("[data-testid=go-loan-progress]").click()
    nodes = page.locator(".pnode")
    nodes.first.wait_for()
    colours = {
        state: [
            page.locator(f".pnode--{state} .pnode__dot")
            .nth(i)
            .evaluate("e => getComputedStyle(e).backgroundColor")
            for i in range(page.locator(f".pnode--{state}").count())
        ]
        for state in ("done", "current")
    }
    assert colours["done"], "a disbursed loan has done nodes"
    assert set(colours["done"]) == {YELLOW}
    assert set(colours["current"]) <= {GREEN}
    shot(page, "loan-progress")

    page.go_back()
    page.locator("[data-testid=go-loan-schedule]").click()
    rows = page.locator("[data-testid=schedule-row]")
    rows.first.wait_for()
    assert rows.count() > 1
    first = rows.first.locator(".table__cell")
    assert first.nth(0).inner_text() == "1"
    assert re.fullmatch(r"\d{1,3}(,\d{3})*\.\d{2}", first.nth(2).inner_text())
    shot(page, "loan-schedule")


def test_member_submits_a_withdrawal_when_the_sms_code_is_right(backend: Backend, page) -> None:
    member = backend.member()
    log_in(page, backend.base_url, member)
    page.locator("[data-testid=go-withdraw]").click()

    page.locator("[data-testid^=reason-]").first.wait_for()
    # The reasons and what each allows come from GET /withdrawals/eligibility. A working member
    # with a normal account can take part of the balance for rent (once a month) or, with a
    # document number, for a purchase or a loan; the first one open today is used.
    for reason, name in PARTIAL_REASONS.items():
        choice = page.locator(f"[data-testid=reason-{reason}]")
        if "不可办理" not in choice.inner_text():
            break
    else:
        pytest.fail("no partial withdrawal reason is open to the demo member")
    choice.click()
    page.locator("[data-testid=withdraw-submit]").wait_for()
    withdrawable = page.locator("[data-testid=withdrawable]").inner_text()
    assert re.fullmatch(r"\d{1,3}(,\d{3})*\.\d{2} 元", withdrawable)
    shot(page, "withdrawal-eligibility")

    type_into(page, "withdraw-amount", "100.00")
    type_into(page, "withdraw-bank-name", "中国建设银行")
    type_into(page, "withdraw-bank", "6222020200112233445")
    if page.locator("[data-testid=withdraw-extra]").count():
        type_into(page, "withdraw-extra", "E2E-0001")
    sent_from = backend.outbox_size()
    with page.expect_response(re.compile(r"/api/v1/sms-codes/transaction$")) as answer:
        page.locator("[data-testid=sms-send]").click()
    assert answer.value.status == 202
    type_into(page, "sms-input", backend.sms_code(member.phone, "transaction", after=sent_from))

    with page.expect_request(re.compile(r"/api/v1/withdrawals$")) as sent:
        page.locator("[data-testid=withdraw-submit]").click()
    assert re.fullmatch(r"[0-9a-f-]{36}", sent.value.headers["idempotency-key"])
    result = page.locator("[data-testid=withdrawal-result]")
    result.get_by_text("提取申请已提交").wait_for()
    result.get_by_text(name, exact=True).wait_for()
    result.get_by_text("100.00 元").wait_for()
    shot(page, "withdrawal-submitted")
