"""The services of issue 16 in the H5 build, against the real backend and the demo data:
租房按月提取 (see the arrangement and the month's transfer, stop it, sign up again) and 异地转移接续
(see a transfer's nodes and the money that arrived, apply for another)."""

from __future__ import annotations

import re

import pytest

from devtools.seed.profiles import SHOWCASE
from tests.e2e.conftest import Backend, DemoMember
from tests.e2e.h5 import log_in, shot, toast, type_into

pytestmark = pytest.mark.e2e


def showcase_member(backend: Backend, **profile: str) -> DemoMember:
    """The showcase member whose profile has ``profile``: the CSV lists registered members in the
    seed's order, and the showcase profiles come first."""
    registered = [p for p in SHOWCASE if p.registered]
    index = next(
        i for i, p in enumerate(registered) if all(getattr(p, k) == v for k, v in profile.items())
    )
    return backend.members[index]


def test_member_stops_the_monthly_rent_withdrawal_and_signs_up_again(
    backend: Backend, page
) -> None:
    member = showcase_member(backend, rent_plan="active")
    log_in(page, backend.base_url, member)
    page.locator("[data-testid=go-withdraw]").click()
    page.locator("[data-testid=go-rent]").click()

    card = page.locator("[data-testid=rent-arrangement]").first
    card.locator("[data-testid=rent-status]", has_text="委托中").wait_for()
    transfers = card.locator("[data-testid=rent-transfer]")
    transfers.first.wait_for()
    assert transfers.count() == 1
    assert re.search(r"\d{4}-\d{2}\s+\d{4}-\d{2}-\d{2}\s+\d+\.\d{2}", transfers.first.inner_text())
    assert page.locator("[data-testid=rent-submit]").count() == 0  # one arrangement at a time
    shot(page, "rent-active")

    card.locator("[data-testid=rent-stop]").click()
    with page.expect_response(re.compile(r"/rent-arrangements/[A-Z0-9]+/stop$")) as stopped:
        page.locator(".uni-modal__btn_primary").click()
    assert stopped.value.ok
    toast(page, "已终止")
    page.locator("[data-testid=rent-status]", has_text="已终止").wait_for()
    limit = page.locator("[data-testid=rent-limit]").inner_text()
    assert re.fullmatch(r"\d+\.\d{2} 元", limit)
    shot(page, "rent-stopped")

    type_into(page, "rent-amount", "500.00")
    type_into(page, "rent-bank-name", "中国建设银行")
    type_into(page, "rent-bank", "6222020200112233445")
    sent_from = backend.outbox_size()
    with page.expect_response(re.compile(r"/api/v1/sms-codes/transaction$")) as answer:
        page.locator("[data-testid=sms-send]").click()
    assert answer.value.status == 202
    type_into(page, "sms-input", backend.sms_code(member.phone, "transaction", after=sent_from))
    with page.expect_request(re.compile(r"/api/v1/withdrawals/rent-arrangements$")) as sent:
        page.locator("[data-testid=rent-submit]").click()
    assert re.fullmatch(r"[0-9a-f-]{36}", sent.value.headers["idempotency-key"])
    newest = page.locator("[data-testid=rent-arrangement]").first
    newest.locator("[data-testid=rent-status]", has_text="委托中").wait_for()
    newest.get_by_text("500.00 元").wait_for()
    assert page.locator("[data-testid=rent-arrangement]").count() == 2
    shot(page, "rent-signed-up")


def test_member_sees_a_transfers_nodes_and_applies_for_a_transfer_in(
    backend: Backend, page
) -> None:
    member = showcase_member(backend, transfer="arrived")
    log_in(page, backend.base_url, member)
    page.locator("[data-testid=go-fund]").click()
    page.locator("[data-testid=go-transfer]").click()

    arrived = page.locator("[data-testid=transfer]").first
    arrived.locator("[data-testid=transfer-status]", has_text="已办结").wait_for()
    assert re.fullmatch(
        r"[\d,]+\.\d{2} 元", arrived.locator("[data-testid=transfer-amount]").inner_text()
    )
    names = arrived.locator(".pnode__name").all_inner_texts()
    assert names == ["申请", "转出地审核", "资金划转", "转入确认"]
    shot(page, "transfer-arrived")

    page.locator("[data-testid=direction-in]").click()
    type_into(page, "transfer-centre", "杭州市住房公积金管理中心")
    type_into(page, "transfer-account", "330100778899")
    sent_from = backend.outbox_size()
    with page.expect_response(re.compile(r"/api/v1/sms-codes/transaction$")) as answer:
        page.locator("[data-testid=sms-send]").click()
    assert answer.value.status == 202
    type_into(page, "sms-input", backend.sms_code(member.phone, "transaction", after=sent_from))
    with page.expect_request(re.compile(r"/api/v1/transfers$")) as sent:
        page.locator("[data-testid=transfer-submit]").click()
    assert re.fullmatch(r"[0-9a-f-]{36}", sent.value.headers["idempotency-key"])
    newest = page.locator("[data-testid=transfer]").first
    newest.locator("[data-testid=transfer-status]", has_text="办理中").wait_for()
    newest.get_by_text("杭州市住房公积金管理中心").wait_for()
    states = newest.locator(".pnode__state").all_inner_texts()
    assert states[:2] == ["已完成", "办理中"]
    assert page.locator("[data-testid=transfer-submit]").count() == 0  # one open transfer
    shot(page, "transfer-applied")
