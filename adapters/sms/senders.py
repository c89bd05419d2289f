"""SMS senders: the protocol, a JSON-lines outbox for non-production, a log-only sender."""

from __future__ import annotations

import json
import logging
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol

from adapters.base import BeforeSend, mask_phone

logger = logging.getLogger(__name__)


class SmsSender(Protocol):
    """Sends one SMS (a code, a notice, a push fallback); raises a ``ChannelError`` subclass
    on failure. ``before_send``: see :data:`adapters.base.BeforeSend`."""

    def send(
        self, phone: str, scene: str, code: str, text: str, *, before_send: BeforeSend | None = None
    ) -> None: ...


class FileOutboxSender:
    """Appends ``{"phone", "scene", "code", "text", "sent_at"}`` JSON lines (GJJ_SMS_BACKEND=file).

    Test and demo tooling read the code from here, so the line holds it in clear: never point
    this at a shared location in production (the backend refuses it there).
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()

    def send(
        self, phone: str, scene: str, code: str, text: str, *, before_send: BeforeSend | None = None
    ) -> None:
        if before_send is not None:
            before_send()
        line = json.dumps(
            {
                "phone": phone,
                "scene": scene,
                "code": code,
                "text": text,
                "sent_at": datetime.now(tz=UTC).isoformat(),
            },
            ensure_ascii=False,
        )
        with self._lock:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with self.path.open("a", encoding="utf-8") as fh:
                fh.write(line + "\n")


class LogSender:
    """Only logs that an SMS would go out: masked phone, scene, never the code or text."""

    def send(
        self, phone: str, scene: str, code: str, text: str, *, before_send: BeforeSend | None = None
    ) -> None:
        if before_send is not None:
            before_send()
        logger.info(
            "sms not sent (log backend)", extra={"phone": mask_phone(phone), "scene": scene}
        )
