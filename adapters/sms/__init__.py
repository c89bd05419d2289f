"""SMS providers behind one ``SmsSender`` protocol, chosen by ``build_sms_sender``."""

from __future__ import annotations

from typing import Any

from adapters.sms.dysms import DysmsSender
from adapters.sms.senders import FileOutboxSender, LogSender, SmsSender


def build_sms_sender(backend: str, **options: Any) -> SmsSender:
    """``backend``: ``dysms`` (options = DysmsSender's), ``file`` (``path``) or ``log``."""
    if backend == "dysms":
        return DysmsSender(**options)
    if backend == "file":
        return FileOutboxSender(options["path"])
    if backend == "log":
        return LogSender()
    raise ValueError(f"unknown SMS backend {backend!r}")


__all__ = ["DysmsSender", "FileOutboxSender", "LogSender", "SmsSender", "build_sms_sender"]
