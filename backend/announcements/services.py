"""Announcement use cases on the hall's side: a member reading one (the push fan-out of a
published announcement is the push feature's: ``backend.push.fanout``)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from backend.announcements import queries
from backend.announcements.models import AnnouncementRead
from backend.clock import utcnow


def mark_read(session: Session, member_id: int, announcement_id: int) -> dt.datetime:
    """The member opened it; reading it again keeps the first time. Returns ``read_at``."""
    queries.get_for_member(session, member_id, announcement_id)
    known = queries.read_times(session, member_id, [announcement_id])
    if announcement_id in known:
        return known[announcement_id]
    row = AnnouncementRead(announcement_id=announcement_id, member_id=member_id, read_at=utcnow())
    session.add(row)
    try:
        session.commit()
    except IntegrityError:  # a second tab read it at the same moment
        session.rollback()
        return queries.read_times(session, member_id, [announcement_id])[announcement_id]
    return row.read_at
