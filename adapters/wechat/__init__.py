"""WeChat mini-program channel (server API on wechatpy)."""

from adapters.wechat.client import (
    PRODUCTION_BASE_URL,
    WeChatConfig,
    WeChatMiniClient,
    WeChatPhone,
    WeChatSession,
)

__all__ = [
    "PRODUCTION_BASE_URL",
    "WeChatConfig",
    "WeChatMiniClient",
    "WeChatPhone",
    "WeChatSession",
]
