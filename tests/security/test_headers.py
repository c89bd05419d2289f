"""Security headers on every response (issue 11): a strict Content-Security-Policy (Swagger UI from
the installed package, inline scripts only by hash), no framing, no sniffing, on API answers and
pages alike; the H5 pages are still served with a policy that lets them run."""

from __future__ import annotations

import base64
import hashlib
import re

import pytest

import backend.app

INLINE = re.compile(r"<script(?![^>]*\bsrc=)[^>]*>(.*?)</script>", re.S)


def _hash(script: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(script.encode()).digest()).decode() + "'"


def _directives(answer) -> dict[str, str]:
    policy = answer.headers["Content-Security-Policy"]
    return {d.split(" ", 1)[0]: d.partition(" ")[2] for d in (p.strip() for p in policy.split(";"))}


def _assert_common(answer) -> None:
    assert answer.headers["X-Frame-Options"] == "DENY"
    assert answer.headers["X-Content-Type-Options"] == "nosniff"
    assert answer.headers["Referrer-Policy"] == "no-referrer"
    assert _directives(answer)["frame-ancestors"] == "'none'"


def test_docs_page_has_strict_policy_when_served(client):
    page = client.get("/docs")
    assert page.status_code == 200
    _assert_common(page)
    csp = _directives(page)
    assert csp["default-src"] == "'self'"
    assert csp["object-src"] == "blob:" and csp["base-uri"] == "'none'"
    html = page.get_data(as_text=True)
    scripts = INLINE.findall(html)
    assert scripts, "Swagger UI starts from an inline script"
    assert csp["script-src"].split() == ["'self'", *(_hash(s) for s in scripts)]
    assert "unsafe-inline" not in csp["script-src"] and "unsafe-eval" not in csp["script-src"]
    assert "http" not in page.headers["Content-Security-Policy"]  # no CDN anywhere
    for src in re.findall(r'(?:src|href)="([^"]+)"', html):
        assert src.startswith("/docs-assets/"), src
        assert client.get(src).status_code == 200


@pytest.mark.parametrize("path", ["/healthz", "/openapi.json", "/api/v1/nowhere", "/api/v1/me"])
def test_api_answers_carry_a_deny_everything_policy_when_they_are_data(client, path):
    answer = client.get(path)
    _assert_common(answer)
    assert _directives(answer)["default-src"] == "'none'"


def test_h5_page_is_served_with_its_inline_script_allowed_when_built(
    make_runtime, runtime, tmp_path
):
    source = (backend.app.PROJECT_ROOT / "miniapp" / "index.html").read_text(encoding="utf-8")
    built = source.replace('src="/src/main.ts"', 'src="/assets/index.js"')
    (tmp_path / "assets").mkdir()
    (tmp_path / "index.html").write_text(built, encoding="utf-8")
    (tmp_path / "assets" / "index.js").write_text("console.log('h5')", encoding="utf-8")
    runtime = make_runtime(settings=runtime.settings.with_(h5_dir=str(tmp_path)))
    client = backend.app.create_app(runtime=runtime).test_client()

    for path in ("/", "/pages/login/index"):
        page = client.get(path)
        assert page.status_code == 200 and page.mimetype == "text/html"
        _assert_common(page)
        csp = _directives(page)
        (script,) = INLINE.findall(page.get_data(as_text=True))
        assert csp["script-src"].split() == ["'self'", _hash(script)]
        assert csp["connect-src"] == "'self' blob:"
    asset = client.get("/assets/index.js")
    assert asset.status_code == 200
    _assert_common(asset)
