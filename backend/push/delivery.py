"""Delivering one push, and sweeping stragglers. Jobs carry a delivery id and re-read the rows.

A delivery is sent at most once: a worker first *claims* it by compare-and-set
(``pending → sending`` where it is still pending, rowcount 1 wins), and only the winner calls the
platform. A worker that dies mid-send leaves a ``sending`` row whose lock expires; the sweeper marks
it ``failed``/``worker_lost`` and never sends it again (the platform may have delivered it).
Whatever the channel does, the inbox message itself is already committed and stays.

No transaction is held open across a platform call.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, or_, select, update
from sqlalchemy.orm import Session

from adapters.base import KeywordValueError
from adapters.errors import ChannelError, ConsentRequiredError
from backend import clock
from backend.channels.models import ChannelIdentity
from backend.inbox.models import Message
from backend.members.models import Member
from backend.push import services
from backend.push.metrics import PUSH_FINISHED, PUSH_SEND_ERRORS, PUSH_SEND_SECONDS
from backend.push.models import PushDelivery
from backend.push.rules import backoff_seconds
from backend.push.templates import Template, Templates
from backend.runtime import Runtime

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


class _Reject(Exception):
    """Nothing to send. ``status`` rejected: the member's side (no binding, no consent…);
    failed: ours (a template value the platform would refuse), for an operator to fix."""

    def __init__(self, code: str, status: str = "rejected", message: str | None = None) -> None:
        super().__init__(code)
        self.code = code
        self.status = status
        self.message = message


def claim(rt: Runtime, delivery_id: int, now: dt.datetime) -> bool:
    with rt.session() as session:
        won = _claim(rt, session, delivery_id, now)
        session.commit()
        return won


def _claim(rt: Runtime, session: Session, delivery_id: int, now: dt.datetime) -> bool:
    result = session.execute(
        update(PushDelivery)
        .where(
            PushDelivery.id == delivery_id,
            PushDelivery.status == "pending",
            PushDelivery.next_attempt_at <= now,
        )
        .values(
            status="sending",
            attempts=PushDelivery.attempts + 1,
            locked_until=now + dt.timedelta(seconds=rt.settings.push_lock_seconds),
            updated_at=now,
        )
    )
    return result.rowcount == 1  # type: ignore[attr-defined]


def deliver(rt: Runtime, delivery_id: int, senders: Senders) -> Outcome:
    """Two transactions around the platform call: the claim with the plan and the consent it
    spends (nothing is sent yet, so a crash there undoes all three), then the outcome."""
    now = clock.utcnow()
    with rt.session() as session:
        if not _claim(rt, session, delivery_id, now):
            session.rollback()
            return Outcome("skipped")
        delivery = session.get(PushDelivery, delivery_id)
        assert delivery is not None  # we just claimed it
        try:
            plan = _plan(rt, session, delivery, senders)
            if plan.template is not None and not services.spend_consent(
                session, delivery.member_id, delivery.channel, plan.template.template_id
            ):
                raise _Reject("no_consent")
        except _Reject as reject:
            session.commit()  # the claim: _finish writes the outcome over it
            return _finish(
                rt,
                delivery_id,
                reject.status,
                reject.code,
                reject.message,
                channel=delivery.channel,
            )
        member_id, channel, attempts = delivery.member_id, delivery.channel, delivery.attempts
        session.commit()
    started = time.perf_counter()
    try:
        if channel == "sms":
            senders.sms.send(plan.recipient, "push", "", plan.text)
        else:
            assert plan.template is not None
            senders.channels.sender(channel).send_subscription(
                plan.recipient, plan.template.template_id, plan.data, plan.page
            )
    except ChannelError as exc:
        PUSH_SEND_SECONDS.labels(channel).observe(time.perf_counter() - started)
        PUSH_SEND_ERRORS.labels(channel, _error_code(exc)).inc()
        return _failed_attempt(rt, delivery_id, member_id, channel, attempts, plan, exc)
    PUSH_SEND_SECONDS.labels(channel).observe(time.perf_counter() - started)
    return _finish(rt, delivery_id, "sent", channel=channel)


def _error_code(exc: ChannelError) -> str:
    code = exc.code or type(exc).__name__
    return f"{code}/{exc.sub_code}" if exc.sub_code else code


def _plan(rt: Runtime, session: Session, delivery: PushDelivery, senders: Senders) -> _Plan:
    message = session.get(Message, delivery.message_id)
    if message is None or message.deleted_at is not None:
        raise _Reject("message_deleted")
    if delivery.channel == "sms":
        member = session.get(Member, delivery.member_id)
        if member is None or not member.phone_enc:
            raise _Reject("no_phone")
        text = f"【{rt.settings.centre_name}】{message.business_name}：{message.content}"
        return _Plan(rt.pii.decrypt(member.phone_enc), None, {}, None, text)
    identity = session.scalars(
        select(ChannelIdentity).where(
            ChannelIdentity.member_id == delivery.member_id,
            ChannelIdentity.channel == delivery.channel,
        )
    ).one_or_none()
    if identity is None:
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
    return _Plan(identity.open_id, template, data, page)


def _failed_attempt(
    rt: Runtime,
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
    rt: Runtime,
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
            .where(
                PushDelivery.id == delivery_id,
                or_(
                    PushDelivery.status == "sending",
                    and_(
                        PushDelivery.status == "failed",
                        PushDelivery.last_error_code == "worker_lost",
                    ),
                ),
            )
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


def _sms_fallback(rt: Runtime, session: Session, delivery_id: int) -> int | None:
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
    requeued: list[int]
    lost: int


def sweep(rt: Runtime, *, stale_after: int = 60, limit: int = 500) -> SweepResult:
    """Write off deliveries whose worker died mid-send; list pending ones nobody picked up."""
    now = clock.utcnow()
    with rt.session() as session:
        lost = session.execute(
            update(PushDelivery)
            .where(PushDelivery.status == "sending", PushDelivery.locked_until < now)
            .values(
                status="failed",
                last_error_code="worker_lost",
                last_error="worker lost while sending; not re-sent",
                locked_until=None,
                updated_at=now,
            )
        ).rowcount  # type: ignore[attr-defined]
        session.commit()
        requeued = list(
            session.scalars(
                select(PushDelivery.id)
                .where(
                    PushDelivery.status == "pending",
                    PushDelivery.next_attempt_at <= now - dt.timedelta(seconds=stale_after),
                )
                .order_by(PushDelivery.next_attempt_at)
                .limit(limit)
            )
        )
    if lost:
        logger.warning("push sweeper: deliveries lost mid-send", extra={"count": lost})
    return SweepResult(requeued=requeued, lost=lost)
