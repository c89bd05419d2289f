"""Alipay open-platform channel (v2 gateway protocol, RSA2)."""

from adapters.alipay.client import (
    PRODUCTION_GATEWAY,
    SANDBOX_GATEWAY,
    AlipayCertification,
    AlipayClient,
    AlipayConfig,
    AlipayOAuthToken,
    AlipayPhone,
    AlipaySubscription,
    AlipayUserInfo,
)

__all__ = [
    "PRODUCTION_GATEWAY",
    "SANDBOX_GATEWAY",
    "AlipayCertification",
    "AlipayClient",
    "AlipayConfig",
    "AlipayOAuthToken",
    "AlipayPhone",
    "AlipaySubscription",
    "AlipayUserInfo",
]
