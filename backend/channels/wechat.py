"""Logging in through WeChat (manual 1.1).

The ``wx.login`` code gives the openid; a bound openid logs straight in; otherwise a binding ticket
lets the member prove who they are by their reserved phone (``getPhoneNumber``) or their web-hall
ID number and password (under the web hall's lock-out rules).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from adapters.errors import ChannelError
from backend import clock
from backend.audit.services import RequestOrigin
from backend.channels import tickets
from backend.channels.bindings import bind, guard_code, login_if_bound, platform_error, refuse
from backend.channels.clients import ChannelClients
from backend.errors import AppError, Forbidden, Unauthorized, ValidationFailed
from backend.identity.lockout import PasswordAttempt
from backend.identity.services import (
    SessionStarted,
    failed_password,
    open_session,
    password_owner,
)
from backend.members.models import Member
from backend.members.queries import credentials_for_update, member_by_id_number
from backend.pii import is_valid_id_number
from backend.runtime import Runtime

# Wrong passwords one binding ticket tolerates before the member must log in to WeChat again.
TICKET_PASSWORD_TRIES = 3


def wechat_login(
    rt: Runtime, session: Session, clients: ChannelClients, *, code: str, origin: RequestOrigin
) -> SessionStarted:
    guard_code(rt, "wechat", code)
    try:
        wx = clients.wechat.code_to_session(code)
    except ChannelError as exc:
        raise platform_error("wechat", exc) from None
    bound = login_if_bound(rt, session, "wechat", wx.openid, origin)
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
    bind(
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
        raise platform_error("wechat", exc) from None
    members = list(
        session.scalars(
            select(Member).where(Member.phone_hash == rt.pii.phone_lookup(phone.pure_phone_number))
        )
    )
    if len(members) == 1:
        return members[0]
    if not members:
        raise refuse(
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
    raise refuse(
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
