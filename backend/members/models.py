"""Members (缴存职工), their credentials and preferences, and employers (缴存单位)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from backend.clock import utcnow
from backend.db import Base, UtcDateTime

# Where a member can be pushed to (``MemberPreference.push_channels``); the app channels are the
# ones bound through a mini-program (``backend.channels``), SMS goes to the reserved phone.
PUSH_CHANNELS = ("wechat", "alipay", "sms")
APP_CHANNELS = ("wechat", "alipay")


class Employer(Base):
    __tablename__ = "employers"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    unit_account_no: Mapped[str] = mapped_column(String(32), unique=True)
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)


class Member(Base):
    """A depositor. ID number and reserved phone are encrypted; ``*_hash`` columns serve look-ups
    and ``*_masked`` columns serve display without decrypting."""

    __tablename__ = "members"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(50))
    id_number_enc: Mapped[str] = mapped_column(String(200))
    id_number_hash: Mapped[str] = mapped_column(String(64), unique=True)
    id_number_masked: Mapped[str] = mapped_column(String(18))
    phone_enc: Mapped[str | None] = mapped_column(String(200))
    phone_hash: Mapped[str | None] = mapped_column(String(64), index=True)
    phone_masked: Mapped[str | None] = mapped_column(String(11))
    # The centre can switch a member's online access off (e.g. on a fraud report).
    online_access: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow, onupdate=utcnow)

    credential: Mapped[Credential | None] = relationship(back_populates="member", uselist=False)


class Credential(Base):
    """Web-hall login of a registered member."""

    __tablename__ = "credentials"

    member_id: Mapped[int] = mapped_column(ForeignKey("members.id"), primary_key=True)
    password_hash: Mapped[str] = mapped_column(String(200))
    failed_attempts: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)
    registered_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)
    password_changed_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)
    last_login_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)

    member: Mapped[Member] = relationship(back_populates="credential")


class MemberPreference(Base):
    __tablename__ = "member_preferences"

    member_id: Mapped[int] = mapped_column(ForeignKey("members.id"), primary_key=True)
    sound_enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    # Channels the member wants pushes on, e.g. ["wechat", "alipay", "sms"].
    push_channels: Mapped[list[Any]] = mapped_column(JSON, default=list)
    updated_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow, onupdate=utcnow)
