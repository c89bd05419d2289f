"""Monthly rent withdrawal arrangements (按月提取 / 租房委托提取): the member signs up once; the core
system then pays a rent withdrawal each month through the ledger API, each entry linked here."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from backend.clock import utcnow
from backend.db import Base, Money, UtcDateTime

ARRANGEMENT_STATUS = {"active": "委托中", "stopped": "已终止"}


class RentArrangement(Base):
    __tablename__ = "rent_arrangements"
    __table_args__ = (Index("ix_rent_arrangements_member_status", "member_id", "status"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    arrangement_no: Mapped[str] = mapped_column(String(32), unique=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id"))
    account_id: Mapped[int] = mapped_column(ForeignKey("fund_accounts.id"))
    monthly_amount: Mapped[Decimal] = mapped_column(Money)
    bank_name: Mapped[str] = mapped_column(String(60))
    bank_account_masked: Mapped[str] = mapped_column(String(40))
    # The core system pays to this account; at rest it is encrypted like identity data.
    bank_account_enc: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(16), default="active")
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)
    stopped_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)
    stopped_by: Mapped[str | None] = mapped_column(String(16))  # member | centre
    stop_reason: Mapped[str | None] = mapped_column(String(200))
    updated_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow, onupdate=utcnow)
