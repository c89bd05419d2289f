"""Signing of internal API requests (core system → hall). Pure: the verifier and the
``gjj internal curl`` helper both use these functions, so the two can never drift apart.

    signature = hex HMAC-SHA256(secret,
        METHOD + "\\n" + path + "\\n" + canonical query + "\\n" + timestamp + "\\n" + nonce + "\\n"
        + hex SHA-256(body))

The canonical query is the query string's ``key=value`` pairs sorted by key (then value),
percent-encoded per RFC 3986 and joined with ``&``; no query is the empty string. The path is the
request path without its query string, as sent (e.g. ``/internal/v1/messages``).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import shlex
from urllib.parse import parse_qsl, quote

HEADER_KEY = "X-Gjj-Key"
HEADER_TIMESTAMP = "X-Gjj-Timestamp"
HEADER_NONCE = "X-Gjj-Nonce"
HEADER_SIGNATURE = "X-Gjj-Signature"
HEADERS = (HEADER_KEY, HEADER_TIMESTAMP, HEADER_NONCE, HEADER_SIGNATURE)
# The demo's core-system caller (``gjj demo``, ``gjj internal curl``), used only when
# GJJ_INTERNAL_KEYS names none (never in production: the demo refuses GJJ_ENV=production).
DEMO_INTERNAL_KEY = ("demo", "gjj-demo-internal-secret")


def canonical_query(query: str) -> str:
    pairs = parse_qsl(query, keep_blank_values=True)
    pairs.sort()
    return "&".join(f"{quote(k, safe='-_.~')}={quote(v, safe='-_.~')}" for k, v in pairs)


def body_digest(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()


def string_to_sign(
    method: str, path: str, query: str, timestamp: str, nonce: str, body: bytes
) -> str:
    return "\n".join(
        [method.upper(), path, canonical_query(query), timestamp, nonce, body_digest(body)]
    )


def signature(
    secret: str, method: str, path: str, query: str, timestamp: str, nonce: str, body: bytes
) -> str:
    message = string_to_sign(method, path, query, timestamp, nonce, body)
    return hmac.new(secret.encode(), message.encode(), hashlib.sha256).hexdigest()


def new_nonce() -> str:
    return secrets.token_hex(16)


def signed_headers(
    key_id: str,
    secret: str,
    method: str,
    path: str,
    *,
    query: str = "",
    body: bytes = b"",
    timestamp: int,
    nonce: str | None = None,
) -> dict[str, str]:
    """The four ``X-Gjj-*`` headers of one request."""
    nonce = nonce or new_nonce()
    ts = str(timestamp)
    return {
        HEADER_KEY: key_id,
        HEADER_TIMESTAMP: ts,
        HEADER_NONCE: nonce,
        HEADER_SIGNATURE: signature(secret, method, path, query, ts, nonce, body),
    }


def encode_body(payload: object) -> bytes:
    """The JSON body exactly as it will be sent (the signature covers these bytes)."""
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()


def curl_command(
    base_url: str, method: str, target: str, headers: dict[str, str], body: bytes
) -> str:
    """A copy-pasteable curl line for ``target`` (path with optional ``?query``)."""
    parts = ["curl", "-sS", "-X", method.upper(), shlex.quote(base_url.rstrip("/") + target)]
    for name, value in headers.items():
        parts += ["-H", shlex.quote(f"{name}: {value}")]
    if body:
        parts += ["-H", shlex.quote("Content-Type: application/json")]
        parts += ["--data-binary", shlex.quote(body.decode())]
    return " ".join(parts)
