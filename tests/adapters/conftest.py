import base64
import os
import secrets
import time

import fakeredis
import pytest
import redis as redis_lib

from adapters.alipay import AlipayClient, AlipayConfig, keys
from adapters.fakes import FakeAlipayGateway, FakeWeChatApi
from adapters.wechat import WeChatConfig, WeChatMiniClient

APP_ID = "2021000000000001"
ALIPAY_USER = {
    "user_id": "2088000000000001",
    "open_id": "open-ali-0001",
    "user_name": "张三",
    "cert_no": "110101199003074519",
    "mobile": "13812345678",
    "is_certified": "T",
}
WX_APPID = "wxtest0000000001"
WX_SECRET = "wx-secret"
WX_USER = {"openid": "o-wx-0001", "unionid": "u-wx-0001", "phone": "13987654321"}


@pytest.fixture(scope="session")
def app_key() -> str:
    return keys.generate_private_key_pem(2048)


@pytest.fixture(scope="session")
def gateway_key() -> str:
    return keys.generate_private_key_pem(2048)


@pytest.fixture(scope="session")
def aes_key() -> str:
    return base64.b64encode(secrets.token_bytes(16)).decode()


@pytest.fixture
def alipay_fake(app_key, gateway_key, aes_key):
    fake = FakeAlipayGateway(gateway_private_key=gateway_key)
    fake.register_app(APP_ID, keys.public_key_pem(app_key), aes_key)
    fake.add_user(ALIPAY_USER)
    with fake:
        yield fake


def make_alipay_client(
    fake, app_key, gateway_key, aes_key, *, monotonic=time.monotonic, **overrides
) -> AlipayClient:
    settings = {
        "app_id": APP_ID,
        "app_private_key": app_key,
        "alipay_public_key": keys.public_key_pem(gateway_key),
        "server_url": fake.gateway_url,
        "aes_key": aes_key,
        "timeout": 2.0,
    }
    settings.update(overrides)
    return AlipayClient(AlipayConfig(**settings), monotonic=monotonic)


@pytest.fixture
def make_alipay():
    """Factory: make_alipay(fake, app_key, gateway_key, aes_key, monotonic=…, **config overrides)."""
    return make_alipay_client


@pytest.fixture
def make_wechat():
    """Factory: make_wechat(fake, redis, **config overrides)."""
    return make_wechat_client


@pytest.fixture
def ali_user() -> dict:
    return dict(ALIPAY_USER)


@pytest.fixture
def wx_user() -> dict:
    return dict(WX_USER)


@pytest.fixture
def alipay(alipay_fake, app_key, gateway_key, aes_key) -> AlipayClient:
    return make_alipay_client(alipay_fake, app_key, gateway_key, aes_key)


@pytest.fixture
def wechat_fake():
    fake = FakeWeChatApi()
    fake.register_app(WX_APPID, WX_SECRET)
    fake.add_user(WX_USER)
    with fake:
        yield fake


@pytest.fixture
def redis_client():
    """fakeredis by default; the real Redis when GJJ_REDIS_URL is set (own db, own keys)."""
    url = os.environ.get("GJJ_REDIS_URL")
    if url:
        client = redis_lib.Redis.from_url(url)
        client.delete(f"gjj:wechat:{WX_APPID}_access_token")
        yield client
        client.delete(f"gjj:wechat:{WX_APPID}_access_token")
        client.close()
    else:
        yield fakeredis.FakeRedis()


def make_wechat_client(fake, redis, **overrides) -> WeChatMiniClient:
    settings = {"appid": WX_APPID, "secret": WX_SECRET, "base_url": fake.url, "timeout": 2.0}
    settings.update(overrides)
    return WeChatMiniClient(WeChatConfig(**settings), redis)


@pytest.fixture
def wechat(wechat_fake, redis_client) -> WeChatMiniClient:
    return make_wechat_client(wechat_fake, redis_client)
