"""Setting a new password (manual 1.3 and 1.4): changing it while logged in, and the
forgotten-password flow. Either way every other session of the member ends.

Audit events carry masked identifiers only; tokens, codes and passwords are never recorded.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from backend import clock
from backend.audit.services import RequestOrigin, record
from backend.errors import Conflict, NotFound, ValidationFailed
from backend.identity import lockout
from backend.identity.common import captchas, refuse
from backend.identity.notices import TEXTS
from backend.identity.smscodes import CodeSent
from backend.members.models import Credential, Member
from backend.members.queries import credentials_for_update, member_by_id_number
from backend.pii import mask_id_number
from backend.runtime import Runtime

RESET_TTL = 15 * 60
RESET_STEPS = ("identified", "code_sent", "verified")


def change_password(
    rt: Runtime,
    session: Session,
    *,
    member: Member,
    family: str,
    old_password: str,
    new_password: str,
    origin: RequestOrigin,
) -> int:
    """Set a new password; every other session of the member ends. Returns how many ended."""
    credential = credentials_for_update(session, [member.id]).get(member.id)
    if credential is None:
        raise Conflict("您尚未注册网厅登录密码，请先注册", error_code="password.not_registered")
    hasher = rt.passwords
    if not hasher.verify(credential.password_hash, old_password):
        record(session, "auth.password_change_failed", member_id=member.id, origin=origin)
        session.commit()
        raise ValidationFailed(
            "原密码不正确",
            error_code="password.old_incorrect",
            errors={"old_password": ["原密码不正确"]},
        )
    if new_password == old_password:
        raise ValidationFailed(
            "新密码不能与原密码相同",
            error_code="password.unchanged",
            errors={"new_password": ["新密码不能与原密码相同"]},
        )
    _set_password(credential, hasher.hash(new_password))
    record(session, "auth.password_changed", member_id=member.id, origin=origin)
    session.commit()
    return rt.tokens.revoke_member(member.id, keep_family=family)


def _set_password(credential: Credential, password_hash: str) -> None:
    credential.password_hash = password_hash
    credential.password_changed_at = clock.utcnow()
    credential.failed_attempts = 0
    credential.locked_until = None


# --- forgotten password (manual 1.4) -------------------------------------------------------
# A reset ticket in Redis walks identified → code_sent → verified; each step needs the one before.


@dataclass(frozen=True)
class ResetStarted:
    reset_id: str
    masked_phone: str
    expires_in: int


def _ticket_key(rt: Runtime, reset_id: str) -> str:
    return rt.keys("pwreset", reset_id)


def _save_ticket(rt: Runtime, reset_id: str, ticket: dict[str, Any]) -> None:
    rt.redis.set(_ticket_key(rt, reset_id), json.dumps(ticket), ex=RESET_TTL + 60)


def _ticket(rt: Runtime, reset_id: str, needs: str) -> dict[str, Any]:
    raw = rt.redis.get(_ticket_key(rt, reset_id))
    ticket = json.loads(raw) if raw else None
    if ticket is None or clock.utcnow().timestamp() >= float(ticket["exp"]):
        raise NotFound("密码重置已失效，请重新进行信息验证", error_code="reset.expired")
    if RESET_STEPS.index(ticket["step"]) < RESET_STEPS.index(needs):
        raise Conflict("请先完成上一步操作", error_code="reset.step_skipped")
    return ticket


def _reset_member(rt: Runtime, session: Session, ticket: dict[str, Any]) -> Member:
    member = session.get(Member, int(ticket["m"]))
    if member is None or not member.phone_enc:
        raise NotFound("密码重置已失效，请重新进行信息验证", error_code="reset.expired")
    return member


RESET_REFUSED = (
    "信息验证未通过，请核对姓名和证件号码后重新验证；"
    "未在中心预留手机号码的，请使用支付宝认证登录或携带身份证件到柜台办理"
)


def start_reset(
    rt: Runtime,
    session: Session,
    *,
    name: str,
    id_number: str,
    captcha_id: str,
    captcha_code: str,
    origin: RequestOrigin,
) -> ResetStarted:
    """Step 1 (信息验证): a depositor with a reserved phone gets a reset ticket and the phone,
    masked, whatever else is true of them (registered or not, access disabled or not): the answer
    must not tell a stranger who is registered. Step 2 then texts such a member the reason
    instead of a code. Anyone else — unknown, name not matching, no reserved phone — gets one
    answer (``reset.identity_mismatch``)."""
    captchas(rt).check(captcha_id, captcha_code)
    masked_id = mask_id_number(id_number)
    member = member_by_id_number(session, rt.pii, id_number)
    if member is None or member.name != name.strip() or not member.phone_enc:
        known = member is not None and member.name == name.strip()
        reason = "no_reserved_phone" if known else "identity_mismatch"
        member_id = member.id if known and member is not None else None
        refuse(session, "auth.password_reset_refused", member_id, origin, reason, masked_id)
        raise ValidationFailed(RESET_REFUSED, error_code="reset.identity_mismatch")
    reset_id = secrets.token_urlsafe(24)
    expires_at = clock.utcnow().timestamp() + RESET_TTL
    ticket = {"m": member.id, "step": "identified", "exp": expires_at}
    refusal = _reset_refusal(session, member)
    if refusal is not None:
        ticket["no"] = refusal
        refuse(session, "auth.password_reset_refused", member.id, origin, refusal, masked_id)
    else:
        record(session, "auth.password_reset_started", member_id=member.id, origin=origin)
        session.commit()
    _save_ticket(rt, reset_id, ticket)
    return ResetStarted(reset_id, member.phone_masked or "", RESET_TTL)


def _reset_refusal(session: Session, member: Member) -> str | None:
    """Why ``member`` cannot reset a password (told by SMS at step 2, never in the answer)."""
    if session.get(Credential, member.id) is None:
        return "not_registered"
    if not member.online_access:
        return "access_disabled"
    return None


def send_reset_code(
    rt: Runtime, session: Session, *, reset_id: str, origin: RequestOrigin
) -> tuple[CodeSent, str]:
    ticket = _ticket(rt, reset_id, "identified")
    member = _reset_member(rt, session, ticket)
    refusal = ticket.get("no")
    notice = TEXTS[refusal] if refusal else None
    phone = rt.pii.decrypt(member.phone_enc or "")
    sent = rt.sms_codes.send(phone, "reset", ip=origin.ip, notice=notice)
    if ticket["step"] == "identified":
        ticket["step"] = "code_sent"
        _save_ticket(rt, reset_id, ticket)
    return sent, member.phone_masked or ""


def verify_reset_code(rt: Runtime, session: Session, *, reset_id: str, sms_code: str) -> None:
    ticket = _ticket(rt, reset_id, "code_sent")
    member = _reset_member(rt, session, ticket)
    rt.sms_codes.verify(rt.pii.decrypt(member.phone_enc or ""), "reset", sms_code)
    ticket["step"] = "verified"
    _save_ticket(rt, reset_id, ticket)


def finish_reset(
    rt: Runtime, session: Session, *, reset_id: str, new_password: str, origin: RequestOrigin
) -> None:
    """Set the new password (also lifting a lock-out) and end every session of the member."""
    ticket = _ticket(rt, reset_id, "verified")
    # The ticket is single use: of two concurrent submissions only the one that deletes it wins.
    if rt.redis.delete(_ticket_key(rt, reset_id)) != 1:
        raise NotFound("密码重置已失效，请重新进行信息验证", error_code="reset.expired")
    member_id = int(ticket["m"])
    credential = credentials_for_update(session, [member_id]).get(member_id)
    if credential is None:
        raise NotFound("密码重置已失效，请重新进行信息验证", error_code="reset.expired")
    _set_password(credential, rt.passwords.hash(new_password))
    record(session, "auth.password_reset", member_id=member_id, origin=origin)
    session.commit()
    rt.tokens.revoke_member(member_id)
    member = session.get(Member, member_id)
    if member is not None:
        lockout.lift(rt, member)
