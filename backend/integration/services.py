"""Core-system writes that are not ledger or loan entries: messages, to-dos, application events.

Every use case runs in one transaction: the domain change, the member's message with its pending
push deliveries (``post_message``) and the audit event commit together or not at all. A replay
(same dedupe key / event id) changes nothing and answers like the first call.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload

from backend.accounts.models import FundAccount
from backend.applications.models import Application
from backend.applications.services import apply_event
from backend.audit.services import RequestOrigin, record
from backend.clock import utcnow
from backend.errors import Conflict, NotFound, ValidationFailed
from backend.idempotency.services import canonical, same_request
from backend.inbox.models import Message
from backend.inbox.queries import message_by_dedupe_key
from backend.inbox.services import post_message
from backend.members.models import Member
from backend.pii import PiiVault

logger = logging.getLogger(__name__)

T = TypeVar("T")

# Stored dedupe keys are namespaced by source, so a key the core system picks for a message can
# never collide with one the hall derives for a ledger entry or an event.
MESSAGE_KEY = "msg:{}"
APPLICATION_EVENT_KEY = "app:{}:{}"


@dataclass(frozen=True)
class Caller:
    """Who is calling (``internal:<key id>``) and from where, for the audit trail."""

    key_id: str
    origin: RequestOrigin

    @property
    def actor(self) -> str:
        return f"internal:{self.key_id}"


def audit(
    session: Session, caller: Caller, action: str, member_id: int | None, **detail: object
) -> None:
    record(session, action, member_id=member_id, actor=caller.actor, origin=caller.origin, **detail)


def commit_once(session: Session, write: Callable[[], T]) -> T | None:
    """Run ``write`` and commit. ``None`` when a unique constraint refused it: a concurrent call
    with the same key committed first. The session is then rolled back, and the caller answers as
    a replay (see :func:`lost_race`)."""
    try:
        result = write()
        session.commit()
    except IntegrityError:
        session.rollback()
        return None
    return result


def fingerprint(pii: PiiVault, method: str, path: str, args: Mapping[str, Any]) -> str:
    """The whole request as the API understood it (method, path, parsed body), so two spellings
    of one request (a default written out, an offset, a lower-case x) are the same request. Keyed
    (HMAC with the look-up key): the stored hash gives no way to test guessed ID numbers."""
    return pii.lookup("request:" + canonical({"method": method, "path": path, "body": args}))


def replay_of(
    session: Session, key: str, request_hash: str, *, with_application: bool = False
) -> Message | None:
    """The message already written under ``key`` when this request is its replay; ``None`` when
    the key is new; 409 ``idempotency.key_reused`` when another request used it."""
    message = message_by_dedupe_key(session, key, with_application=with_application)
    if message is not None:
        same_request(message.request_hash, request_hash)
    return message


def lost_race(winner: T | None) -> T:
    """The winner of a race on a dedupe key; none found means the violation was something else."""
    if winner is None:
        raise Conflict("请求与当前数据冲突，请稍后重试", error_code="internal.write_conflict")
    return winner


def find_member(
    session: Session, pii: PiiVault, *, id_number: str | None, account_no: str | None
) -> Member:
    """The member named by ID number (via its keyed hash) or by fund account number."""
    if id_number:
        member = session.scalars(
            select(Member).where(Member.id_number_hash == pii.id_lookup(id_number))
        ).first()
    else:
        member = session.scalars(
            select(Member)
            .join(FundAccount, FundAccount.member_id == Member.id)
            .where(FundAccount.account_no == account_no)
        ).first()
    if member is None:
        raise NotFound("未找到该缴存职工", error_code="member.not_found")
    return member


def find_application(
    session: Session, application_no: str, *, member_id: int | None = None, lock: bool = False
) -> Application:
    stmt = (
        select(Application)
        .options(selectinload(Application.nodes))
        .where(Application.application_no == application_no)
    )
    if lock:
        stmt = stmt.with_for_update()
    application = session.scalars(stmt).first()
    if application is None or (member_id is not None and application.member_id != member_id):
        raise NotFound("未找到该业务", error_code="application.not_found")
    return application


def post_core_message(
    session: Session,
    pii: PiiVault,
    caller: Caller,
    *,
    request_hash: str,
    dedupe_key: str,
    business_name: str,
    content: str,
    kind: str = "message",
    id_number: str | None = None,
    account_no: str | None = None,
    source_channel: str = "核心业务系统",
    business_type: str = "notice",
    application_no: str | None = None,
    due_at: dt.datetime | None = None,
    sent_at: dt.datetime | None = None,
) -> tuple[Message, bool]:
    """A message or to-do for a member. Returns ``(message, created)``."""
    key = MESSAGE_KEY.format(dedupe_key)
    existing = replay_of(session, key, request_hash, with_application=True)
    if existing is not None:
        return _message_replay(session, caller, existing), False
    if kind != "todo" and due_at is not None:
        raise ValidationFailed(
            "只有待办可以设置办理期限", errors={"due_at": ["仅 kind=todo 时可填写"]}
        )
    member = find_member(session, pii, id_number=id_number, account_no=account_no)
    application = (
        find_application(session, application_no, member_id=member.id) if application_no else None
    )

    def write() -> Message | None:
        message, created = post_message(
            session,
            member_id=member.id,
            kind=kind,
            business_name=business_name,
            content=content,
            business_type=business_type,
            source_channel=source_channel,
            application_id=application.id if application else None,
            due_at=due_at,
            dedupe_key=key,
            sent_at=sent_at,
            request_hash=request_hash,
        )
        if not created:
            # A twin with this key committed after our first look: answer as its replay (or
            # 409 when it was another request), never as a second creation.
            return None
        audit(session, caller, "internal.message", member.id, message_id=message.id, kind=kind)
        return message

    message = commit_once(session, write)
    if message is None:
        winner = lost_race(replay_of(session, key, request_hash, with_application=True))
        return _message_replay(session, caller, winner), False
    return message, True


def _message_replay(session: Session, caller: Caller, message: Message) -> Message:
    audit(
        session, caller, "internal.message", message.member_id, message_id=message.id, replayed=True
    )
    session.commit()
    return message


def mark_todo_done(
    session: Session, caller: Caller, todo_id: int, *, done_at: dt.datetime | None = None
) -> Message:
    """The core system says the to-do is done. Saying it twice keeps the first time."""
    todo = session.scalars(
        select(Message)
        .options(selectinload(Message.application))
        .where(Message.id == todo_id, Message.kind == "todo")
    ).first()
    if todo is None:
        raise NotFound("未找到该待办", error_code="todo.not_found")
    replayed = todo.done_at is not None
    if not replayed:
        todo.done_at = done_at or utcnow()
    audit(
        session, caller, "internal.todo_done", todo.member_id, message_id=todo.id, replayed=replayed
    )
    session.commit()
    return todo


def record_application_event(
    session: Session,
    caller: Caller,
    application_no: str,
    *,
    request_hash: str,
    event_id: str,
    event: str,
    node: str | None = None,
    opinion: str | None = None,
    handler: str | None = None,
    at: dt.datetime | None = None,
) -> tuple[Application, bool]:
    """An event on an application (我发起的) and the member's message about it."""
    key = APPLICATION_EVENT_KEY.format(application_no, event_id)
    application = find_application(session, application_no, lock=True)
    if replay_of(session, key, request_hash) is not None:
        return _event_replay(session, caller, application, event_id), False

    def write() -> Application:
        apply_event(
            session,
            application,
            event=event,
            node=node,
            opinion=opinion,
            handler=handler,
            at=at,
            dedupe_key=key,
            request_hash=request_hash,
        )
        audit(
            session,
            caller,
            "internal.application_event",
            application.member_id,
            application_no=application_no,
            event_id=event_id,
            event=event,
        )
        return application

    if commit_once(session, write) is None:
        lost_race(replay_of(session, key, request_hash))
        winner = find_application(session, application_no)
        return _event_replay(session, caller, winner, event_id), False
    return application, True


def _event_replay(
    session: Session, caller: Caller, application: Application, event_id: str
) -> Application:
    audit(
        session,
        caller,
        "internal.application_event",
        application.member_id,
        application_no=application.application_no,
        event_id=event_id,
        replayed=True,
    )
    session.commit()
    return application
