"""Reads of certificates (never commit)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.certificates.models import Certificate


def certificate_by_serial(session: Session, serial_no: str) -> Certificate | None:
    return session.scalars(select(Certificate).where(Certificate.serial_no == serial_no)).first()


def live_certificates(
    session: Session, member_id: int, *, kind: str, subject_no: str | None
) -> list[Certificate]:
    """The member's certificates of ``kind`` about ``subject_no`` not yet voided."""
    subject = (
        Certificate.subject_no.is_(None)
        if subject_no is None
        else Certificate.subject_no == subject_no
    )
    return list(
        session.scalars(
            select(Certificate).where(
                Certificate.member_id == member_id,
                Certificate.kind == kind,
                subject,
                Certificate.voided_at.is_(None),
            )
        )
    )
