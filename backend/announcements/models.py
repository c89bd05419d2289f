"""Announcements (公告): policy notices the centre publishes to everyone or to an audience, and
each member's read state."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from backend.clock import utcnow
from backend.db import Base, UtcDateTime


class Announcement(Base):
    __tablename__ = "announcements"
    # Member list: visible ones, newest first, keyset on (published_at, id)
    __table_args__ = (Index("ix_announcements_list", "published_at", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    # The core system's key for the notice: publishing the same key twice is a replay.
    announcement_no: Mapped[str] = mapped_column(String(64), unique=True)
    title: Mapped[str] = mapped_column(String(60))
    body: Mapped[str] = mapped_column(Text)
    audience: Mapped[str] = mapped_column(String(20), default="everyone")
    published_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    withdrawn_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)
    withdraw_reason: Mapped[str | None] = mapped_column(String(200))
    # SHA-256 of the publishing request: a replay must carry the very same request.
    request_hash: Mapped[str] = mapped_column(String(64))
    # Push fan-out progress: members are taken in id order, in batches; the last id done.
    fanout_after: Mapped[int] = mapped_column(Integer, default=0)
    fanout_done_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)
    pushed: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)


class AnnouncementRead(Base):
    __tablename__ = "announcement_reads"
    __table_args__ = (UniqueConstraint("member_id", "announcement_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    announcement_id: Mapped[int] = mapped_column(ForeignKey("announcements.id"), index=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id"))
    read_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)
