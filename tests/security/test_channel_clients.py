"""Each channel's client is built only when that channel is configured (issue 14): with only WeChat
configured, WeChat login works and Alipay answers a clear 503 in the envelope, not a 500."""

from __future__ import annotations

from backend.app import create_app
from backend.channels.clients import build_channel_clients


def test_wechat_login_reaches_wechat_when_only_wechat_is_configured(
    make_runtime, runtime, redis_client
):
    runtime = make_runtime(
        settings=runtime.settings.with_(
            channels="real",
            wechat_app_id="wx0123456789",
            wechat_app_secret="wechat-secret",
            wechat_base_url="http://127.0.0.1:9",  # nothing listens: the call fails as a channel error
            channel_timeout=1.0,
        )
    )
    client = create_app(runtime=runtime).test_client()

    wechat = client.post("/api/v1/channels/wechat/sessions", json={"code": "js-code"})
    assert wechat.status_code != 500
    assert wechat.get_json()["error_code"] != "channel.not_configured"

    alipay = client.post("/api/v1/channels/alipay/sessions", json={"auth_code": "auth-code"})
    assert alipay.status_code == 503
    body = alipay.get_json()
    assert body["error_code"] == "channel.not_configured"
    assert "支付宝" in body["message"]


def test_no_channel_client_is_built_when_no_channel_is_configured(settings, redis_client):
    clients = build_channel_clients(settings.with_(channels="real"), redis_client)
    assert not clients.configured("alipay") and not clients.configured("wechat")
