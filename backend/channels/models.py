"""A member's identities on Alipay and WeChat, and the subscription-message consents the member
gave on each (the platforms' one-time or long-term permission to push a template)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Boolean, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from backend.clock import utcnow
from backend.db import Base, UtcDateTime

CHANNELS = {"alipay": "支付宝", "wechat": "微信"}


class ChannelIdentity(Base):
    __tablename__ = "channel_identities"
    __table_args__ = (
        UniqueConstraint("channel", "open_id"),
        UniqueConstraint("member_id", "channel"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id"))
    channel: Mapped[str] = mapped_column(String(10))
    open_id: Mapped[str] = mapped_column(String(64))  # Alipay open_id / WeChat openid
    user_id: Mapped[str | None] = mapped_column(String(32), index=True)  # Alipay 2088… user_id
    union_id: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)


class SubscriptionConsent(Base):
    __tablename__ = "subscription_consents"
    __table_args__ = (UniqueConstraint("member_id", "channel", "template_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id"))
    channel: Mapped[str] = mapped_column(String(10))
    template_id: Mapped[str] = mapped_column(String(64))
    # One-time consents give one send per accept; long-term ones don't run out.
    remaining: Mapped[int] = mapped_column(Integer, default=0)
    long_term: Mapped[bool] = mapped_column(Boolean, default=False)
    updated_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow, onupdate=utcnow)
