"""The one place channel clients are built from settings.

``GJJ_CHANNELS=fake`` points them at the loopback fakes (``python -m adapters.fakes serve``) on
``fakes_alipay_port`` / ``fakes_wechat_port``, with the keys the fakes keep in ``fakes_keys_dir``;
``real`` uses the platforms' URLs and the configured keys. Tests inject their own
:class:`ChannelClients` through ``bootstrap(settings, channels=...)`` (``runtime.channels``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from adapters.alipay import AlipayClient, AlipayConfig
from adapters.fakes.__main__ import prepare_keys
from adapters.wechat import WeChatConfig, WeChatMiniClient
from backend.errors import ServiceUnavailable
from backend.settings import Settings

CHANNEL_NAMES = {"alipay": "支付宝", "wechat": "微信"}


class ChannelNotConfigured(ServiceUnavailable):
    error_code = "channel.not_configured"


class ChannelClients:
    """The client of each configured channel; a channel the centre has not configured has none,
    and asking for it answers 503 ``channel.not_configured`` (the other channel still works)."""

    def __init__(
        self, alipay: AlipayClient | None = None, wechat: WeChatMiniClient | None = None
    ) -> None:
        self._clients: dict[str, Any] = {"alipay": alipay, "wechat": wechat}

    def configured(self, channel: str) -> bool:
        return self._clients.get(channel) is not None

    def sender(self, channel: str) -> Any:
        client = self._clients.get(channel)
        if client is None:
            raise ChannelNotConfigured(f"本中心暂未开通{CHANNEL_NAMES.get(channel, channel)}服务")
        return client

    @property
    def alipay(self) -> AlipayClient:
        client: AlipayClient = self.sender("alipay")
        return client

    @property
    def wechat(self) -> WeChatMiniClient:
        client: WeChatMiniClient = self.sender("wechat")
        return client


def _pem(value: str) -> str:
    """Settings hold key material either inline (PEM or bare base64) or as a file path."""
    if value and "\n" not in value and len(value) < 400 and Path(value).is_file():
        return Path(value).read_text()
    return value


def fake_key_paths(settings: Settings) -> dict[str, Path]:
    """The fakes' key files, created on first use exactly as the fakes CLI creates them, so
    either side may start first."""
    return prepare_keys(settings.fakes_keys_path)


def build_channel_clients(settings: Settings, redis: Any) -> ChannelClients:
    """Clients of the channels that are configured (``real``: all of a channel's variables set;
    ``fake``: both, on the loopback fakes). Building one never needs the other's keys."""
    timeout = settings.channel_timeout
    alipay_config: AlipayConfig | None = None
    wechat_config: WeChatConfig | None = None
    if settings.channels == "fake":
        paths = fake_key_paths(settings)
        alipay_config = AlipayConfig(
            app_id=settings.fakes_alipay_app_id,
            app_private_key=paths["app_private_key"].read_text(),
            alipay_public_key=paths["gateway_public_key"].read_text(),
            server_url=f"http://127.0.0.1:{settings.fakes_alipay_port}/gateway.do",
            aes_key=paths["aes_key"].read_text().strip(),
            timeout=timeout,
        )
        wechat_config = WeChatConfig(
            appid=settings.fakes_wechat_app_id,
            secret=settings.fakes_wechat_app_secret,
            base_url=f"http://127.0.0.1:{settings.fakes_wechat_port}",
            timeout=timeout,
            miniprogram_state=settings.wechat_miniprogram_state,
        )
    else:
        if settings.alipay_configured:
            alipay_config = AlipayConfig(
                app_id=settings.alipay_app_id,
                app_private_key=_pem(settings.alipay_private_key),
                alipay_public_key=_pem(settings.alipay_public_key),
                server_url=settings.alipay_server_url,
                aes_key=settings.alipay_aes_key or None,
                timeout=timeout,
            )
        if settings.wechat_configured:
            wechat_config = WeChatConfig(
                appid=settings.wechat_app_id,
                secret=settings.wechat_app_secret,
                base_url=settings.wechat_base_url,
                timeout=timeout,
                miniprogram_state=settings.wechat_miniprogram_state,
            )
    return ChannelClients(
        alipay=AlipayClient(alipay_config) if alipay_config else None,
        wechat=WeChatMiniClient(wechat_config, redis) if wechat_config else None,
    )
