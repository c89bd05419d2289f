"""Every page of the H5 build at phone width (390 px) against the real backend and the demo data:
nothing may stick out of its box horizontally, and no number, date or short label may be broken
across lines (a table cell splitting ``2024-02-15``, a 查询 button one character per line)."""

from __future__ import annotations

import json
import re
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest

from tests.e2e.conftest import PROJECT_ROOT, Backend
from tests.e2e.h5 import log_in, shot, type_into

pytestmark = pytest.mark.e2e

PHONE = {"width": 390, "height": 844}
PAGES_JSON = PROJECT_ROOT / "miniapp" / "src" / "pages.json"
# Reachable without a session; the others are rendered logged in as a member with a loan.
PUBLIC = {"pages/login/index", "pages/register/index", "pages/register/terms", "pages/forgot/index"}

# Runs in the page. A box may be wider than its parent only inside a horizontal scroller
# (overflow-x auto/scroll, e.g. the wide repayment tables); text inputs scroll their own value.
# A "token" is a text node without white space of at most 12 characters (an amount, a date, a
# contract number, a button label): it must sit on one line.
FIND_OVERFLOW = r"""
() => {
  const vw = document.documentElement.clientWidth
  const problems = []
  const name = (el) => {
    const id = el.getAttribute('data-testid')
    const cls = (el.getAttribute('class') || '').trim().split(/\s+/).filter(Boolean).slice(0, 2).join('.')
    const txt = (el.textContent || '').trim().slice(0, 24)
    return `<${el.tagName.toLowerCase()}${id ? ' ' + id : ''}${cls ? ' .' + cls : ''}> "${txt}"`
  }
  const scrollsX = (el) => ['auto', 'scroll'].includes(getComputedStyle(el).overflowX)
  const inScroller = (el) => {
    for (let a = el.parentElement; a && a !== document.body; a = a.parentElement) {
      if (scrollsX(a)) return true
    }
    return false
  }
  const shown = (el) => {
    const cs = getComputedStyle(el)
    if (cs.display === 'none' || cs.visibility === 'hidden') return false
    const r = el.getBoundingClientRect()
    return r.width > 0 && r.height > 0
  }
  if (document.documentElement.scrollWidth > vw + 1) {
    problems.push(`the page is ${document.documentElement.scrollWidth}px wide at ${vw}px`)
  }
  for (const el of document.querySelectorAll('body *')) {
    if (!shown(el) || inScroller(el)) continue
    const r = el.getBoundingClientRect()
    if (r.right > vw + 1 || r.left < -1) {
      problems.push(`${name(el)} spans ${Math.round(r.left)}..${Math.round(r.right)}px`)
    }
    const cs = getComputedStyle(el)
    // a one-line summary cut with an ellipsis on purpose (the message list) is not an overflow
    if (['INPUT', 'TEXTAREA', 'svg'].includes(el.tagName) || scrollsX(el) || cs.textOverflow === 'ellipsis') continue
    if (el.clientWidth > 0 && el.scrollWidth > el.clientWidth + 1) {
      problems.push(`${name(el)} holds ${el.scrollWidth}px in ${el.clientWidth}px`)
    }
  }
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT)
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    const token = node.textContent.trim()
    if (!token || token.length > 12 || /\s/.test(token) || !shown(node.parentElement)) continue
    const range = document.createRange()
    range.selectNodeContents(node)
    const tops = new Set(Array.from(range.getClientRects()).filter((q) => q.width > 0).map((q) => Math.round(q.top)))
    if (tops.size > 1) problems.push(`${name(node.parentElement)} breaks "${token}" over ${tops.size} lines`)
  }
  // enough to see what is wrong; a long table would repeat one fault a hundred times
  return problems.slice(0, 12)
}
"""


def _pages() -> list[str]:
    return [p["path"] for p in json.loads(PAGES_JSON.read_text(encoding="utf-8"))["pages"]]


def _api_get(backend: Backend, token: str, path: str) -> Any:
    req = urllib.request.Request(
        f"{backend.base_url}/api/v1{path}", headers={"Authorization": f"Bearer {token}"}
    )
    with urllib.request.urlopen(req, timeout=10) as r:
        return json.loads(r.read())


def _access_token(page: Any) -> str:
    raw = page.evaluate("() => localStorage.getItem('gjj.tokens')")
    # uni's H5 storage wraps values as {type, data}
    stored = json.loads(raw)
    return str((stored.get("data") or stored)["access_token"])


def _query_for(path: str, backend: Backend, token: str) -> str:
    """The query a detail page is opened with: the first to-do / application of the member."""
    if path == "pages/todos/detail":
        items = _api_get(backend, token, "/todos?limit=1")["items"]
        return f"?id={items[0]['id']}" if items else ""
    if path == "pages/applications/detail":
        items = _api_get(backend, token, "/applications?limit=1")["items"]
        return f"?id={items[0]['id']}" if items else ""
    return ""


@pytest.fixture()
def phone(browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport=PHONE, locale="zh-CN", timezone_id="Asia/Shanghai")
    context.set_default_timeout(15000)
    try:
        yield context.new_page()
    finally:
        context.close()


def _calculate(page: Any) -> None:
    """The calculator shows its table only after a calculation."""
    type_into(page, "calc-principal", "1000000")
    type_into(page, "calc-months", "360")
    type_into(page, "calc-rate", "3.1")
    page.locator("[data-testid=calc-submit]").click()
    page.locator("[data-testid=schedule-row]").first.wait_for()


def _render(page: Any, url: str, path: str) -> list[str]:
    page.goto("about:blank")
    page.goto(url)
    page.locator("uni-page-body").first.wait_for()
    page.wait_for_load_state("networkidle")
    if path == "pages/loans/calculator":
        _calculate(page)
    # uni's page transition and the toasts of the first answers
    page.wait_for_timeout(300)
    return list(page.evaluate(FIND_OVERFLOW))


def test_no_page_overflows_its_box_at_phone_width(backend: Backend, phone: Any) -> None:
    found: dict[str, list[str]] = {}
    for path in sorted(PUBLIC):
        found[path] = _render(phone, f"{backend.base_url}/#/{path}", path)

    log_in(phone, backend.base_url, backend.member(has_loan=True))
    token = _access_token(phone)
    for path in _pages():
        if path in PUBLIC:
            continue
        query = _query_for(path, backend, token)
        found[path] = _render(phone, f"{backend.base_url}/#/{path}{query}", path)
        shot(phone, "phone-" + re.sub(r"\W+", "-", path))

    bad = {path: problems for path, problems in found.items() if problems}
    assert not bad, json.dumps(bad, ensure_ascii=False, indent=1)
    assert set(found) == set(_pages())
