"""Writing to a member's inbox. Every message that concerns a member goes through
:func:`post_message`, which records :class:`~backend.events.MessagePosted` on the session: the
push feature, subscribed at bootstrap, queues the message's pushes in the same transaction."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from sqlalchemy import update
from sqlalchemy.orm import Session

from backend import events
from backend.clock import utcnow
from backend.db import insert_many
from backend.inbox.models import Message
from backend.inbox.queries import get_item, message_by_dedupe_key


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
    request_hash: str | None = None,
) -> tuple[Message, bool]:
    """Add the message (not committed). Returns ``(message, created)``; a known ``dedupe_key``
    returns the existing message and creates nothing. ``request_hash`` is the fingerprint of the
    request that wrote it under ``dedupe_key`` (see ``backend.integration.services.replay_of``)."""
    if dedupe_key:
        existing = message_by_dedupe_key(session, dedupe_key)
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
        request_hash=request_hash,
        sent_at=sent_at or utcnow(),
    )
    session.add(message)
    session.flush()
    events.record(
        session, events.MessagePosted(message.id, message.member_id, message.business_type)
    )
    return message, True


def post_messages(session: Session, rows: Sequence[dict[str, Any]]) -> list[int]:
    """Many new messages in one insert (not committed), each as :func:`post_message` takes it
    (its keywords as a dict, ``dedupe_key`` required and new: the caller checked). Records a
    :class:`~backend.events.MessagePosted` per message (pushes are queued at commit). Returns the ids,
    in the order given."""
    if not rows:
        return []
    now = utcnow()
    values = [
        {
            "kind": "message",
            "business_type": "notice",
            "source_channel": "核心业务系统",
            "application_id": None,
            "due_at": None,
            "dedupe_key": None,
            "request_hash": None,
            **row,
            "sent_at": row.get("sent_at") or now,
            "created_at": now,
        }
        for row in rows
    ]
    # One statement whatever the number of rows (PostgreSQL: one array a column, see insert_many).
    by_key = dict(insert_many(session, Message, values, returning=("dedupe_key", "id")))
    ids = [by_key[row["dedupe_key"]] for row in values]
    posted = [
        events.MessagePosted(message_id, row["member_id"], row["business_type"])
        for message_id, row in zip(ids, values, strict=True)
    ]
    events.record(session, *posted)
    return ids


def mark_read(session: Session, member_id: int, message_id: int) -> Message:
    """标为已阅: the message moves from 消息 to 已阅. Reading it again changes nothing."""
    message = get_item(session, member_id, message_id, "message")
    if message.read_at is None:
        message.read_at = utcnow()
        session.commit()
    return message


def mark_all_read(session: Session, member_id: int) -> int:
    """Every unread message of the member to 已阅; returns how many moved."""
    result = session.execute(
        update(Message)
        .where(
            Message.member_id == member_id,
            Message.kind == "message",
            Message.read_at.is_(None),
            Message.deleted_at.is_(None),
        )
        .values(read_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    session.commit()
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


def delete_message(session: Session, member_id: int, message_id: int) -> None:
    """删除 (soft): gone from every list; the row stays for the record and its push history."""
    message = get_item(session, member_id, message_id, "message")
    message.deleted_at = utcnow()
    session.commit()
