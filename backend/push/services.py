"""Queuing pushes: one pending delivery per channel the member has bound and chosen.

Called inside the transaction that writes the message (outbox pattern): the message and its
deliveries commit together, and the pipeline picks the deliveries up after commit.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.channels.models import ChannelIdentity
from backend.inbox.models import Message
from backend.members.models import MemberPreference
from backend.push.models import PushDelivery

PUSH_CHANNELS = ("wechat", "alipay", "sms")


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
        c for c in ("wechat", "alipay") if c in bound and (chosen is None or c in chosen)
    ]
    if chosen and "sms" in chosen:
        channels.append("sms")
    deliveries = [
        PushDelivery(message_id=message.id, member_id=message.member_id, channel=c)
        for c in channels
    ]
    session.add_all(deliveries)
    return deliveries
