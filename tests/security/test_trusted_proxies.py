"""X-Forwarded-For is believed only as far as ``GJJ_TRUSTED_PROXIES`` says (issue 14): by default a
client reaching gunicorn directly cannot invent its own address to escape a per-IP limit."""

from __future__ import annotations

import pytest

from backend.app import create_app
from backend.identity.common import CAPTCHAS_PER_IP_MINUTE
from backend.settings import Settings


def _exhaust_captcha_limit(client, forwarded_for):
    for _ in range(CAPTCHAS_PER_IP_MINUTE):
        assert (
            client.post("/api/v1/captchas", headers={"X-Forwarded-For": forwarded_for}).status_code
            == 201
        )
    refused = client.post("/api/v1/captchas", headers={"X-Forwarded-For": forwarded_for})
    assert refused.status_code == 429


def test_invented_forwarded_for_stays_limited_when_no_proxy_is_trusted(runtime, clock):
    assert runtime.settings.trusted_proxies == 0
    client = create_app(runtime=runtime).test_client()
    _exhaust_captcha_limit(client, "203.0.113.7")
    for invented in ("198.51.100.1", "198.51.100.2", "10.0.0.1, 198.51.100.3"):
        answer = client.post("/api/v1/captchas", headers={"X-Forwarded-For": invented})
        assert answer.status_code == 429, invented


def test_proxy_set_address_counts_when_one_proxy_is_trusted(make_runtime, runtime, clock):
    runtime = make_runtime(settings=runtime.settings.with_(trusted_proxies=1))
    client = create_app(runtime=runtime).test_client()
    _exhaust_captcha_limit(client, "203.0.113.7")
    # The proxy appends the peer it saw: whatever the client wrote before it is not believed.
    assert (
        client.post(
            "/api/v1/captchas", headers={"X-Forwarded-For": "1.2.3.4, 203.0.113.7"}
        ).status_code
        == 429
    )
    assert (
        client.post("/api/v1/captchas", headers={"X-Forwarded-For": "203.0.113.8"}).status_code
        == 201
    )


@pytest.mark.parametrize(
    ("env", "hops"),
    [({}, 0), ({"GJJ_TRUSTED_PROXIES": "2"}, 2), ({"GJJ_PROXY_HOPS": "1"}, 1)],
)
def test_trusted_proxies_read_from_env_when_set(env, hops):
    assert Settings.from_env(env).trusted_proxies == hops
