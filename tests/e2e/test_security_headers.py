"""The strict Content-Security-Policy lets the pages run (issue 11): Swagger UI at /docs renders its
operations and the H5 login page renders, in Chromium, with no policy violation reported."""

from __future__ import annotations

import pytest

from tests.e2e.conftest import Backend

pytestmark = pytest.mark.e2e


def _violations(page) -> list[str]:
    seen: list[str] = []
    page.on(
        "console",
        lambda m: seen.append(m.text) if "Content Security Policy" in m.text else None,
    )
    page.on("pageerror", lambda e: seen.append(str(e)))
    return seen


def test_swagger_ui_renders_under_its_policy_when_docs_open(backend: Backend, page) -> None:
    violations = _violations(page)
    answer = page.goto(f"{backend.base_url}/docs")
    assert (
        answer is not None and "frame-ancestors 'none'" in answer.headers["content-security-policy"]
    )
    page.locator(".opblock").first.wait_for()
    assert page.locator(".opblock").count() > 10
    assert violations == []


def test_h5_login_page_renders_under_its_policy_when_opened(backend: Backend, page) -> None:
    violations = _violations(page)
    answer = page.goto(f"{backend.base_url}/")
    assert (
        answer is not None
        and "script-src 'self' 'sha256-" in answer.headers["content-security-policy"]
    )
    page.locator("[data-testid=captcha-image]").wait_for()
    page.locator("[data-testid=username] input").wait_for()
    assert violations == []
