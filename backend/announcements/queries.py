"""Reads of announcements. Never commit.

A member sees an announcement once its publish time has come, until it is withdrawn, if the
member belongs to its audience now (the audience is a filter, evaluated at read time).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, exists, false, func, or_, select, true
from sqlalchemy.orm import Session

from backend.accounts.models import FundAccount
from backend.announcements.models import Announcement, AnnouncementRead
from backend.announcements.rules import ACTIVE_ACCOUNT_STATUSES, LOAN_HOLDER_STATUSES
from backend.channels.models import SubscriptionConsent
from backend.clock import utcnow
from backend.errors import NotFound
from backend.loans.models import LoanContract
from backend.members.models import Member
from backend.pagination import keyset_page


@dataclass(frozen=True)
class Seen:
    """An announcement as one member sees it (with the member's read state)."""

    id: int
    title: str
    body: str
    audience: str
    published_at: dt.datetime
    read_at: dt.datetime | None

    @property
    def read(self) -> bool:
        return self.read_at is not None


def seen(announcement: Announcement, read_at: dt.datetime | None) -> Seen:
    return Seen(
        id=announcement.id,
        title=announcement.title,
        body=announcement.body,
        audience=announcement.audience,
        published_at=announcement.published_at,
        read_at=read_at,
    )


def member_in_audience(audience: str, member_id: Any) -> ColumnElement[bool]:
    """SQL: the member (an id or an id column) belongs to ``audience``."""
    if audience == "loan_holders":
        return exists().where(
            LoanContract.member_id == member_id, LoanContract.status.in_(LOAN_HOLDER_STATUSES)
        )
    if audience == "active_accounts":
        return exists().where(
            FundAccount.member_id == member_id, FundAccount.status.in_(ACTIVE_ACCOUNT_STATUSES)
        )
    return true() if audience == "everyone" else false()


def _audiences_of(member_id: int) -> ColumnElement[bool]:
    return or_(
        Announcement.audience == "everyone",
        and_(
            Announcement.audience == "loan_holders", member_in_audience("loan_holders", member_id)
        ),
        and_(
            Announcement.audience == "active_accounts",
            member_in_audience("active_accounts", member_id),
        ),
    )


def _visible(member_id: int, now: dt.datetime) -> Select[Any]:
    return select(Announcement).where(
        Announcement.published_at <= now,
        Announcement.withdrawn_at.is_(None),
        _audiences_of(member_id),
    )


def read_times(
    session: Session, member_id: int, announcement_ids: Sequence[int]
) -> dict[int, dt.datetime]:
    """When the member read each of these announcements (unread ones are absent)."""
    if not announcement_ids:
        return {}
    rows = session.execute(
        select(AnnouncementRead.announcement_id, AnnouncementRead.read_at).where(
            AnnouncementRead.member_id == member_id,
            AnnouncementRead.announcement_id.in_(announcement_ids),
        )
    )
    return {announcement_id: read_at for announcement_id, read_at in rows}


def list_for_member(
    session: Session, member_id: int, *, cursor: str | None, limit: int
) -> tuple[list[Seen], str | None]:
    """Visible announcements with the member's read state, newest first."""
    rows, next_cursor = keyset_page(
        session,
        _visible(member_id, utcnow()),
        [Announcement.published_at, Announcement.id],
        cursor=cursor,
        limit=limit,
    )
    read = read_times(session, member_id, [a.id for a in rows])
    return [seen(a, read.get(a.id)) for a in rows], next_cursor


def get_for_member(session: Session, member_id: int, announcement_id: int) -> Seen:
    found = session.scalars(
        _visible(member_id, utcnow()).where(Announcement.id == announcement_id)
    ).first()
    if found is None:
        raise NotFound("未找到该公告，可能已撤回", error_code="announcement.not_found")
    return seen(found, read_times(session, member_id, [found.id]).get(found.id))


def unread_count(session: Session, member_id: int) -> int:
    read = exists().where(
        AnnouncementRead.announcement_id == Announcement.id,
        AnnouncementRead.member_id == member_id,
    )
    visible = _visible(member_id, utcnow()).where(~read).subquery()
    return session.scalar(select(func.count()).select_from(visible)) or 0


def by_number(session: Session, announcement_no: str, *, lock: bool = False) -> Announcement | None:
    stmt = select(Announcement).where(Announcement.announcement_no == announcement_no)
    if lock:
        stmt = stmt.with_for_update()
    return session.scalars(stmt).first()


def recipients_batch(
    session: Session,
    announcement: Announcement,
    template_ids: Sequence[tuple[str, str]],
    *,
    after: int,
    limit: int,
) -> list[int]:
    """The next ``limit`` member ids above ``after`` in the audience who hold a live consent
    (one-time sends left, or long-term) for the announcement template on some channel."""
    consented = exists().where(
        SubscriptionConsent.member_id == Member.id,
        or_(
            *[
                and_(
                    SubscriptionConsent.channel == channel,
                    SubscriptionConsent.template_id == template_id,
                )
                for channel, template_id in template_ids
            ]
        )
        if template_ids
        else false(),
        or_(SubscriptionConsent.remaining > 0, SubscriptionConsent.long_term.is_(True)),
    )
    stmt = (
        select(Member.id)
        .where(
            Member.id > after,
            member_in_audience(announcement.audience, Member.id),
            consented,
        )
        .order_by(Member.id)
        .limit(limit)
    )
    return list(session.scalars(stmt))
