"""The push fan-out of a published announcement (公告).

It goes through the one push pipeline: for each member of the audience who holds a consent for
the announcement template, :func:`backend.inbox.services.post_message` writes a carrier message
(kind ``notice``, kept out of the 消息/待办/已阅 lists) and queues its deliveries in the same
transaction; the after-commit hook dispatches them. Members are taken in id order, a batch per
transaction, and the announcement row keeps the last id done, so a large audience never holds one
long transaction and an interrupted fan-out resumes where it stopped (``gjj announcements
fanout``, the worker's beat). Carrier dedupe keys make a re-run push nobody twice.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from backend.announcements import queries
from backend.announcements.models import Announcement
from backend.announcements.rules import CARRIER_BUSINESS_TYPE, CARRIER_KIND, carrier_key
from backend.clock import utcnow
from backend.inbox.services import post_message
from backend.members.models import APP_CHANNELS
from backend.push.templates import Templates

CARRIER_NAME = "公告"


def announcement_templates(templates: Templates) -> list[tuple[str, str]]:
    """(channel, template id) of the announcement template on each app channel."""
    found = []
    for channel in APP_CHANNELS:
        template = templates.for_message(channel, CARRIER_BUSINESS_TYPE)
        if template is not None:
            found.append((channel, template.template_id))
    return found


@dataclass(frozen=True)
class BatchResult:
    done: bool
    pushed: int


def fanout_batch(
    session: Session, templates: Templates, announcement_id: int, *, batch_size: int
) -> BatchResult:
    """One batch of the fan-out, in one transaction (committed). ``done``: nothing left to do
    (finished, withdrawn, or not yet due)."""
    now = utcnow()
    announcement = session.scalars(
        select(Announcement).where(Announcement.id == announcement_id).with_for_update()
    ).one()
    if (
        announcement.withdrawn_at is not None
        or announcement.fanout_done_at is not None
        or announcement.published_at > now
    ):
        session.rollback()
        return BatchResult(done=True, pushed=0)
    member_ids = queries.recipients_batch(
        session,
        announcement,
        announcement_templates(templates),
        after=announcement.fanout_after,
        limit=batch_size,
    )
    pushed = 0
    for member_id in member_ids:
        _, created = post_message(
            session,
            member_id=member_id,
            kind=CARRIER_KIND,
            business_name=CARRIER_NAME,
            content=announcement.title,
            business_type=CARRIER_BUSINESS_TYPE,
            dedupe_key=carrier_key(announcement.id, member_id),
            sent_at=now,
        )
        pushed += int(created)
    if member_ids:
        announcement.fanout_after = member_ids[-1]
    announcement.pushed += pushed
    done = len(member_ids) < batch_size
    if done:
        announcement.fanout_done_at = now
    session.commit()
    return BatchResult(done=done, pushed=pushed)


def fanout(
    sessions: sessionmaker[Session], templates: Templates, announcement_id: int, *, batch_size: int
) -> int:
    """The whole fan-out of one announcement, batch after batch; returns the members pushed."""
    pushed = 0
    while True:
        with sessions() as session:
            result = fanout_batch(session, templates, announcement_id, batch_size=batch_size)
        pushed += result.pushed
        if result.done:
            return pushed


def due_for_fanout(session: Session) -> list[int]:
    """Announcements whose publish time has come and whose fan-out is not finished."""
    return list(
        session.scalars(
            select(Announcement.id)
            .where(
                Announcement.fanout_done_at.is_(None),
                Announcement.withdrawn_at.is_(None),
                Announcement.published_at <= utcnow(),
            )
            .order_by(Announcement.id)
        )
    )


def fanout_due(sessions: sessionmaker[Session], templates: Templates, *, batch_size: int) -> int:
    """Fan out every due announcement (scheduled ones whose time came, interrupted ones)."""
    with sessions() as session:
        due = due_for_fanout(session)
    return sum(fanout(sessions, templates, i, batch_size=batch_size) for i in due)
