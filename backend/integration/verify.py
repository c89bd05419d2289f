"""Verifying signed internal requests: key, clock skew, signature, then the nonce (last, so a
forged request cannot burn a caller's nonces). Each refusal is a 401 with its own error code."""

from __future__ import annotations

import hmac
import re
from collections.abc import Mapping

import redis

from backend.cache import Keys
from backend.errors import Unauthorized
from backend.integration import signing

_NONCE_RE = re.compile(r"^[A-Za-z0-9_\-]{8,64}$")
_TS_RE = re.compile(r"^\d{1,12}$")
_SIG_RE = re.compile(r"^[0-9a-fA-F]{64}$")


class NonceStore:
    """Nonces seen recently, in Redis. A nonce must be remembered as long as a request carrying
    it could still pass the skew check: twice the allowed skew (timestamp ± skew)."""

    def __init__(self, client: redis.Redis, keys: Keys, max_skew: int) -> None:
        self.client = client
        self.keys = keys
        self.ttl = 2 * max_skew + 60

    def remember(self, key_id: str, nonce: str) -> bool:
        """True the first time ``nonce`` is seen for ``key_id``."""
        return bool(
            self.client.set(
                self.keys("internal", "nonce", key_id, nonce), "1", nx=True, ex=self.ttl
            )
        )


def verify(
    headers: Mapping[str, str],
    *,
    method: str,
    path: str,
    query: str,
    body: bytes,
    keys: Mapping[str, str],
    max_skew: int,
    now: int,
    nonces: NonceStore,
) -> str:
    """Returns the caller's key id, or raises :class:`Unauthorized` (``internal.*``)."""
    key_id = headers.get(signing.HEADER_KEY, "").strip()
    ts = headers.get(signing.HEADER_TIMESTAMP, "").strip()
    nonce = headers.get(signing.HEADER_NONCE, "").strip()
    sig = headers.get(signing.HEADER_SIGNATURE, "").strip()
    if not (key_id and _TS_RE.match(ts) and _NONCE_RE.match(nonce) and _SIG_RE.match(sig)):
        raise Unauthorized(
            "签名请求头缺失或格式有误",
            error_code="internal.missing_headers",
            errors={h: ["必填"] for h in signing.HEADERS if not headers.get(h)} or None,
        )
    secret = keys.get(key_id)
    if secret is None:
        raise Unauthorized("调用方密钥标识未登记", error_code="internal.unknown_key")
    if abs(now - int(ts)) > max_skew:
        raise Unauthorized(
            f"请求时间戳与服务器时间相差超过 {max_skew} 秒，请校准时钟",
            error_code="internal.clock_skew",
            server_time=now,
        )
    expected = signing.signature(secret, method, path, query, ts, nonce, body)
    if not hmac.compare_digest(expected, sig.lower()):
        raise Unauthorized("签名校验失败", error_code="internal.bad_signature")
    if not nonces.remember(key_id, nonce):
        raise Unauthorized("请求已处理过（随机数重复使用）", error_code="internal.nonce_reused")
    return key_id
