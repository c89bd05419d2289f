"""Logging in through Alipay (manual 1.1).

The auth code gives the member's Alipay ids; a bound identity logs straight in; otherwise the real
name Alipay really returned (name + identity-card number, released only for a member it
certified) finds the member, who is bound and logged in. Whenever those fields are missing (not
granted to the app, the member-info product missing, is_certified=F, any refusal of
alipay.user.info.share), a certification ticket starts Alipay's face verification
(:mod:`backend.channels.certification`) on the name and ID number the member types.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from adapters.errors import ChannelError
from backend.audit.services import RequestOrigin
from backend.channels import tickets
from backend.channels.bindings import (
    bind,
    guard_code,
    login_if_bound,
    not_a_member,
    platform_error,
    refuse,
)
from backend.channels.clients import ChannelClients
from backend.errors import AppError, Forbidden, ServiceUnavailable
from backend.identity.services import SessionStarted, open_session
from backend.members.queries import member_by_id_number
from backend.runtime import Runtime


def alipay_login(
    rt: Runtime, session: Session, clients: ChannelClients, *, auth_code: str, origin: RequestOrigin
) -> SessionStarted:
    guard_code(rt, "alipay", auth_code)
    try:
        token = clients.alipay.exchange_auth_code(auth_code)
    except ChannelError as exc:
        raise platform_error("alipay", exc) from None
    open_id = token.open_id or token.user_id
    if not open_id:
        raise ServiceUnavailable("支付宝服务暂不可用，请稍后再试", error_code="alipay.unavailable")
    bound = login_if_bound(rt, session, "alipay", open_id, origin)
    if bound is not None:
        return bound
    ids = {"open_id": open_id, "user_id": token.user_id, "union_id": token.union_id}
    try:
        info = clients.alipay.user_info(token.access_token)
    except ChannelError as exc:
        if exc.retryable:
            raise platform_error("alipay", exc) from None
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
        raise refuse(session, "alipay", "not_a_member", origin, not_a_member("alipay"))
    bind(
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
    return refuse(
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
