"""Steps a member takes in the H5 page, shared by the e2e tests."""

from __future__ import annotations

from typing import Any

from tests.e2e.conftest import ARTIFACTS, CAPTCHA, DemoMember

Page = Any  # playwright.sync_api.Page, imported lazily so collection works without a browser


def shot(page: Page, name: str) -> None:
    """Screenshot under test-artifacts/e2e/ once the uni-app page transition has settled."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.wait_for_timeout(400)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), animations="disabled", full_page=True)


def type_into(page: Page, testid: str, value: str) -> None:
    # uni-app's <input> renders as <uni-input> around a native input
    page.locator(f"[data-testid={testid}] input").fill(value)


def log_in(page: Page, base_url: str, member: DemoMember) -> None:
    page.goto(f"{base_url}/")
    page.locator("[data-testid=captcha-image]").wait_for()
    type_into(page, "username", member.id_number)
    type_into(page, "password", member.password)
    type_into(page, "captcha-input", CAPTCHA)
    page.locator("[data-testid=login-submit]").click()
    page.locator("[data-testid=member-name]").get_by_text(member.name).wait_for()


def toast(page: Page, text: str) -> None:
    page.locator(".uni-toast, .uni-sample-toast").get_by_text(text).wait_for()
