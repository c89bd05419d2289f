"""Applications the member started (我发起的): withdrawals and loans, with their approval nodes."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from backend.clock import utcnow
from backend.db import Base, Money, UtcDateTime

APPLICATION_KINDS = {"withdrawal": "提取", "loan": "贷款申请", "transfer": "转移接续"}
APPLICATION_STATUS = {
    "processing": "办理中",
    "approved": "已审批",
    "rejected": "未通过",
    "completed": "已办结",
    "cancelled": "已撤销",
}
OPEN_STATUSES = ("processing", "approved")
NODE_STATES = {"done": "已完成", "current": "办理中", "pending": "未开始"}


class Application(Base):
    __tablename__ = "applications"
    __table_args__ = (
        Index("ix_applications_member_kind", "member_id", "kind", "submitted_at", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    application_no: Mapped[str] = mapped_column(String(32), unique=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id"))
    kind: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str] = mapped_column(String(32))
    amount: Mapped[Decimal | None] = mapped_column(Money)
    status: Mapped[str] = mapped_column(String(16), default="processing")
    # Non-identity details of the request (bank account masked, term, …)
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    submitted_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)
    completed_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)
    updated_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow, onupdate=utcnow)

    nodes: Mapped[list[ApplicationNode]] = relationship(
        order_by="ApplicationNode.seq", back_populates="application"
    )

    @property
    def kind_name(self) -> str:
        return APPLICATION_KINDS.get(self.kind, self.kind)

    @property
    def status_name(self) -> str:
        return APPLICATION_STATUS.get(self.status, self.status)


class ApplicationNode(Base):
    __tablename__ = "application_nodes"
    __table_args__ = (UniqueConstraint("application_id", "seq"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    application_id: Mapped[int] = mapped_column(ForeignKey("applications.id"))
    seq: Mapped[int] = mapped_column(Integer)
    name: Mapped[str] = mapped_column(String(40))
    state: Mapped[str] = mapped_column(String(16), default="pending")
    opinion: Mapped[str | None] = mapped_column(String(500))
    handler: Mapped[str | None] = mapped_column(String(60))
    acted_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)

    application: Mapped[Application] = relationship(back_populates="nodes")
