"""Queuing pushes and keeping the members' subscription consents.

:func:`queue_deliveries` runs inside the transaction that wrote the messages, just before it
commits (outbox pattern: the messages and their deliveries commit together); the push handlers
(:mod:`backend.push.handlers`) call it for every :class:`~backend.events.MessagePosted` of the
transaction at once and hand the new ids to the dispatcher after the commit.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from backend.audit.services import RequestOrigin, record
from backend.channels.models import ChannelIdentity, SubscriptionConsent
from backend.db import insert_many, one_of
from backend.errors import ValidationFailed
from backend.events import MessagePosted
from backend.inbox.models import Message
from backend.members.models import APP_CHANNELS, Member, MemberPreference
from backend.push.models import PushDelivery
from backend.push.templates import Templates

# What wx.requestSubscribeMessage / my.requestSubscribeMessage answer per template.
CONSENT_RESULTS = ("accept", "reject", "ban", "filter")


# Members per query when a transaction posted many messages (the 30 June run posts 100k): well
# under SQLite's bound-parameter limit, few round trips on PostgreSQL.
CHUNK = 5000


def queue_deliveries(
    session: Session, posted: Sequence[MessagePosted], sms_fallback_kinds: Collection[str]
) -> list[int]:
    """Write the delivery rows of the posted messages (not committed); returns their ids.

    Set-based: one query for the preferences and one for the bound channels per ``CHUNK``
    members, one bulk insert. Members who never chose get pushes on every channel they have
    bound (not SMS: it costs); ``sms_fallback_kinds`` are the kinds the centre must get through
    (e.g. a loan overdue): SMS when no app channel can.
    """
    member_ids = sorted({event.member_id for event in posted})
    chosen: dict[int, set[str]] = {}
    bound: dict[int, set[str]] = {}
    for start in range(0, len(member_ids), CHUNK):
        chunk = member_ids[start : start + CHUNK]
        for member_id, channels in session.execute(
            select(MemberPreference.member_id, MemberPreference.push_channels).where(
                one_of(session, MemberPreference.member_id, chunk)
            )
        ):
            if channels is not None:
                chosen[member_id] = set(channels)
        for member_id, channel in session.execute(
            select(ChannelIdentity.member_id, ChannelIdentity.channel).where(
                one_of(session, ChannelIdentity.member_id, chunk)
            )
        ):
            bound.setdefault(member_id, set()).add(channel)
    rows: list[dict[str, object]] = []
    for event in posted:
        wanted = chosen.get(event.member_id)
        has = bound.get(event.member_id, set())
        channels = [c for c in APP_CHANNELS if c in has and (wanted is None or c in wanted)]
        if wanted and "sms" in wanted:
            channels.append("sms")
        elif not channels and event.business_type in sms_fallback_kinds:
            channels.append("sms")
        rows.extend(
            {"message_id": event.message_id, "member_id": event.member_id, "channel": c}
            for c in channels
        )
    # One statement whatever the number of rows (PostgreSQL: one array a column, see
    # insert_many); the ids in the order the rows were given.
    ids = dict(
        ((message_id, channel), delivery_id)
        for delivery_id, message_id, channel in insert_many(
            session, PushDelivery, rows, returning=("id", "message_id", "channel")
        )
    )
    return [ids[(row["message_id"], row["channel"])] for row in rows]


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
