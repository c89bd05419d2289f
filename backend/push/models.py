"""Push deliveries: the outbox of the push pipeline (consents are the channels')."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import ForeignKey, Index, Integer, String, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from backend.clock import utcnow
from backend.db import Base, UtcDateTime

DELIVERY_STATUS = ("pending", "sent", "rejected", "failed")


class PushDelivery(Base):
    __tablename__ = "push_deliveries"
    __table_args__ = (
        UniqueConstraint("message_id", "channel"),
        # The pools' claim of the oldest due deliveries reads the first rows of this and stops.
        # No index of all rows by status: planned from statistics of a quiet day (nothing
        # pending), PostgreSQL took one for a burst's claims and sorted the whole backlog.
        Index(
            "ix_push_deliveries_pending",
            "next_attempt_at",
            "id",
            postgresql_where=text("status = 'pending'"),
            sqlite_where=text("status = 'pending'"),
        ),
        # The sweeper's expired claims.
        Index(
            "ix_push_deliveries_sending",
            "locked_until",
            postgresql_where=text("status = 'sending'"),
            sqlite_where=text("status = 'sending'"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    message_id: Mapped[int] = mapped_column(ForeignKey("messages.id"))
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id"), index=True)
    channel: Mapped[str] = mapped_column(String(10))
    status: Mapped[str] = mapped_column(String(10), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error_code: Mapped[str | None] = mapped_column(String(40))
    last_error: Mapped[str | None] = mapped_column(String(300))
    next_attempt_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)
    locked_until: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)
    # Set, in its own commit, right before the request leaves for the platform: a claim without
    # it never reached the platform (the sweeper requeues it); one with it stays in doubt.
    send_started_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)
    # The one-time consent this claim spent (none for SMS or a long-term consent): what the
    # sweeper gives back when it requeues a claim that never sent.
    consent_template_id: Mapped[str | None] = mapped_column(String(64))
    sent_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow, onupdate=utcnow)
