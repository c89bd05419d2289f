"""Fixtures shared by the channel and push tests: the Alipay and WeChat loopback fakes (real HTTP,
real signatures), the app's channel clients pointed at them, and a synchronous push dispatcher.

Imported by tests/**/test_channels*.py and test_push*.py; holds no tests itself.
"""

from __future__ import annotations

import base64
import secrets
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from adapters.alipay import AlipayClient, AlipayConfig, keys
from adapters.fakes import FakeAlipayGateway, FakeWeChatApi
from adapters.wechat import WeChatConfig, WeChatMiniClient
from backend.app import create_app
from backend.channels.clients import ChannelClients
from backend.push.dispatch import SyncDispatcher
from backend.push.templates import DEFAULT_TEMPLATES
from backend.runtime import Runtime

ALIPAY_APP_ID = "2021000000000099"
WECHAT_SECRET = "wx-test-secret"


@pytest.fixture(scope="session")
def alipay_keys() -> dict[str, str]:
    return {
        "app": keys.generate_private_key_pem(2048),
        "gateway": keys.generate_private_key_pem(2048),
        "aes": base64.b64encode(secrets.token_bytes(16)).decode(),
    }


@pytest.fixture
def alipay_fake(alipay_keys: dict[str, str]) -> Iterator[FakeAlipayGateway]:
    fake = FakeAlipayGateway(gateway_private_key=alipay_keys["gateway"])
    fake.register_app(ALIPAY_APP_ID, keys.public_key_pem(alipay_keys["app"]), alipay_keys["aes"])
    with fake:
        yield fake


@pytest.fixture
def wechat_appid() -> str:
    # One appid per test: the access token is cached in Redis under the appid, and every test's
    # fake issues its own tokens.
    return "wxt" + uuid.uuid4().hex[:13]


@pytest.fixture
def wechat_fake(wechat_appid: str) -> Iterator[FakeWeChatApi]:
    fake = FakeWeChatApi()
    fake.register_app(wechat_appid, WECHAT_SECRET)
    for entry in DEFAULT_TEMPLATES["wechat"].values():
        fake.add_template(entry["template_id"], list(entry["keywords"]))
    with fake:
        yield fake


@pytest.fixture
def channels(
    redis_client: Any,
    alipay_fake: FakeAlipayGateway,
    wechat_fake: FakeWeChatApi,
    alipay_keys: dict[str, str],
    wechat_appid: str,
) -> Iterator[ChannelClients]:
    alipay = AlipayClient(
        AlipayConfig(
            app_id=ALIPAY_APP_ID,
            app_private_key=alipay_keys["app"],
            alipay_public_key=keys.public_key_pem(alipay_keys["gateway"]),
            server_url=alipay_fake.gateway_url,
            aes_key=alipay_keys["aes"],
            timeout=2.0,
        )
    )
    wechat = WeChatMiniClient(
        WeChatConfig(
            appid=wechat_appid, secret=WECHAT_SECRET, base_url=wechat_fake.url, timeout=2.0
        ),
        redis_client,
    )
    yield ChannelClients(alipay=alipay, wechat=wechat)
    wechat.session.delete(wechat.access_token_key)


@pytest.fixture
def push(runtime: Runtime) -> SyncDispatcher:
    """The runtime's dispatcher (asking for this fixture makes it a :class:`SyncDispatcher`, see
    ``runtime_overrides`` in tests/conftest.py): deliveries run in the committing thread; retries
    are recorded for the test to drive."""
    assert isinstance(runtime.dispatcher, SyncDispatcher)
    return runtime.dispatcher


@pytest.fixture
def api(runtime: Runtime, push: SyncDispatcher) -> Any:
    """A test client of an app wired to the fakes and the synchronous dispatcher."""
    return create_app(runtime=runtime).test_client()


def alipay_user(member: Any, **overrides: Any) -> dict[str, Any]:
    """A certified Alipay account of ``member`` (a factory-made member with plain_* attributes)."""
    n = secrets.randbelow(10**12)
    user = {
        "user_id": f"2088{n:012d}",
        "open_id": f"ali-open-{n}",
        "user_name": member.name,
        "cert_no": member.plain_id_number,
        "mobile": member.plain_phone or "13900000000",
        "is_certified": "T",
    }
    user.update(overrides)
    return user


def wechat_user(phone: str = "13900000001", **overrides: Any) -> dict[str, Any]:
    user = {"openid": "o-" + uuid.uuid4().hex[:20], "unionid": None, "phone": phone}
    user.update(overrides)
    return user
