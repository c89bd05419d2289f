"""Alipay's face verification (``alipay.user.certify.open.*``): the member's way in when Alipay
does not release their real name. Starting it checks the typed name and ID number against the
centre's members first (a face check costs the centre money); finishing it binds the Alipay
account and logs in, once, however many times the result is asked for.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass

from sqlalchemy.orm import Session

from adapters.errors import ChannelError
from backend.audit.services import RequestOrigin, record
from backend.channels import tickets
from backend.channels.bindings import bind, not_a_member, platform_error, refuse
from backend.channels.clients import ChannelClients
from backend.errors import AppError, Forbidden, NotFound, Unauthorized, ValidationFailed
from backend.identity.services import SessionStarted, open_session
from backend.members.models import Member
from backend.members.queries import member_by_id_number
from backend.pii import is_valid_id_number, mask_id_number, normalize_id_number
from backend.runtime import Runtime


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
        raise refuse(session, "alipay", "not_a_member", origin, not_a_member("alipay"))
    try:
        certify_id = clients.alipay.start_certification(
            outer_order_no=uuid.uuid4().hex,
            cert_name=member.name,
            cert_no=id_number,
            return_url=rt.settings.alipay_certify_return_url,
        )
        url = clients.alipay.certification_url(certify_id)
    except ChannelError as exc:
        raise platform_error("alipay", exc) from None
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
        raise platform_error("alipay", exc) from None
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
        raise refuse(
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
        raise not_a_member("alipay")
    bind(
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
