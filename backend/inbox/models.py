"""Messages and to-dos (消息 / 待办 / 已阅) sent to a member by the centre."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

from sqlalchemy import ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from backend.clock import utcnow
from backend.db import Base, UtcDateTime

if TYPE_CHECKING:
    from backend.applications.models import Application

MESSAGE_KINDS = ("message", "todo")


class Message(Base):
    __tablename__ = "messages"
    __table_args__ = (
        # 消息/已阅/待办 lists: member + kind, newest first, keyset on (sent_at, id)
        Index("ix_messages_member_list", "member_id", "kind", "sent_at", "id"),
        # unread badge
        Index("ix_messages_member_unread", "member_id", "read_at", "deleted_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id"))
    kind: Mapped[str] = mapped_column(String(8), default="message")
    business_name: Mapped[str] = mapped_column(String(60))
    content: Mapped[str] = mapped_column(Text)
    source_channel: Mapped[str] = mapped_column(String(30), default="核心业务系统")
    # The push template family (deposit, withdrawal, loan, application, notice …)
    business_type: Mapped[str] = mapped_column(String(30), default="notice")
    sent_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)
    read_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)
    deleted_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)
    application_id: Mapped[int | None] = mapped_column(ForeignKey("applications.id"), index=True)
    due_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)  # 待办: by when
    done_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)  # 待办: done (core says so)
    # The sender's idempotency key: the same key twice creates one message.
    dedupe_key: Mapped[str | None] = mapped_column(String(100), unique=True)
    # Keyed fingerprint of the whole request that wrote it under ``dedupe_key`` (internal API):
    # the same key with another fingerprint is not a replay but a 409. None: written by the hall.
    request_hash: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)

    # The application (我发起的) the message or to-do concerns, if any.
    application: Mapped[Application | None] = relationship()
