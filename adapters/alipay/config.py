"""What an Alipay client is built from: the app's keys, the gateway and the time limits."""

from __future__ import annotations

from dataclasses import dataclass, field

PRODUCTION_GATEWAY = "https://openapi.alipay.com/gateway.do"
SANDBOX_GATEWAY = "https://openapi-sandbox.dl.alipaydev.com/gateway.do"


@dataclass(frozen=True)
class AlipayConfig:
    app_id: str
    app_private_key: str = field(repr=False)
    alipay_public_key: str = field(repr=False)
    # Always set explicitly: the SDK's sandbox_debug=True still points at a retired host.
    server_url: str = PRODUCTION_GATEWAY
    # Content key from the console (base64), used to decrypt my.getPhoneNumber payloads.
    aes_key: str | None = field(default=None, repr=False)
    # The whole call (connect, send, every read) ends within `timeout` seconds; connecting
    # alone may take `connect_timeout`, and each wait for bytes `read_timeout` (default: timeout).
    timeout: float = 10.0
    connect_timeout: float = 3.0
    read_timeout: float | None = None
    # Connections kept open per client (calls from several threads share the pool).
    pool_size: int = 10
