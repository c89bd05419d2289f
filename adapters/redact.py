"""Redaction of identity data and credentials in log text, and a filter that applies it.

The platforms put credentials in URLs: WeChat's ``jscode2session`` carries the AppSecret as
``secret=`` in its query string, every WeChat server call carries ``access_token=``, Alipay calls
carry the member's ``auth_token``. At DEBUG level urllib3 logs each request line with that URL,
and wechatpy logs requests and replies, so a filter on those loggers rewrites every record they
create before any handler (ours or a test's ``caplog``) sees it.

Logger filters only see records created by that very logger (not its children's), so
:func:`install_log_redaction` names each logger that writes URLs or replies.
"""

from __future__ import annotations

import logging
import re

# 18-digit ID numbers and mainland mobile numbers, wherever they stand in a text.
_ID_RE = re.compile(r"(?<!\d)(\d{4})\d{10}(\d{3}[\dXx])(?!\d)")
_PHONE_RE = re.compile(r"(?<!\d)(1[3-9]\d)\d{4}(\d{4})(?!\d)")
# Credentials as query parameters, form fields or JSON members: secret=…, "access_token": "…".
_SECRET_NAMES = (
    "secret",
    "appsecret",
    "access_token",
    "auth_token",
    "refresh_token",
    "session_key",
    "js_code",
    "auth_code",
    "sign",
)
_QUERY_SECRET_RE = re.compile(
    r"(?<![A-Za-z0-9_])(" + "|".join(_SECRET_NAMES) + r")=([^&\s\"'#]+)", re.IGNORECASE
)
_JSON_SECRET_RE = re.compile(
    r"([\"'](?:" + "|".join(_SECRET_NAMES) + r")[\"']\s*:\s*[\"'])([^\"']+)", re.IGNORECASE
)
REDACTED = "***"

# Loggers that write request URLs, bodies or replies at DEBUG.
LOGGERS = (
    "urllib3",
    "urllib3.connectionpool",
    "urllib3.connection",
    "urllib3.poolmanager",
    "urllib3.util.retry",
    "requests",
    "wechatpy",
    "wechatpy.client",
    "wechatpy.client.base",
    "alipay",
    "adapters",
    "adapters.alipay.client",
    "adapters.alipay.transport",
    "adapters.wechat.client",
    "adapters.sms.dysms",
)


def redact_identity(text: str) -> str:
    """ID numbers keep their first 4 and last 4 characters, phones their first 3 and last 4."""
    text = _ID_RE.sub(r"\1**********\2", text)
    return _PHONE_RE.sub(r"\1****\2", text)


def redact_secrets(text: str) -> str:
    """Values of credential-named parameters (query, form or JSON) become ``***``."""
    text = _QUERY_SECRET_RE.sub(lambda m: f"{m.group(1)}={REDACTED}", text)
    return _JSON_SECRET_RE.sub(lambda m: f"{m.group(1)}{REDACTED}", text)


def redact(text: str) -> str:
    return redact_identity(redact_secrets(text))


class RedactingFilter(logging.Filter):
    """Rewrites a record's message (and exception text) in place; never drops a record."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a broken format string: leave the record to logging's own handling
            return True
        record.msg = redact(message)
        record.args = None
        if record.exc_info and not record.exc_text:
            record.exc_text = redact(logging.Formatter().formatException(record.exc_info))
        elif record.exc_text:
            record.exc_text = redact(record.exc_text)
        return True


_FILTER = RedactingFilter()


def install_log_redaction() -> None:
    """Attach the filter to every logger that may write a credential. Idempotent; called by the
    clients when they are built (nothing happens at import time)."""
    for name in LOGGERS:
        target = logging.getLogger(name)
        if _FILTER not in target.filters:
            target.addFilter(_FILTER)
