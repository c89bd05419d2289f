"""Announcements from the core system: publish (with the push fan-out after commit) and withdraw.

``announcement_no`` is the core system's key. Publishing it again with the very same request is a
replay (200, same body, nothing pushed twice); the same key with anything different is a 409.
Withdrawing hides the announcement from every member and cancels the pushes not yet sent (their
carrier messages are marked deleted, which the delivery worker refuses to send).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import update
from sqlalchemy.orm import Session

from backend.announcements.models import Announcement
from backend.announcements.queries import by_number
from backend.announcements.rules import CARRIER_KIND, carrier_prefix, request_hash
from backend.clock import utcnow
from backend.errors import Conflict, NotFound
from backend.inbox.models import Message
from backend.integration.services import Caller, audit, commit_once, lost_race


def publish(
    session: Session,
    caller: Caller,
    *,
    announcement_no: str,
    title: str,
    body: str,
    audience: str = "everyone",
    published_at: dt.datetime | None = None,
) -> tuple[Announcement, bool]:
    """Create the announcement (committed). Returns ``(announcement, created)``."""
    fingerprint = request_hash(
        {
            "announcement_no": announcement_no,
            "title": title,
            "body": body,
            "audience": audience,
            "published_at": published_at,
        }
    )
    existing = by_number(session, announcement_no)
    if existing is not None:
        return _replay(session, caller, existing, fingerprint), False

    def write() -> Announcement:
        announcement = Announcement(
            announcement_no=announcement_no,
            title=title,
            body=body,
            audience=audience,
            published_at=published_at or utcnow(),
            request_hash=fingerprint,
        )
        session.add(announcement)
        session.flush()
        audit(
            session,
            caller,
            "internal.announcement",
            None,
            announcement_no=announcement_no,
            audience=audience,
        )
        return announcement

    created = commit_once(session, write)
    if created is None:
        winner = lost_race(by_number(session, announcement_no))
        return _replay(session, caller, winner, fingerprint), False
    return created, True


def _replay(
    session: Session, caller: Caller, announcement: Announcement, fingerprint: str
) -> Announcement:
    if announcement.request_hash != fingerprint:
        raise Conflict("该公告编号已用不同内容发布", error_code="announcement.number_conflict")
    audit(
        session,
        caller,
        "internal.announcement",
        None,
        announcement_no=announcement.announcement_no,
        replayed=True,
    )
    session.commit()
    return announcement


def withdraw(
    session: Session, caller: Caller, announcement_no: str, *, reason: str | None = None
) -> tuple[Announcement, bool]:
    """Hide the announcement. Withdrawing it again with the same reason is a replay (returns
    ``created=False``); with another reason, a 409."""
    announcement = by_number(session, announcement_no, lock=True)
    if announcement is None:
        raise NotFound("未找到该公告", error_code="announcement.not_found")
    if announcement.withdrawn_at is not None:
        if announcement.withdraw_reason != reason:
            raise Conflict("该公告已以不同原因撤回", error_code="announcement.already_withdrawn")
        _audit_withdraw(session, caller, announcement, replayed=True)
        session.commit()
        return announcement, False
    announcement.withdrawn_at = utcnow()
    announcement.withdraw_reason = reason
    # Pending pushes of the announcement: their carriers deleted, the worker refuses to send.
    session.execute(
        update(Message)
        .where(
            Message.kind == CARRIER_KIND,
            Message.dedupe_key.like(carrier_prefix(announcement.id) + "%"),
            Message.deleted_at.is_(None),
        )
        .values(deleted_at=announcement.withdrawn_at)
        .execution_options(synchronize_session=False)
    )
    _audit_withdraw(session, caller, announcement, replayed=False)
    session.commit()
    return announcement, True


def _audit_withdraw(
    session: Session, caller: Caller, announcement: Announcement, **detail: Any
) -> None:
    audit(
        session,
        caller,
        "internal.announcement_withdraw",
        None,
        announcement_no=announcement.announcement_no,
        **detail,
    )
