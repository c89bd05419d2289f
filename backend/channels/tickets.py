"""Short-lived tickets that carry a channel identity from a failed login to the step that
completes it (WeChat binding, Alipay face verification), and the replay guard of login codes.

Redis holds only the SHA-256 of a ticket token, under ``gjj:chan:…`` with a TTL.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from typing import Any

from backend.runtime import Runtime


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def issue_ticket(rt: Runtime, kind: str, data: dict[str, Any]) -> str:
    token = secrets.token_urlsafe(24)
    rt.redis.set(
        rt.keys("chan", kind, _digest(token)), json.dumps(data), ex=rt.settings.channel_ticket_ttl
    )
    return token


def read_ticket(rt: Runtime, kind: str, token: str) -> dict[str, Any] | None:
    raw = rt.redis.get(rt.keys("chan", kind, _digest(token)))
    return None if raw is None else dict(json.loads(raw))


def update_ticket(rt: Runtime, kind: str, token: str, data: dict[str, Any]) -> None:
    key = rt.keys("chan", kind, _digest(token))
    rt.redis.set(key, json.dumps(data), xx=True, keepttl=True)


def take_ticket(rt: Runtime, kind: str, token: str) -> dict[str, Any] | None:
    """Read and delete in one step: a ticket completes one login, never two."""
    raw = rt.redis.getdel(rt.keys("chan", kind, _digest(token)))
    return None if raw is None else dict(json.loads(raw))


def first_use(rt: Runtime, channel: str, code: str) -> bool:
    """True the first time a login code is presented. The platforms refuse a used code too; this
    stops a replayed one before it costs a platform call."""
    key = rt.keys("chan", "code", channel, _digest(code))
    return bool(rt.redis.set(key, "1", nx=True, ex=rt.settings.channel_ticket_ttl))
