"""What the channel logins share, and a logged-in member's bindings.

A platform account (Alipay, WeChat) already bound logs its member straight in; binding (or
re-binding: one account per channel and member) is audited and drops the subscription-message
consents given on the replaced account. The refusals of a channel login are audited and committed
before they are raised. Services take the runtime and the clients as arguments; no Flask here.
"""

from __future__ import annotations

import logging

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from adapters.errors import ChannelError, InvalidCodeError
from backend import clock
from backend.audit.services import RequestOrigin, record
from backend.channels import tickets
from backend.channels.models import CHANNELS, ChannelIdentity, SubscriptionConsent
from backend.errors import AppError, Forbidden, NotFound, ServiceUnavailable, Unauthorized
from backend.identity.services import SessionStarted, open_session
from backend.members.models import Member
from backend.runtime import Runtime

logger = logging.getLogger(__name__)


def platform_error(channel: str, exc: ChannelError) -> AppError:
    name = CHANNELS[channel]
    if isinstance(exc, InvalidCodeError):
        return Unauthorized(
            f"{name}授权已失效，请重新授权登录", error_code=f"{channel}.code_invalid"
        )
    logger.warning(
        "channel call failed",
        extra={"channel": channel, "code": exc.code, "retryable": exc.retryable},
    )
    return ServiceUnavailable(
        f"{name}服务暂不可用，请稍后再试", error_code=f"{channel}.unavailable"
    )


def guard_code(rt: Runtime, channel: str, code: str) -> None:
    if not tickets.first_use(rt, channel, code):
        raise Unauthorized(
            f"{CHANNELS[channel]}授权已使用，请重新授权登录", error_code=f"{channel}.code_used"
        )


def login_if_bound(
    rt: Runtime, session: Session, channel: str, open_id: str, origin: RequestOrigin
) -> SessionStarted | None:
    """A platform account already bound logs its member straight in."""
    member_id = session.scalars(
        select(ChannelIdentity.member_id).where(
            ChannelIdentity.channel == channel, ChannelIdentity.open_id == open_id
        )
    ).one_or_none()
    member = session.get(Member, member_id) if member_id is not None else None
    if member is None:
        return None
    return open_session(rt, session, member, via=channel, origin=origin)


def bind(
    session: Session,
    member: Member,
    channel: str,
    *,
    open_id: str,
    user_id: str | None,
    union_id: str | None,
    origin: RequestOrigin,
    proof: str,
) -> ChannelIdentity:
    """Bind (or re-bind: a member has one account per channel) and audit it; not committed."""
    identity = session.scalars(
        select(ChannelIdentity).where(
            ChannelIdentity.member_id == member.id, ChannelIdentity.channel == channel
        )
    ).one_or_none()
    replaced = identity is not None
    if identity is None:
        identity = ChannelIdentity(member_id=member.id, channel=channel)
        session.add(identity)
    else:
        # Another account of the same platform: the consents given there do not carry over.
        drop_consents(session, member.id, channel)
    identity.open_id = open_id
    identity.user_id = user_id
    identity.union_id = union_id
    identity.created_at = clock.utcnow()
    record(
        session,
        "channel.bind",
        member_id=member.id,
        origin=origin,
        channel=channel,
        proof=proof,
        replaced=replaced,
    )
    return identity


def drop_consents(session: Session, member_id: int, channel: str) -> None:
    session.execute(
        delete(SubscriptionConsent).where(
            SubscriptionConsent.member_id == member_id, SubscriptionConsent.channel == channel
        )
    )


def refuse(
    session: Session,
    channel: str,
    reason: str,
    origin: RequestOrigin,
    error: AppError,
    member_id: int | None = None,
) -> AppError:
    record(
        session, "auth.login_failed", member_id=member_id, origin=origin, via=channel, reason=reason
    )
    session.commit()
    return error


def not_a_member(channel: str) -> Forbidden:
    return Forbidden(
        "未查询到您的公积金账户，请核对身份信息或联系公积金中心",
        error_code=f"{channel}.member_not_found",
    )


# --- bindings of a logged-in member ----------------------------------------------------------


def bindings(session: Session, member_id: int) -> list[ChannelIdentity]:
    return list(
        session.scalars(
            select(ChannelIdentity)
            .where(ChannelIdentity.member_id == member_id)
            .order_by(ChannelIdentity.channel)
        )
    )


def unbind(session: Session, member_id: int, channel: str, *, origin: RequestOrigin) -> None:
    identity = session.scalars(
        select(ChannelIdentity).where(
            ChannelIdentity.member_id == member_id, ChannelIdentity.channel == channel
        )
    ).one_or_none()
    if identity is None:
        raise NotFound("未绑定该渠道", error_code="channel.binding_not_found")
    session.delete(identity)
    drop_consents(session, member_id, channel)
    record(session, "channel.unbind", member_id=member_id, origin=origin, channel=channel)
    session.commit()


def mask_open_id(open_id: str) -> str:
    if len(open_id) <= 8:
        return "*" * len(open_id)
    return open_id[:4] + "****" + open_id[-4:]
