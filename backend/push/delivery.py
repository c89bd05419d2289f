"""Delivering one push, and sweeping stragglers. Jobs carry a delivery id and re-read the rows.

A delivery is sent at most once: a worker first *claims* it by compare-and-set
(``pending → sending`` where it is still pending, rowcount 1 wins), and only the winner calls the
platform. Right before the request leaves (signed, built), the worker commits ``send_started_at``
on its claim, again by compare-and-set: a claim the sweeper took back meanwhile sends nothing.

A worker that dies leaves a ``sending`` row whose lock expires. If its send never started, the
platform has nothing: the sweeper puts the row back to ``pending`` (the consent the claim spent
given back) and hands it to a live worker. If the send had started, the platform may have it: the
sweeper marks it ``failed``/``worker_lost`` and it is never sent again; a business type that falls
back to SMS (``GJJ_PUSH_SMS_FALLBACK_KINDS``) goes out by SMS then, as after a failure. Whatever
the channel does, the inbox message itself is already committed and stays.

No transaction is held open across a platform call.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, and_, bindparam, or_, select, text, update
from sqlalchemy.orm import Session

from adapters.base import KeywordValueError
from adapters.errors import ChannelError, ConsentRequiredError
from backend import clock
from backend.channels.models import ChannelIdentity, SubscriptionConsent
from backend.inbox.models import Message
from backend.members.models import Member
from backend.push import services
from backend.push.metrics import PUSH_FINISHED, PUSH_SEND_ERRORS, PUSH_SEND_SECONDS
from backend.push.models import PushDelivery
from backend.push.rules import backoff_seconds
from backend.push.templates import Template, Templates
from backend.runtime import Core

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Outcome:
    """What became of one attempt. ``retry_in``: schedule the same id again after that many
    seconds; ``fallback_id``: a new (SMS) delivery to dispatch."""

    status: str  # sent | rejected | failed | retry | skipped
    code: str | None = None
    retry_in: float | None = None
    fallback_id: int | None = None


@dataclass(frozen=True)
class Senders:
    """The channel clients (``send_subscription``) and the SMS sender (``send``)."""

    channels: Any
    sms: Any
    templates: Templates


@dataclass(frozen=True)
class _Plan:
    recipient: str
    template: Template | None
    data: dict[str, str]
    page: str | None
    text: str = ""


class ClaimLost(Exception):
    """The sweeper took this worker's claim back (its lock had expired) before the send started:
    another worker has the delivery now, so this one sends nothing."""


class _Reject(Exception):
    """Nothing to send. ``status`` rejected: the member's side (no binding, no consent…);
    failed: ours (a template value the platform would refuse), for an operator to fix."""

    def __init__(self, code: str, status: str = "rejected", message: str | None = None) -> None:
        super().__init__(code)
        self.code = code
        self.status = status
        self.message = message


def claim(rt: Core, delivery_id: int, now: dt.datetime) -> bool:
    with rt.session() as session:
        won = delivery_id in _claim(rt, session, (PushDelivery.id == delivery_id, *_due(now)), now)
        session.commit()
        return won


def deliver(rt: Core, delivery_id: int, senders: Senders) -> Outcome:
    """One delivery: :func:`deliver_many` of one."""
    return deliver_many(rt, [delivery_id], senders)[delivery_id]


@dataclass(frozen=True)
class _Claim:
    """A delivery this worker claimed, as the claim's ``RETURNING`` gave it."""

    id: int
    message_id: int
    member_id: int
    channel: str
    attempts: int


@dataclass(frozen=True)
class _Ready:
    delivery_id: int
    member_id: int
    channel: str
    attempts: int
    plan: _Plan


def deliver_many(rt: Core, delivery_ids: Sequence[int], senders: Senders) -> dict[int, Outcome]:
    """Deliver each of ``delivery_ids`` once, in as few transactions as the outcomes allow.

    The first transaction claims them all (one compare-and-set ``UPDATE``: the ids another
    worker holds, or that are not due, answer ``skipped``), reads what the plans need in one
    query per table and spends the consents; nothing is sent before it commits, so a crash
    there undoes it all. Then each platform call, with no transaction open, each preceded by
    its one-statement start mark; then the outcomes: every ``sent`` in one ``UPDATE``, the
    rarer refusals and failures one by one."""
    now = clock.utcnow()
    with rt.session() as session:
        claimed = _claim(rt, session, (PushDelivery.id.in_(delivery_ids), *_due(now)), now)
        prepared = _prepare(rt, session, claimed, senders)
    outcomes = {i: Outcome("skipped") for i in delivery_ids if i not in claimed}
    outcomes.update(_carry_out(rt, prepared, senders))
    return outcomes


def deliver_due(rt: Core, senders: Senders, limit: int) -> dict[int, Outcome]:
    """:func:`deliver_many` of the ``limit`` oldest due deliveries that no other worker is
    claiming at this moment (``FOR UPDATE SKIP LOCKED`` on PostgreSQL): how the pools of all
    serving processes share whatever is due, whichever process committed it. Empty when
    nothing is due."""
    now = clock.utcnow()
    # A CTE, evaluated once: as a plain ``IN (subquery … LIMIT)`` PostgreSQL may run the locking
    # subquery more than once and claim more than ``limit`` rows.
    due = (
        select(PushDelivery.id)
        .where(*_due(now))
        .order_by(PushDelivery.next_attempt_at, PushDelivery.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
        .cte("due")
    )
    with rt.session() as session:
        with _unsorted(session):
            # The rows ``due`` locked are due: the claim finds them by primary key.
            claimed = _claim(rt, session, (PushDelivery.id.in_(select(due.c.id)),), now)
        prepared = _prepare(rt, session, claimed, senders)
    return _carry_out(rt, prepared, senders)


_NO_SORT = text("SET LOCAL enable_sort = off")
_SORT = text("SET LOCAL enable_sort TO DEFAULT")


@contextmanager
def _unsorted(session: Session) -> Iterator[None]:
    """PostgreSQL plans the statements inside without a sort (when it has another way), so a
    claim, or the sweeper's list, walks the pending index in due order and stops after its
    chunk. The table's statistics describe a quiet day, or nothing yet: planned from them, a
    burst's claim read the whole backlog through a bitmap and sorted it, for every chunk (27-29
    ms a claim at 45,000 pending)."""
    if session.get_bind().dialect.name != "postgresql":
        yield
        return
    session.execute(_NO_SORT)
    yield
    session.execute(_SORT)


def any_due(rt: Core) -> bool:
    """Whether a pending delivery is due: one look at the due index."""
    now = clock.utcnow()
    with rt.session() as session:
        return session.scalar(select(PushDelivery.id).where(*_due(now)).limit(1)) is not None


def _due(now: dt.datetime) -> tuple[Any, ...]:
    """A pending delivery whose time has come (the partial index ``ix_push_deliveries_pending``
    holds exactly the pending rows)."""
    return (PushDelivery.status == "pending", PushDelivery.next_attempt_at <= now)


@dataclass(frozen=True)
class _Prepared:
    """Claims whose transaction committed: the ones to send, the ones refused before sending."""

    ready: list[_Ready]
    refused: list[tuple[int, str, _Reject]]


def _prepare(rt: Core, session: Session, claimed: dict[int, _Claim], senders: Senders) -> _Prepared:
    """Plans the claims, spends their consents and commits them with the claim: nothing is
    sent before this commit, so a crash up to here undoes it all."""
    prepared = _Prepared([], [])
    if not claimed:
        session.rollback()
        return prepared
    spent: dict[str, list[int]] = {}
    deliveries = [claimed[i] for i in sorted(claimed)]
    context = _Context.read(session, deliveries)
    for delivery in deliveries:
        try:
            plan = _plan(rt, context, delivery, senders)
            template_id = plan.template.template_id if plan.template else None
            if (
                template_id is not None
                and (delivery.member_id, delivery.channel, template_id) not in context.long_term
            ):
                if not services.spend_consent(
                    session, delivery.member_id, delivery.channel, template_id
                ):
                    raise _Reject("no_consent")
                spent.setdefault(template_id, []).append(delivery.id)
        except _Reject as reject:
            prepared.refused.append((delivery.id, delivery.channel, reject))
            continue
        prepared.ready.append(
            _Ready(delivery.id, delivery.member_id, delivery.channel, delivery.attempts, plan)
        )
    _remember_consents(session, spent)
    session.commit()  # the claims, and the consents spent: _finish writes the outcomes over
    return prepared


def _carry_out(rt: Core, prepared: _Prepared, senders: Senders) -> dict[int, Outcome]:
    """The refusals written, then each platform call with no transaction open, each preceded
    by its start mark; every ``sent`` in one ``UPDATE`` at the end."""
    outcomes: dict[int, Outcome] = {}
    for delivery_id, channel, why in prepared.refused:
        outcomes[delivery_id] = _finish(
            rt, delivery_id, why.status, why.code, why.message, channel=channel
        )
    if not prepared.ready:
        return outcomes
    sent: list[_Ready] = []
    # Marks commit one statement each (autocommit): no transaction is open during a send.
    with rt.engine.connect() as marks:
        marks.execution_options(isolation_level="AUTOCOMMIT")
        try:
            for item in prepared.ready:
                before_send = _StartMark(rt, marks, item.delivery_id, item.attempts)
                outcome = _send(rt, senders, item, before_send)
                if outcome is None:
                    sent.append(item)
                else:
                    outcomes[item.delivery_id] = outcome
        finally:
            # Even when a later send crashes the chunk, the ones that went out are written.
            if sent:
                _finish_sent(rt, sent)
                outcomes.update({item.delivery_id: Outcome("sent") for item in sent})
    return outcomes


def _send(rt: Core, senders: Senders, item: _Ready, before_send: _StartMark) -> Outcome | None:
    """One platform call; ``None`` when it was sent (written with the chunk's others)."""
    plan, channel = item.plan, item.channel
    started = time.perf_counter()
    try:
        if channel == "sms":
            senders.sms.send(plan.recipient, "push", "", plan.text, before_send=before_send)
        else:
            assert plan.template is not None
            senders.channels.sender(channel).send_subscription(
                plan.recipient,
                plan.template.template_id,
                plan.data,
                plan.page,
                before_send=before_send,
            )
    except ClaimLost:
        logger.info("push claim taken back before sending", extra={"delivery_id": item.delivery_id})
        return Outcome("skipped")
    except ChannelError as exc:
        PUSH_SEND_SECONDS.labels(channel).observe(time.perf_counter() - started)
        PUSH_SEND_ERRORS.labels(channel, _error_code(exc)).inc()
        return _failed_attempt(
            rt, item.delivery_id, item.member_id, channel, item.attempts, plan, exc
        )
    PUSH_SEND_SECONDS.labels(channel).observe(time.perf_counter() - started)
    return None


# The start mark runs once per send: built once, so a mark costs the round trip and not the
# statement's construction and cache key (about 0.13 ms of CPU a send, measured).
_MARK = (
    update(PushDelivery)
    .where(
        PushDelivery.id == bindparam("delivery_id"),
        PushDelivery.status == "sending",
        PushDelivery.attempts == bindparam("claim_attempts"),
    )
    .values(send_started_at=bindparam("now"), locked_until=bindparam("lock_until"))
)


@dataclass(frozen=True)
class _StartMark:
    """``before_send`` of one delivery: commits ``send_started_at`` on this worker's claim (its
    ``attempts`` number identifies it) and extends the lock; :class:`ClaimLost` when the sweeper
    took the claim back. Calling it twice (a client's retry after a token refresh) is harmless."""

    rt: Core
    marks: Connection
    delivery_id: int
    attempts: int

    def __call__(self) -> None:
        now = clock.utcnow()
        result = self.marks.execute(
            _MARK,
            {
                "delivery_id": self.delivery_id,
                "claim_attempts": self.attempts,
                "now": now,
                "lock_until": now + dt.timedelta(seconds=self.rt.settings.push_lock_seconds),
            },
        )
        if result.rowcount != 1:
            raise ClaimLost(self.delivery_id)


def _remember_consents(session: Session, spent: dict[str, list[int]]) -> None:
    """Which one-time consent each claim spent: the sweeper gives it back if the send never
    starts."""
    for template_id, delivery_ids in spent.items():
        session.execute(
            update(PushDelivery)
            .where(PushDelivery.id.in_(delivery_ids))
            .values(consent_template_id=template_id)
            .execution_options(synchronize_session=False)
        )


def _claim(
    rt: Core, session: Session, which: tuple[Any, ...], now: dt.datetime
) -> dict[int, _Claim]:
    """The deliveries the conditions ``which`` select (they include :func:`_due`, or select
    rows this transaction locked as due), by id, with what the plans need (no second read of
    the rows)."""
    result = session.execute(
        update(PushDelivery)
        .where(*which)
        .values(
            status="sending",
            attempts=PushDelivery.attempts + 1,
            locked_until=now + dt.timedelta(seconds=rt.settings.push_lock_seconds),
            send_started_at=None,
            consent_template_id=None,
            updated_at=now,
        )
        .returning(
            PushDelivery.id,
            PushDelivery.message_id,
            PushDelivery.member_id,
            PushDelivery.channel,
            PushDelivery.attempts,
        )
        .execution_options(synchronize_session=False)
    )
    return {row.id: _Claim(*row) for row in result}


def _error_code(exc: ChannelError) -> str:
    code = exc.code or type(exc).__name__
    return f"{code}/{exc.sub_code}" if exc.sub_code else code


@dataclass(frozen=True)
class _Context:
    """What the plans of some deliveries need, read with one query per table."""

    messages: dict[int, Message]
    open_ids: dict[tuple[int, str], str]
    phones: dict[int, str | None]
    long_term: set[tuple[int, str, str]]

    @classmethod
    def read(cls, session: Session, deliveries: Sequence[_Claim]) -> _Context:
        message_ids = {d.message_id for d in deliveries}
        members = {d.member_id for d in deliveries}
        sms_members = {d.member_id for d in deliveries if d.channel == "sms"}
        messages = {
            m.id: m for m in session.scalars(select(Message).where(Message.id.in_(message_ids)))
        }
        open_ids = {
            (member_id, channel): open_id
            for member_id, channel, open_id in session.execute(
                select(
                    ChannelIdentity.member_id, ChannelIdentity.channel, ChannelIdentity.open_id
                ).where(ChannelIdentity.member_id.in_(members))
            )
        }
        phones: dict[int, str | None] = {}
        if sms_members:
            phones = dict(
                session.execute(
                    select(Member.id, Member.phone_enc).where(Member.id.in_(sms_members))
                ).all()
            )
        long_term = {
            (member_id, channel, template_id)
            for member_id, channel, template_id in session.execute(
                select(
                    SubscriptionConsent.member_id,
                    SubscriptionConsent.channel,
                    SubscriptionConsent.template_id,
                ).where(
                    SubscriptionConsent.member_id.in_(members),
                    SubscriptionConsent.long_term.is_(True),
                )
            )
        }
        return cls(messages, open_ids, phones, long_term)


def _plan(rt: Core, context: _Context, delivery: _Claim, senders: Senders) -> _Plan:
    message = context.messages.get(delivery.message_id)
    if message is None or message.deleted_at is not None:
        raise _Reject("message_deleted")
    if delivery.channel == "sms":
        phone = context.phones.get(delivery.member_id)
        if not phone:
            raise _Reject("no_phone")
        text = f"【{rt.settings.centre_name}】{message.business_name}：{message.content}"
        return _Plan(rt.pii.decrypt(phone), None, {}, None, text)
    open_id = context.open_ids.get((delivery.member_id, delivery.channel))
    if open_id is None:
        raise _Reject("not_bound")
    if not senders.channels.configured(delivery.channel):
        raise _Reject("channel_not_configured")
    template = senders.templates.for_message(delivery.channel, message.business_type)
    if template is None:
        raise _Reject("no_template")
    try:
        data, page = template.render(message, rt.settings.centre_name)
    except KeywordValueError as exc:
        # Checked before any consent is spent: the platform would refuse it (WeChat 47003).
        raise _Reject(exc.code, "failed", f"{template.template_id} {exc}") from None
    return _Plan(open_id, template, data, page)


def _failed_attempt(
    rt: Core,
    delivery_id: int,
    member_id: int,
    channel: str,
    attempts: int,
    plan: _Plan,
    exc: ChannelError,
) -> Outcome:
    code = _error_code(exc)
    template_id = plan.template.template_id if plan.template else None
    if template_id is not None:
        with rt.session() as session:
            if isinstance(exc, ConsentRequiredError):
                services.forget_consent(session, member_id, channel, template_id)
            elif exc.consent_unused:
                # Refused before the platform used the consent (43108, 47003, 41030, 40037, or
                # no verdict at all): the local count stays equal to the platform's.
                services.refund_consent(session, member_id, channel, template_id)
            session.commit()
    if not exc.retryable:
        # 43101 and its kind are expected at scale: info, not an alarm.
        return _finish(rt, delivery_id, "rejected", code, exc.message, channel=channel)
    if attempts >= rt.settings.push_max_attempts:
        logger.warning(
            "push gave up", extra={"delivery_id": delivery_id, "channel": channel, "code": code}
        )
        return _finish(rt, delivery_id, "failed", code, exc.message, channel=channel)
    delay = backoff_seconds(attempts, rt.settings.push_backoff_base, rt.settings.push_backoff_cap)
    return _finish(rt, delivery_id, "pending", code, exc.message, retry_in=delay, channel=channel)


def _finish(
    rt: Core,
    delivery_id: int,
    status: str,
    code: str | None = None,
    error: str | None = None,
    *,
    retry_in: float | None = None,
    channel: str,
) -> Outcome:
    now = clock.utcnow()
    values: dict[str, Any] = {
        "status": status,
        "locked_until": None,
        "last_error_code": code,
        "last_error": (error or None) and error[:300],
        "updated_at": now,
    }
    if status == "sent":
        values["sent_at"] = now
    if retry_in is not None:
        values["next_attempt_at"] = now + dt.timedelta(seconds=retry_in)
    with rt.session() as session:
        # Ours while 'sending'; if the sweeper already wrote it off as worker_lost, the truth
        # (e.g. it was sent after all) still wins over the guess.
        session.execute(
            update(PushDelivery)
            .where(PushDelivery.id == delivery_id, _still_ours())
            .values(**values)
        )
        session.commit()
        fallback_id = None
        if status in {"rejected", "failed"}:
            fallback_id = _sms_fallback(rt, session, delivery_id)
    PUSH_FINISHED.labels(channel, status, code or "").inc()
    log = logger.info if status in {"sent", "rejected", "pending"} else logger.warning
    log("push attempt", extra={"delivery_id": delivery_id, "status": status, "code": code})
    if status == "pending":
        return Outcome("retry", code, retry_in=retry_in)
    return Outcome(status, code, fallback_id=fallback_id)


def _finish_sent(rt: Core, sent: Sequence[_Ready]) -> None:
    """:func:`_finish` with ``sent`` for many deliveries: one ``UPDATE``, one commit."""
    now = clock.utcnow()
    with rt.session() as session:
        session.execute(
            update(PushDelivery)
            .where(PushDelivery.id.in_([item.delivery_id for item in sent]), _still_ours())
            .values(
                status="sent",
                locked_until=None,
                last_error_code=None,
                last_error=None,
                updated_at=now,
                sent_at=now,
            )
            .execution_options(synchronize_session=False)
        )
        session.commit()
    for item in sent:
        PUSH_FINISHED.labels(item.channel, "sent", "").inc()
        logger.info(
            "push attempt", extra={"delivery_id": item.delivery_id, "status": "sent", "code": None}
        )


def _still_ours() -> Any:
    """A delivery this worker claimed: still ``sending``, or written off as ``worker_lost`` by
    the sweeper meanwhile (the truth, e.g. it was sent after all, wins over that guess)."""
    return or_(
        PushDelivery.status == "sending",
        and_(PushDelivery.status == "failed", PushDelivery.last_error_code == "worker_lost"),
    )


def _sms_fallback(rt: Core, session: Session, delivery_id: int) -> int | None:
    kinds = rt.settings.push_sms_fallback_kinds
    if not kinds:
        return None
    row = session.execute(
        select(PushDelivery.channel, Message.id, Message.business_type)
        .join(Message, Message.id == PushDelivery.message_id)
        .where(PushDelivery.id == delivery_id)
    ).one()
    if row.channel == "sms" or row.business_type not in kinds:
        return None
    return services.queue_sms_fallback(session, row.id)


@dataclass(frozen=True)
class SweepResult:
    requeued: list[int]  # claims given back first, SMS fallbacks of the lost, then pending
    # deliveries nobody picked up
    lost: int  # sends that started and never finished: in doubt, written off, never re-sent
    given_back: int = 0  # claims of a dead worker that never reached the platform


def sweep(rt: Core, *, stale_after: int = 60, limit: int = 500) -> SweepResult:
    """Settle deliveries whose worker died (the lock expired): a claim whose send never started
    goes back to ``pending`` with its consent refunded; one whose send started is written off as
    ``worker_lost`` (the platform may have it), with its SMS fallback. Then list pending ones
    nobody picked up."""
    now = clock.utcnow()
    expired = (PushDelivery.status == "sending", PushDelivery.locked_until < now)
    with rt.session() as session:
        lost = list(
            session.scalars(
                update(PushDelivery)
                .where(*expired, PushDelivery.send_started_at.is_not(None))
                .values(
                    status="failed",
                    last_error_code="worker_lost",
                    last_error="worker lost while sending; not re-sent",
                    locked_until=None,
                    updated_at=now,
                )
                .returning(PushDelivery.id)
            )
        )
        given_back = _give_back_unsent(session, expired, now, limit)
        session.commit()
        # In doubt the push is never re-sent; a kind that falls back to SMS goes out by SMS (a
        # member may hear twice, never not at all).
        told = [fid for did in lost if (fid := _sms_fallback(rt, session, did)) is not None]
        with _unsorted(session):
            requeued = list(
                session.scalars(
                    select(PushDelivery.id)
                    .where(*_due(now - dt.timedelta(seconds=stale_after)))
                    .order_by(PushDelivery.next_attempt_at)
                    .limit(limit)
                )
            )
    if lost:
        logger.warning(
            "push sweeper: deliveries lost mid-send",
            extra={"count": len(lost), "sms_fallbacks": len(told)},
        )
    if given_back:
        logger.warning(
            "push sweeper: claims of a lost worker requeued", extra={"count": len(given_back)}
        )
    return SweepResult(
        requeued=given_back + told + requeued, lost=len(lost), given_back=len(given_back)
    )


def _give_back_unsent(session: Session, expired: Any, now: dt.datetime, limit: int) -> list[int]:
    """Expired claims that never started sending, back to ``pending`` and due now, each with the
    one-time consent it spent. The compare-and-set against the start mark decides a race with a
    worker that was only slow: whichever commits first wins, the other changes nothing."""
    unsent = session.execute(
        select(
            PushDelivery.id,
            PushDelivery.member_id,
            PushDelivery.channel,
            PushDelivery.consent_template_id,
        )
        .where(*expired, PushDelivery.send_started_at.is_(None))
        .order_by(PushDelivery.id)
        .limit(limit)
    ).all()
    if not unsent:
        return []
    taken = set(
        session.scalars(
            update(PushDelivery)
            .where(
                PushDelivery.id.in_([row.id for row in unsent]),
                *expired,
                PushDelivery.send_started_at.is_(None),
            )
            .values(
                status="pending",
                locked_until=None,
                next_attempt_at=now,
                consent_template_id=None,
                updated_at=now,
            )
            .returning(PushDelivery.id)
            .execution_options(synchronize_session=False)
        )
    )
    given_back = [row for row in unsent if row.id in taken]
    for row in given_back:
        if row.consent_template_id is not None:
            services.refund_consent(session, row.member_id, row.channel, row.consent_template_id)
    return [row.id for row in given_back]
