"""Writing to a member's inbox. Every message that concerns a member goes through
:func:`post_message`, which also queues its pushes in the same transaction."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.clock import utcnow
from backend.inbox.models import Message
from backend.push.services import queue_deliveries


def post_message(
    session: Session,
    *,
    member_id: int,
    business_name: str,
    content: str,
    kind: str = "message",
    business_type: str = "notice",
    source_channel: str = "核心业务系统",
    application_id: int | None = None,
    due_at: dt.datetime | None = None,
    dedupe_key: str | None = None,
    sent_at: dt.datetime | None = None,
) -> tuple[Message, bool]:
    """Add the message (not committed). Returns ``(message, created)``; a known ``dedupe_key``
    returns the existing message and creates nothing."""
    if dedupe_key:
        existing = session.scalars(select(Message).where(Message.dedupe_key == dedupe_key)).first()
        if existing is not None:
            return existing, False
    message = Message(
        member_id=member_id,
        kind=kind,
        business_name=business_name,
        content=content,
        business_type=business_type,
        source_channel=source_channel,
        application_id=application_id,
        due_at=due_at,
        dedupe_key=dedupe_key,
        sent_at=sent_at or utcnow(),
    )
    session.add(message)
    session.flush()
    queue_deliveries(session, message)
    return message, True
