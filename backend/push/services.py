"""Queuing pushes and keeping the members' subscription consents.

:func:`queue_deliveries` runs inside the transaction that writes the message (outbox pattern):
the message and its deliveries commit together, the new delivery ids wait in ``session.info``
and the after-commit hook of :mod:`backend.push.dispatch` hands them to the dispatcher.
"""

from __future__ import annotations

from collections.abc import Mapping

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from backend.audit.services import RequestOrigin, record
from backend.channels.models import ChannelIdentity, SubscriptionConsent
from backend.errors import ValidationFailed
from backend.inbox.models import Message
from backend.members.models import APP_CHANNELS, Member, MemberPreference
from backend.push.models import PushDelivery
from backend.push.templates import Templates

# session.info keys shared with backend.push.dispatch
NEW_DELIVERIES = "push_delivery_ids"
SMS_FALLBACK_KINDS = "push_sms_fallback_kinds"
# What wx.requestSubscribeMessage / my.requestSubscribeMessage answer per template.
CONSENT_RESULTS = ("accept", "reject", "ban", "filter")


def queue_deliveries(session: Session, message: Message) -> list[PushDelivery]:
    pref = session.get(MemberPreference, message.member_id)
    # Members who never chose get pushes on every channel they have bound (not SMS: it costs).
    chosen = set(pref.push_channels) if pref and pref.push_channels is not None else None
    bound = set(
        session.scalars(
            select(ChannelIdentity.channel).where(ChannelIdentity.member_id == message.member_id)
        )
    )
    channels: list[str] = [
        c for c in APP_CHANNELS if c in bound and (chosen is None or c in chosen)
    ]
    if chosen and "sms" in chosen:
        channels.append("sms")
    elif not channels and message.business_type in session.info.get(SMS_FALLBACK_KINDS, ()):
        # Kinds the centre must get through (e.g. a loan overdue): SMS when no app channel can.
        channels.append("sms")
    deliveries = [
        PushDelivery(message_id=message.id, member_id=message.member_id, channel=c)
        for c in channels
    ]
    session.add_all(deliveries)
    if deliveries:
        session.flush()
        session.info.setdefault(NEW_DELIVERIES, []).extend(d.id for d in deliveries)
    return deliveries


def queue_sms_fallback(session: Session, message_id: int) -> int | None:
    """After an app channel gave up: an SMS delivery of the message, unless one exists or another
    channel got through. Commits; returns the new delivery id."""
    message = session.get(Message, message_id)
    if message is None:
        return None
    others = session.scalars(
        select(PushDelivery.status).where(PushDelivery.message_id == message_id)
    ).all()
    if any(status in {"sent", "pending", "sending"} for status in others):
        return None
    member = session.get(Member, message.member_id)
    if member is None or not member.phone_enc:
        return None
    delivery = PushDelivery(message_id=message_id, member_id=message.member_id, channel="sms")
    session.add(delivery)
    try:
        session.commit()
    except IntegrityError:  # another worker queued it first (unique message × channel)
        session.rollback()
        return None
    return delivery.id


# --- consents --------------------------------------------------------------------------------


def record_consents(
    session: Session,
    templates: Templates,
    member_id: int,
    channel: str,
    results: Mapping[str, str],
    *,
    origin: RequestOrigin,
) -> list[SubscriptionConsent]:
    """Record what the mini-program's requestSubscribeMessage answered.

    One-time templates: each ``accept`` adds one send. Long-term templates: ``accept`` switches
    them on until ``reject``. ``ban`` (the member switched the app's messages off) clears both.
    ``reject`` of a one-time template leaves earlier accepts alone: the platform keeps them too.
    """
    if channel not in APP_CHANNELS:
        raise ValidationFailed(errors={"channel": ["渠道须为 wechat 或 alipay"]})
    unknown = [tid for tid in results if templates.find(channel, tid) is None]
    bad = [r for r in results.values() if r not in CONSENT_RESULTS]
    if unknown or bad:
        errors = {}
        if unknown:
            errors["results"] = [f"未知的消息模板：{', '.join(sorted(unknown))}"]
        if bad:
            errors["results"] = [f"结果须为 {'/'.join(CONSENT_RESULTS)}"]
        raise ValidationFailed(errors=errors)
    rows = []
    for template_id, result in results.items():
        template = templates.find(channel, template_id)
        assert template is not None
        row = _consent_row(session, member_id, channel, template_id)
        if result == "accept":
            if template.long_term:
                row.long_term = True
            else:
                row.remaining = (row.remaining or 0) + 1
        elif result == "ban":
            row.remaining = 0
            row.long_term = False
        elif result == "reject" and template.long_term:
            row.long_term = False
        rows.append(row)
    record(
        session,
        "push.consent",
        member_id=member_id,
        origin=origin,
        channel=channel,
        results=dict(results),
    )
    session.commit()
    return rows


def _consent_row(
    session: Session, member_id: int, channel: str, template_id: str
) -> SubscriptionConsent:
    row = session.scalars(
        select(SubscriptionConsent).where(
            SubscriptionConsent.member_id == member_id,
            SubscriptionConsent.channel == channel,
            SubscriptionConsent.template_id == template_id,
        )
    ).one_or_none()
    if row is None:
        row = SubscriptionConsent(
            member_id=member_id, channel=channel, template_id=template_id, remaining=0
        )
        session.add(row)
        session.flush()
    return row


def consents(session: Session, member_id: int) -> list[SubscriptionConsent]:
    return list(
        session.scalars(
            select(SubscriptionConsent)
            .where(SubscriptionConsent.member_id == member_id)
            .order_by(SubscriptionConsent.channel, SubscriptionConsent.template_id)
        )
    )


def _consent_filter(member_id: int, channel: str, template_id: str) -> list:  # type: ignore[type-arg]
    return [
        SubscriptionConsent.member_id == member_id,
        SubscriptionConsent.channel == channel,
        SubscriptionConsent.template_id == template_id,
    ]


def spend_consent(session: Session, member_id: int, channel: str, template_id: str) -> bool:
    """Take one send of consent, atomically (two workers can never spend the same accept).
    Long-term consents do not run out. Not committed."""
    where = _consent_filter(member_id, channel, template_id)
    long_term = session.scalars(select(SubscriptionConsent.long_term).where(*where)).one_or_none()
    if long_term:
        return True
    spent = session.execute(
        update(SubscriptionConsent)
        .where(*where, SubscriptionConsent.remaining > 0)
        .values(remaining=SubscriptionConsent.remaining - 1)
    )
    return spent.rowcount == 1  # type: ignore[attr-defined]


def refund_consent(session: Session, member_id: int, channel: str, template_id: str) -> None:
    """Give back a spent send the platform never used (the call failed before a verdict)."""
    session.execute(
        update(SubscriptionConsent)
        .where(*_consent_filter(member_id, channel, template_id))
        .where(SubscriptionConsent.long_term.is_(False))
        .values(remaining=SubscriptionConsent.remaining + 1)
    )


def forget_consent(session: Session, member_id: int, channel: str, template_id: str) -> None:
    """The platform says there is no consent left: believe it over our count."""
    session.execute(
        update(SubscriptionConsent)
        .where(*_consent_filter(member_id, channel, template_id))
        .values(remaining=0, long_term=False)
    )
