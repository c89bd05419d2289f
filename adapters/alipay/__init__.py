"""Alipay open-platform channel (v2 gateway protocol, RSA2)."""

from adapters.alipay.client import AlipayClient
from adapters.alipay.config import PRODUCTION_GATEWAY, SANDBOX_GATEWAY, AlipayConfig
from adapters.alipay.results import (
    AlipayCertification,
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
