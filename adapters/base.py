"""What every channel offers the backend, independent of the platform."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Protocol

BeforeSend = Callable[[], None]
"""Called by a sender once its request is built and signed, right before it goes on the wire
(again if the client retries it). The caller records there that the send started; what it raises
propagates unchanged and nothing is sent."""


@dataclass(frozen=True)
class SendResult:
    """A subscription message the platform accepted."""

    channel: str
    message_id: str | None = None


class SubscriptionSender(Protocol):
    """Sends one subscription message; raises a ``ChannelError`` subclass on any failure.

    ``data`` is flat (``{"keyword1": "text"}``); each client wraps it in its platform's shape.
    ``recipient`` is the member's per-app id on that channel (Alipay open_id or user_id, WeChat
    openid).
    """

    channel: str

    def send_subscription(
        self,
        recipient: str,
        template_id: str,
        data: Mapping[str, str],
        page: str | None = None,
        *,
        before_send: BeforeSend | None = None,
    ) -> SendResult: ...


def mask_phone(phone: str) -> str:
    """``138****5678``: the only form a phone number takes in a log line or a repr."""
    if len(phone) < 7:
        return "*" * len(phone)
    return f"{phone[:3]}{'*' * (len(phone) - 7)}{phone[-4:]}"


def mask_id_number(number: str) -> str:
    """``1401**********1234``."""
    if len(number) < 8:
        return "*" * len(number)
    return f"{number[:4]}{'*' * (len(number) - 8)}{number[-4:]}"


def plain_text(value: object) -> str:
    """A push value as one line of text: runs of whitespace (newlines included) as one space;
    a datetime as ``YYYY-MM-DD HH:MM``."""
    if isinstance(value, dt.datetime):
        return f"{value:%Y-%m-%d %H:%M}"
    return " ".join(str(value).split())


def shorten(text: str, limit: int) -> str:
    """Free text cut to ``limit`` characters, the last one an ellipsis when cut."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


class KeywordValueError(ValueError):
    """A subscription-message keyword value the platform would refuse and that cannot be made
    valid without changing what it says. The delivery fails for good; nothing is sent."""

    code = "keyword_invalid"

    def __init__(self, key: str, reason: str) -> None:
        super().__init__(f"{key}: {reason}")
        self.key = key
        self.reason = reason
