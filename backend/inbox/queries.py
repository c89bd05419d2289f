"""Reads of a member's inbox: 消息 / 已阅 lists, 待办, the unread badge. Never commit.

Every read filters on the member: another member's message is simply not found (404), so ids
reveal nothing.
"""

from __future__ import annotations

import datetime as dt
import functools
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Row, Select, bindparam, func, inspect, select
from sqlalchemy.orm import Mapper, Session, joinedload

from backend.errors import NotFound
from backend.inbox.models import Message
from backend.pagination import KeysetQuery, keyset_page

MESSAGE_STATUSES = ("unread", "read")
TODO_STATUSES = ("open", "done")


def _visible(member_id: int, kind: str) -> Select[Any]:
    return (
        select(Message)
        .options(joinedload(Message.application))
        .where(
            Message.member_id == member_id,
            Message.kind == kind,
            Message.deleted_at.is_(None),
        )
    )


@functools.cache
def _application() -> Mapper[Any]:
    """The mapping of the application a message concerns, through ``Message.application`` (the
    inbox sits below the applications feature: it names their table and class only so)."""
    return inspect(Message).relationships["application"].mapper


@dataclass(frozen=True, slots=True)
class LinkedApplication:
    """The application (我发起的) a listed message concerns, as the list shows it; its names
    are the application model's own (``kind_name``, ``status_name``)."""

    id: int
    application_no: str
    kind: str
    status: str

    @property
    def kind_name(self) -> str:
        name: str = _application().class_.kind_name.fget(self)
        return name

    @property
    def status_name(self) -> str:
        name: str = _application().class_.status_name.fget(self)
        return name


@dataclass(frozen=True, slots=True)
class MessageItem:
    """A message of the 消息 / 已阅 list: the columns ``MessageSchema`` shows."""

    id: int
    kind: str
    business_name: str
    content: str
    source_channel: str
    business_type: str
    sent_at: dt.datetime
    read_at: dt.datetime | None
    application: LinkedApplication | None


@functools.cache
def _messages(status: str | None) -> KeysetQuery:
    """消息 / 已阅 / both, newest first, with the linked application (built once per status).
    Table columns, not entities: the list needs no ORM objects (:class:`KeysetQuery`)."""
    m = Message.__table__.c
    application = _application().local_table
    a = application.c
    stmt = (
        select(
            m.id,
            m.kind,
            m.business_name,
            m.content,
            m.source_channel,
            m.business_type,
            m.sent_at,
            m.read_at,
            a.id.label("application_id"),
            a.application_no,
            a.kind.label("application_kind"),
            a.status.label("application_status"),
        )
        .select_from(Message.__table__.outerjoin(application, m.application_id == a.id))
        .where(
            m.member_id == bindparam("member_id"),
            m.kind == "message",
            m.deleted_at.is_(None),
        )
    )
    if status == "unread":
        stmt = stmt.where(m.read_at.is_(None))
    elif status == "read":
        stmt = stmt.where(m.read_at.is_not(None))
    return KeysetQuery(stmt, [m.sent_at, m.id])


def _message_item(row: Row[Any]) -> MessageItem:
    application = None
    if row.application_id is not None:
        application = LinkedApplication(
            row.application_id, row.application_no, row.application_kind, row.application_status
        )
    return MessageItem(
        row.id,
        row.kind,
        row.business_name,
        row.content,
        row.source_channel,
        row.business_type,
        row.sent_at,
        row.read_at,
        application,
    )


def list_messages(
    session: Session, member_id: int, *, status: str | None, cursor: str | None, limit: int
) -> tuple[list[MessageItem], str | None]:
    """消息 (``unread``), 已阅 (``read``) or both, newest first back to the first ever sent."""
    if status not in (None, *MESSAGE_STATUSES):
        status = None
    rows, next_cursor = _messages(status).page(
        session, {"member_id": member_id}, cursor=cursor, limit=limit
    )
    return [_message_item(row) for row in rows], next_cursor


def list_todos(
    session: Session, member_id: int, *, status: str | None, cursor: str | None, limit: int
) -> tuple[list[Message], str | None]:
    """待办, newest first; ``open`` = not yet done by the core system's word."""
    stmt = _visible(member_id, "todo")
    if status == "open":
        stmt = stmt.where(Message.done_at.is_(None))
    elif status == "done":
        stmt = stmt.where(Message.done_at.is_not(None))
    return keyset_page(session, stmt, [Message.sent_at, Message.id], cursor=cursor, limit=limit)


def get_item(session: Session, member_id: int, item_id: int, kind: str) -> Message:
    item = session.scalars(_visible(member_id, kind).where(Message.id == item_id)).first()
    if item is None:
        if kind == "todo":
            raise NotFound("未找到该待办", error_code="todo.not_found")
        raise NotFound("未找到该消息，可能已被删除", error_code="message.not_found")
    return item


def unread_count(session: Session, member_id: int) -> int:
    return (
        session.scalar(
            select(func.count(Message.id)).where(
                Message.member_id == member_id,
                Message.kind == "message",
                Message.read_at.is_(None),
                Message.deleted_at.is_(None),
            )
        )
        or 0
    )


def open_todo_count(session: Session, member_id: int) -> int:
    return (
        session.scalar(
            select(func.count(Message.id)).where(
                Message.member_id == member_id,
                Message.kind == "todo",
                Message.done_at.is_(None),
                Message.deleted_at.is_(None),
            )
        )
        or 0
    )


def message_by_dedupe_key(
    session: Session, key: str, *, with_application: bool = False
) -> Message | None:
    """The message a sender already wrote under ``key`` (every idempotent writer checks here)."""
    stmt = select(Message).where(Message.dedupe_key == key)
    if with_application:
        stmt = stmt.options(joinedload(Message.application))
    return session.scalars(stmt).first()
