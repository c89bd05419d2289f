"""Logging in and binding through Alipay and WeChat (manual 1.1), and unbinding.

- Alipay: the auth code gives the member's Alipay ids; a bound identity logs straight in; otherwise
  the real name Alipay really returned (name + identity-card number, released only for a member
  it certified) finds the member, who is bound and logged in. Whenever those fields are missing
  (not granted to the app, the member-info product missing, is_certified=F, any refusal of
  alipay.user.info.share), a certification ticket starts Alipay's face verification
  (``alipay.user.certify.open.*``) on the name and ID number the member types.
- WeChat: the ``wx.login`` code gives the openid; a bound openid logs straight in; otherwise a
  binding ticket lets the member prove who they are by their reserved phone (``getPhoneNumber``)
  or their web-hall ID number and password.

Every bind, unbind and channel login is audited. Services take the runtime and the clients as
arguments and commit once; no Flask here.
"""

from __future__ import annotations

import json
import logging
import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from adapters.errors import ChannelError, InvalidCodeError
from backend import clock
from backend.audit.services import RequestOrigin, record
from backend.channels import tickets
from backend.channels.clients import ChannelClients
from backend.channels.models import CHANNELS, ChannelIdentity
from backend.errors import (
    AppError,
    Forbidden,
    NotFound,
    ServiceUnavailable,
    Unauthorized,
    ValidationFailed,
)
from backend.identity.lockout import PasswordAttempt
from backend.identity.sessions import (
    SessionStarted,
    failed_password,
    open_session,
    password_owner,
)
from backend.members.models import Member
from backend.members.queries import credentials_for_update, member_by_id_number
from backend.pii import is_valid_id_number, mask_id_number, normalize_id_number
from backend.push.models import SubscriptionConsent
from backend.runtime import Runtime

logger = logging.getLogger(__name__)

# Wrong passwords one binding ticket tolerates before the member must log in to WeChat again.
TICKET_PASSWORD_TRIES = 3


# --- sessions ------------------------------------------------------------------------------


# --- shared helpers --------------------------------------------------------------------------


def _platform_error(channel: str, exc: ChannelError) -> AppError:
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


def _guard_code(rt: Runtime, channel: str, code: str) -> None:
    if not tickets.first_use(rt, channel, code):
        raise Unauthorized(
            f"{CHANNELS[channel]}授权已使用，请重新授权登录", error_code=f"{channel}.code_used"
        )


def _login_if_bound(
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


def _bind(
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
        _drop_consents(session, member.id, channel)
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


def _drop_consents(session: Session, member_id: int, channel: str) -> None:
    session.execute(
        delete(SubscriptionConsent).where(
            SubscriptionConsent.member_id == member_id, SubscriptionConsent.channel == channel
        )
    )


def _refuse(
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


def _not_a_member(channel: str) -> Forbidden:
    return Forbidden(
        "未查询到您的公积金账户，请核对身份信息或联系公积金中心",
        error_code=f"{channel}.member_not_found",
    )


# --- Alipay ----------------------------------------------------------------------------------


def alipay_login(
    rt: Runtime, session: Session, clients: ChannelClients, *, auth_code: str, origin: RequestOrigin
) -> SessionStarted:
    _guard_code(rt, "alipay", auth_code)
    try:
        token = clients.alipay.exchange_auth_code(auth_code)
    except ChannelError as exc:
        raise _platform_error("alipay", exc) from None
    open_id = token.open_id or token.user_id
    if not open_id:
        raise ServiceUnavailable("支付宝服务暂不可用，请稍后再试", error_code="alipay.unavailable")
    bound = _login_if_bound(rt, session, "alipay", open_id, origin)
    if bound is not None:
        return bound
    ids = {"open_id": open_id, "user_id": token.user_id, "union_id": token.union_id}
    try:
        info = clients.alipay.user_info(token.access_token)
    except ChannelError as exc:
        if exc.retryable:
            raise _platform_error("alipay", exc) from None
        # A refusal of the member info (40006 member-info product missing, or any other code):
        # the face check does not need it, only the ids above.
        raise _certification_required(rt, session, ids, origin, f"user_info_{exc.code}") from None
    if not info.has_verified_identity:
        # Alipay grants name and cert_no only to some mini-programs and only for members it
        # certified; fields not granted are simply absent (and is_certified is not returned to
        # apps live after 2019-12-24): fall back to its face verification.
        raise _certification_required(rt, session, ids, origin, "identity_not_returned")
    member = member_by_id_number(session, rt.pii, info.cert_no or "")
    if member is None or member.name.strip() != (info.user_name or "").strip():
        raise _refuse(session, "alipay", "not_a_member", origin, _not_a_member("alipay"))
    _bind(
        session,
        member,
        "alipay",
        open_id=open_id,
        user_id=token.user_id,
        union_id=token.union_id,
        origin=origin,
        proof="alipay_real_name",
    )
    return open_session(rt, session, member, via="alipay", origin=origin, bound=True)


def _certification_required(
    rt: Runtime, session: Session, ids: dict[str, Any], origin: RequestOrigin, reason: str
) -> AppError:
    ticket = tickets.issue_ticket(rt, "alipay-cert", ids)
    return _refuse(
        session,
        "alipay",
        reason,
        origin,
        Forbidden(
            "请先完成支付宝身份验证",
            error_code="alipay.certification_required",
            certification_token=ticket,
            expires_in=rt.settings.channel_ticket_ttl,
        ),
    )


@dataclass(frozen=True)
class CertificationStarted:
    certify_id: str
    certify_url: str


def start_alipay_certification(
    rt: Runtime,
    session: Session,
    clients: ChannelClients,
    *,
    certification_token: str,
    name: str,
    id_number: str,
    origin: RequestOrigin,
) -> CertificationStarted:
    ids = tickets.read_ticket(rt, "alipay-cert", certification_token)
    if ids is None:
        raise Unauthorized(
            "身份验证已过期，请重新使用支付宝登录", error_code="alipay.certification_expired"
        )
    if not is_valid_id_number(id_number):
        raise ValidationFailed(errors={"id_number": ["请输入正确的身份证号"]})
    id_number = normalize_id_number(id_number)
    member = member_by_id_number(session, rt.pii, id_number)
    # Face checks cost the centre money: only for someone who is a member under that name.
    if member is None or member.name.strip() != name.strip():
        raise _refuse(session, "alipay", "not_a_member", origin, _not_a_member("alipay"))
    try:
        certify_id = clients.alipay.start_certification(
            outer_order_no=uuid.uuid4().hex,
            cert_name=member.name,
            cert_no=id_number,
            return_url=rt.settings.alipay_certify_return_url,
        )
        url = clients.alipay.certification_url(certify_id)
    except ChannelError as exc:
        raise _platform_error("alipay", exc) from None
    rt.redis.set(
        rt.keys("chan", "alipay-certify", certify_id),
        json.dumps({**ids, "member_id": member.id}),
        ex=rt.settings.channel_ticket_ttl,
    )
    record(
        session,
        "channel.certification_started",
        member_id=member.id,
        origin=origin,
        channel="alipay",
        id_number=mask_id_number(id_number),
    )
    session.commit()
    return CertificationStarted(certify_id=certify_id, certify_url=url)


def finish_alipay_certification(
    rt: Runtime,
    session: Session,
    clients: ChannelClients,
    *,
    certify_id: str,
    origin: RequestOrigin,
) -> SessionStarted:
    key = rt.keys("chan", "alipay-certify", certify_id)
    raw = rt.redis.get(key)
    if raw is None:
        raise NotFound(
            "身份验证记录不存在或已过期，请重新使用支付宝登录",
            error_code="alipay.certification_not_found",
        )
    try:
        result = clients.alipay.query_certification(certify_id)
    except ChannelError as exc:
        raise _platform_error("alipay", exc) from None
    if result.status == "pending":
        # passed=F: not passed *or* not done yet; Alipay does not say which, and the member may
        # try again on the same certify_id while it is valid. Keep the ticket.
        raise AppError(
            "身份验证尚未通过，请在支付宝中完成刷脸验证",
            error_code="alipay.certification_pending",
            status_code=409,
        )
    if result.status == "expired":
        rt.redis.delete(key)
        data = json.loads(raw)
        raise _refuse(
            session,
            "alipay",
            "certification_failed",
            origin,
            Forbidden(
                "身份验证未通过或已失效，请重新使用支付宝登录",
                error_code="alipay.certification_failed",
            ),
            member_id=data["member_id"],
        )
    # Delete-then-bind: of two concurrent calls only the one that deletes the ticket binds.
    if not rt.redis.delete(key):
        raise NotFound(
            "身份验证记录不存在或已过期，请重新使用支付宝登录",
            error_code="alipay.certification_not_found",
        )
    data = json.loads(raw)
    member = session.get(Member, data["member_id"])
    if member is None:
        raise _not_a_member("alipay")
    _bind(
        session,
        member,
        "alipay",
        open_id=data["open_id"],
        user_id=data.get("user_id"),
        union_id=data.get("union_id"),
        origin=origin,
        proof="alipay_face",
    )
    return open_session(rt, session, member, via="alipay", origin=origin, bound=True)


# --- WeChat ----------------------------------------------------------------------------------


def wechat_login(
    rt: Runtime, session: Session, clients: ChannelClients, *, code: str, origin: RequestOrigin
) -> SessionStarted:
    _guard_code(rt, "wechat", code)
    try:
        wx = clients.wechat.code_to_session(code)
    except ChannelError as exc:
        raise _platform_error("wechat", exc) from None
    bound = _login_if_bound(rt, session, "wechat", wx.openid, origin)
    if bound is not None:
        return bound
    ticket = tickets.issue_ticket(
        rt, "wechat-bind", {"openid": wx.openid, "unionid": wx.unionid, "tries": 0}
    )
    raise Forbidden(
        "请先绑定您的公积金账户",
        error_code="wechat.binding_required",
        binding_token=ticket,
        expires_in=rt.settings.channel_ticket_ttl,
    )


def wechat_bind(
    rt: Runtime,
    session: Session,
    clients: ChannelClients,
    *,
    binding_token: str,
    phone_code: str | None = None,
    id_number: str | None = None,
    password: str | None = None,
    origin: RequestOrigin,
) -> SessionStarted:
    ticket = tickets.read_ticket(rt, "wechat-bind", binding_token)
    if ticket is None:
        raise Unauthorized("绑定已过期，请重新使用微信登录", error_code="wechat.binding_expired")
    if phone_code:
        member, proof = _member_by_wechat_phone(rt, session, clients, phone_code, origin), "phone"
    elif id_number and password:
        member = _member_by_password(
            rt, session, binding_token, ticket, id_number, password, origin
        )
        proof = "password"
    else:
        raise ValidationFailed(
            "请授权手机号，或输入身份证号和密码",
            errors={"phone_code": ["请提供 phone_code，或 id_number 和 password"]},
        )
    if tickets.take_ticket(rt, "wechat-bind", binding_token) is None:
        raise Unauthorized("绑定已过期，请重新使用微信登录", error_code="wechat.binding_expired")
    _bind(
        session,
        member,
        "wechat",
        open_id=ticket["openid"],
        user_id=None,
        union_id=ticket.get("unionid"),
        origin=origin,
        proof=proof,
    )
    return open_session(rt, session, member, via="wechat", origin=origin, bound=True)


def _member_by_wechat_phone(
    rt: Runtime, session: Session, clients: ChannelClients, phone_code: str, origin: RequestOrigin
) -> Member:
    try:
        phone = clients.wechat.get_phone_number(phone_code)
    except ChannelError as exc:
        raise _platform_error("wechat", exc) from None
    members = list(
        session.scalars(
            select(Member).where(Member.phone_hash == rt.pii.phone_lookup(phone.pure_phone_number))
        )
    )
    if len(members) == 1:
        return members[0]
    if not members:
        raise _refuse(
            session,
            "wechat",
            "phone_not_reserved",
            origin,
            Forbidden(
                "该手机号不是您在公积金中心预留的手机号，请使用身份证号和密码绑定",
                error_code="wechat.phone_not_reserved",
            ),
        )
    # A reserved phone may be shared (family members): it cannot say which member this is.
    raise _refuse(
        session,
        "wechat",
        "phone_ambiguous",
        origin,
        AppError(
            "该手机号对应多个公积金账户，请使用身份证号和密码绑定",
            error_code="wechat.phone_ambiguous",
            status_code=409,
        ),
    )


def _member_by_password(
    rt: Runtime,
    session: Session,
    binding_token: str,
    ticket: dict[str, Any],
    id_number: str,
    password: str,
    origin: RequestOrigin,
) -> Member:
    """The web-hall credentials, under the web hall's lock-out rules
    (:mod:`backend.identity.lockout`): wrong passwords count against the same login name
    whichever door they were typed at, and answer as the password login does."""
    attempt = PasswordAttempt(rt, id_number, origin.ip)
    member = (
        member_by_id_number(session, rt.pii, id_number) if is_valid_id_number(id_number) else None
    )
    creds = credentials_for_update(session, [member.id]) if member else {}
    members = [member] if member is not None and member.id in creds else []
    owner = password_owner(rt, members, creds, password)
    if owner is not None:
        attempt.succeeded()
        creds[owner.id].last_login_at = clock.utcnow()
        return owner
    ticket["tries"] = int(ticket.get("tries", 0)) + 1
    if ticket["tries"] >= TICKET_PASSWORD_TRIES:
        tickets.take_ticket(rt, "wechat-bind", binding_token)
    else:
        tickets.update_ticket(rt, "wechat-bind", binding_token, ticket)
    reason = "wrong_password" if members else "unknown_user"
    raise failed_password(rt, session, attempt, members, origin, reason, via="wechat")


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
    _drop_consents(session, member_id, channel)
    record(session, "channel.unbind", member_id=member_id, origin=origin, channel=channel)
    session.commit()


def mask_open_id(open_id: str) -> str:
    if len(open_id) <= 8:
        return "*" * len(open_id)
    return open_id[:4] + "****" + open_id[-4:]
