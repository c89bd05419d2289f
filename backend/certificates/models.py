"""Certificates (缴存证明, 贷款结清证明): a snapshot of what was certified at issue time."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from backend.clock import utcnow
from backend.db import Base, UtcDateTime

CERTIFICATE_KINDS = {"deposit": "缴存证明", "loan_settlement": "贷款结清证明"}


class Certificate(Base):
    __tablename__ = "certificates"
    __table_args__ = (Index("ix_certificates_member_issued", "member_id", "issued_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    serial_no: Mapped[str] = mapped_column(String(32), unique=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id"))
    account_id: Mapped[int] = mapped_column(ForeignKey("fund_accounts.id"))
    # What it certifies (``CERTIFICATE_KINDS``): the deposit account, or a settled loan contract
    # named by ``subject_no``. Re-issuing voids the live ones of the same kind and subject only.
    kind: Mapped[str] = mapped_column(String(24), default="deposit", server_default="deposit")
    subject_no: Mapped[str | None] = mapped_column(String(32))
    verification_code: Mapped[str] = mapped_column(String(16))
    issued_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)
    valid_until: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    voided_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)
    # The figures as certified at issue time (the PDF is rendered from this, never from live data)
    snapshot: Mapped[dict[str, Any]] = mapped_column(JSON)
    content_hash: Mapped[str] = mapped_column(String(64))
