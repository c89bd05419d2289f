"""The one place channel clients are built from settings.

``GJJ_CHANNELS=fake`` points them at the loopback fakes (``python -m adapters.fakes serve``) on
``fakes_alipay_port`` / ``fakes_wechat_port``, with the keys the fakes keep in ``fakes_keys_dir``;
``real`` uses the platforms' URLs and the configured keys. Tests inject their own
:class:`ChannelClients` through ``create_app(channels=...)`` (``runtime.extras["channels"]``).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from adapters.alipay import AlipayClient, AlipayConfig
from adapters.fakes.__main__ import prepare_keys
from adapters.wechat import WeChatConfig, WeChatMiniClient
from backend.runtime import Runtime
from backend.settings import PROJECT_ROOT, Settings


@dataclass
class ChannelClients:
    alipay: AlipayClient
    wechat: WeChatMiniClient

    def sender(self, channel: str) -> Any:
        return {"alipay": self.alipay, "wechat": self.wechat}[channel]


def _pem(value: str) -> str:
    """Settings hold key material either inline (PEM or bare base64) or as a file path."""
    if value and "\n" not in value and len(value) < 400 and Path(value).is_file():
        return Path(value).read_text()
    return value


def fake_key_paths(settings: Settings) -> dict[str, Path]:
    """The fakes' key files, created on first use exactly as the fakes CLI creates them, so
    either side may start first."""
    directory = Path(settings.fakes_keys_dir)
    if not directory.is_absolute():
        directory = PROJECT_ROOT / directory
    return prepare_keys(directory)


def build_channel_clients(settings: Settings, redis: Any) -> ChannelClients:
    timeout = settings.channel_timeout
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
        alipay_config = AlipayConfig(
            app_id=settings.alipay_app_id,
            app_private_key=_pem(settings.alipay_private_key),
            alipay_public_key=_pem(settings.alipay_public_key),
            server_url=settings.alipay_server_url,
            aes_key=settings.alipay_aes_key or None,
            timeout=timeout,
        )
        wechat_config = WeChatConfig(
            appid=settings.wechat_app_id,
            secret=settings.wechat_app_secret,
            base_url=settings.wechat_base_url,
            timeout=timeout,
            miniprogram_state=settings.wechat_miniprogram_state,
        )
    return ChannelClients(
        alipay=AlipayClient(alipay_config), wechat=WeChatMiniClient(wechat_config, redis)
    )


def channel_clients(rt: Runtime) -> ChannelClients:
    """The runtime's clients (injected, or built from settings on first use, then shared)."""
    clients = rt.extras.get("channels")
    if clients is None:
        clients = build_channel_clients(rt.settings, rt.redis)
        rt.extras["channels"] = clients
    return clients  # type: ignore[no-any-return]
