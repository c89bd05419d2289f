"""Identity use cases (manual chapter 1): captcha, registration, login and sessions, password
change and the forgotten-password flow. One commit per use case; no Flask here.

Audit events carry masked identifiers only; tokens, codes and passwords are never recorded.
"""

from __future__ import annotations

import json
import logging
import secrets
from dataclasses import dataclass
from typing import Any

from argon2 import PasswordHasher
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from backend import clock
from backend.audit.services import RequestOrigin, record
from backend.errors import (
    Conflict,
    Forbidden,
    NotFound,
    Unauthorized,
    ValidationFailed,
)
from backend.identity import lockout
from backend.identity.captcha import Captchas, NewCaptcha
from backend.identity.lockout import PasswordAttempt, locked_error
from backend.identity.notices import TEXTS, notify
from backend.identity.passwords import make_hasher, verify_password
from backend.identity.sms import sms_codes
from backend.identity.smscodes import CodeSent
from backend.identity.tokens import RefreshReused, TokenPair, token_store
from backend.members.access import access_disabled
from backend.members.models import Credential, Member
from backend.members.queries import credentials_for_update, login_candidates, member_by_id_number
from backend.pii import is_valid_phone, looks_like_id_number, mask_id_number, mask_phone
from backend.ratelimit import Limit, Limiter
from backend.runtime import Runtime

logger = logging.getLogger(__name__)

# Manual-independent security rules of the hall (typical of Chinese government web halls);
# the password lock-out rules are in backend.identity.lockout.
# Generous: many members share one carrier-grade NAT address.
CAPTCHAS_PER_IP_MINUTE = 60
CAPTCHA_ISSUE = Limit(
    "captcha", CAPTCHAS_PER_IP_MINUTE, 60, "获取验证码过于频繁，请稍后再试", "captcha.too_many"
)
RESET_TTL = 15 * 60
RESET_STEPS = ("identified", "code_sent", "verified")


# --- shared pieces -------------------------------------------------------------------------


def password_hasher(rt: Runtime) -> PasswordHasher:
    """argon2id with the cost parameters from settings, shared by the runtime."""
    hasher = rt.extras.get("password_hasher")
    if hasher is None:
        hasher = make_hasher(rt.settings.argon2_time_cost, rt.settings.argon2_memory_cost)
        rt.extras["password_hasher"] = hasher
    return hasher


def _dummy_hash(rt: Runtime) -> str:
    """A hash with the live parameters, verified for unknown users so timing reveals nothing."""
    dummy = rt.extras.get("password_dummy_hash")
    if dummy is None:
        dummy = password_hasher(rt).hash(secrets.token_urlsafe(16))
        rt.extras["password_dummy_hash"] = dummy
    return dummy


def captchas(rt: Runtime) -> Captchas:
    fixed = "" if rt.settings.production else rt.settings.captcha_fixed
    return Captchas(rt.redis, rt.keys, fixed=fixed)


def mask_username(username: str) -> str:
    username = username.strip()
    if looks_like_id_number(username):
        return mask_id_number(username)
    if is_valid_phone(username):
        return mask_phone(username)
    return "*" * min(len(username), 8)


# --- captcha and SMS -----------------------------------------------------------------------


def new_captcha(rt: Runtime, origin: RequestOrigin) -> NewCaptcha:
    Limiter(rt.redis, rt.keys).take((CAPTCHA_ISSUE, origin.ip))
    return captchas(rt).new()


def send_register_code(
    rt: Runtime, *, phone: str, captcha_id: str, captcha_code: str, origin: RequestOrigin
) -> CodeSent:
    # Anyone may ask for a code to any phone, so the captcha and SmsCodes' quotas are the guard.
    captchas(rt).check(captcha_id, captcha_code)
    return sms_codes(rt).send(phone.strip(), "register", ip=origin.ip)


# --- registration (manual 1.2) -------------------------------------------------------------


REGISTER_REFUSED = (
    "注册信息核验未通过：请核对姓名、证件号码，并使用在公积金中心预留的手机号码。"
    "如您已注册，请直接登录；未预留手机号码的，请使用支付宝认证登录或携带身份证件到柜台办理"
)


def register(
    rt: Runtime,
    session: Session,
    *,
    id_number: str,
    name: str,
    phone: str,
    sms_code: str,
    password: str,
    origin: RequestOrigin,
) -> Member:
    """Create the web-hall credential of a depositor known to the centre.

    The SMS code is checked first, and then every refusal — unknown person, name or phone not
    the centre's, already registered, access disabled, no reserved phone — gets one answer
    (``register.refused``) after the same work as a success (an argon2 hash): holding a code for
    one's own phone must not tell whether an ID number belongs to a member, is registered, or
    which phone it has. The member learns the real reason by SMS on the reserved phone.
    """
    phone = phone.strip()
    sms_codes(rt).verify(phone, "register", sms_code)
    member = member_by_id_number(session, rt.pii, id_number)
    masked_id = mask_id_number(id_number)
    password_hash = password_hasher(rt).hash(password)  # the same work whatever comes next
    reason = _registration_refusal(rt, session, member, name, phone)
    if reason is not None:
        _refuse(
            session,
            "auth.register_refused",
            member.id if member and reason != "unknown_member" else None,
            origin,
            reason,
            masked_id,
        )
        if reason in ("already_registered", "phone_mismatch", "access_disabled"):
            notify(rt, member, reason)
        raise ValidationFailed(REGISTER_REFUSED, error_code="register.refused")
    assert member is not None
    now = clock.utcnow()
    session.add(
        Credential(
            member_id=member.id,
            password_hash=password_hash,
            failed_attempts=0,
            registered_at=now,
            password_changed_at=now,
        )
    )
    record(session, "auth.register", member_id=member.id, origin=origin, id_number=masked_id)
    try:
        session.commit()
    except IntegrityError:  # a concurrent registration of the same member won the race
        session.rollback()
        raise ValidationFailed(REGISTER_REFUSED, error_code="register.refused") from None
    return member


def _registration_refusal(
    rt: Runtime, session: Session, member: Member | None, name: str, phone: str
) -> str | None:
    """Why ``member`` may not register with ``name`` and ``phone`` (audit and SMS only)."""
    if member is None or member.name != name.strip():
        return "unknown_member"
    if session.get(Credential, member.id) is not None:
        return "already_registered"
    if not member.online_access:
        return "access_disabled"
    if not member.phone_hash:
        return "no_reserved_phone"
    if member.phone_hash != rt.pii.phone_lookup(phone):
        return "phone_mismatch"
    return None


def _refuse(
    session: Session,
    action: str,
    member_id: int | None,
    origin: RequestOrigin,
    reason: str,
    masked_id: str,
) -> None:
    record(session, action, member_id=member_id, origin=origin, reason=reason, id_number=masked_id)
    session.commit()


# --- login and sessions (manual 1.1) -------------------------------------------------------


@dataclass(frozen=True)
class SessionStarted:
    tokens: TokenPair
    member: Member


def login(
    rt: Runtime,
    session: Session,
    *,
    username: str,
    password: str,
    captcha_id: str,
    captcha_code: str,
    origin: RequestOrigin,
) -> SessionStarted:
    """Password login by ID number or reserved phone.

    Unknown users, wrong passwords and the right password of a member whose online access the
    centre disabled get the same answer after the same work (one argon2 verify); the disabled
    member is told by SMS. Attempts are limited per login name and address, per name and per
    address (:mod:`backend.identity.lockout`), all counted before the password is checked.
    """
    captchas(rt).check(captcha_id, captcha_code)
    masked = mask_username(username)
    try:
        attempt = PasswordAttempt(rt, username, origin.ip)
    except Forbidden:
        candidates = login_candidates(session, rt.pii, username)
        _record_attempt(session, "auth.login_locked_out", candidates, origin, username=masked)
        session.commit()
        raise
    candidates = login_candidates(session, rt.pii, username)
    creds = credentials_for_update(session, [m.id for m in candidates])
    member = password_owner(rt, candidates, creds, password)
    if member is None:
        reason = "wrong_password" if candidates else "unknown_user"
        raise failed_password(rt, session, attempt, candidates, origin, reason, username=masked)
    attempt.succeeded()
    credential = creds[member.id]
    credential.last_login_at = clock.utcnow()
    hasher = password_hasher(rt)
    if hasher.check_needs_rehash(credential.password_hash):
        credential.password_hash = hasher.hash(password)
    return open_session(rt, session, member, via="password", origin=origin, username=masked)


def password_owner(
    rt: Runtime, members: list[Member], creds: dict[int, Credential], password: str
) -> Member | None:
    """The member among ``members`` whose password this is and who may log in.

    No member: a verify against a dummy hash, so an unknown name costs what a known one does.
    The right password of a member whose online access is disabled counts as a wrong one (the
    member is told by SMS): otherwise a disabled member's password could be tested.
    """
    hasher = password_hasher(rt)
    if not members:
        verify_password(hasher, _dummy_hash(rt), password)
    for member in members:
        credential = creds.get(member.id)
        if credential is not None and verify_password(hasher, credential.password_hash, password):
            if member.online_access:
                return member
            notify(rt, member, "access_disabled")
    return None


def _record_attempt(
    session: Session, action: str, members: list[Member], origin: RequestOrigin, **detail: Any
) -> None:
    """Audit a password attempt; it names the member when the login name means exactly one."""
    record(
        session,
        action,
        member_id=members[0].id if len(members) == 1 else None,
        origin=origin,
        **detail,
    )


def failed_password(
    rt: Runtime,
    session: Session,
    attempt: PasswordAttempt,
    members: list[Member],
    origin: RequestOrigin,
    reason: str,
    **detail: Any,
) -> Forbidden | Unauthorized:
    """Audit a failed password attempt (lock included, members told by SMS when their login
    name is paused) and commit; returns the error to raise: the lock or the common 401."""
    _record_attempt(session, "auth.login_failed", members, origin, reason=reason, **detail)
    until = attempt.lock_until()
    if until is not None:
        for member in members:
            record(
                session, "auth.locked", member_id=member.id, origin=origin, until=until.isoformat()
            )
            if attempt.name_paused:
                notify(rt, member, "password_paused")
    session.commit()
    if until is not None:
        return locked_error(until)
    return Unauthorized("用户名或密码错误", error_code="auth.invalid_credentials")


def open_session(
    rt: Runtime, session: Session, member: Member, *, via: str, origin: RequestOrigin, **detail: Any
) -> SessionStarted:
    """Log an identified ``member`` in (password, Alipay, WeChat): the disabled-access refusal,
    the audit event, the commit and the token pair are the same whatever the door."""
    if not member.online_access:
        record(
            session,
            "auth.login_refused",
            member_id=member.id,
            origin=origin,
            via=via,
            reason="access_disabled",
        )
        session.commit()
        raise access_disabled()
    record(session, "auth.login", member_id=member.id, origin=origin, via=via, **detail)
    session.commit()
    return SessionStarted(token_store(rt).issue(member.id), member)


def refresh(
    rt: Runtime, session: Session, *, refresh_token: str, origin: RequestOrigin
) -> SessionStarted:
    store = token_store(rt)
    try:
        pair = store.rotate(refresh_token)
    except RefreshReused as reuse:
        # A spent refresh token means two parties hold it; TokenStore revoked the family.
        record(session, "auth.refresh_reused", member_id=reuse.member_id, origin=origin)
        session.commit()
        raise Unauthorized("登录状态异常，请重新登录", error_code="auth.refresh_reused") from None
    if pair is None:
        raise Unauthorized("登录已过期，请重新登录", error_code="auth.refresh_invalid")
    member = session.get(Member, pair.member_id)
    if member is None or not member.online_access:
        store.revoke_family(pair.family)
        raise access_disabled(status_code=401)
    return SessionStarted(pair, member)


def logout(
    rt: Runtime, session: Session, *, member: Member, family: str, origin: RequestOrigin
) -> None:
    token_store(rt).revoke_family(family)
    record(session, "auth.logout", member_id=member.id, origin=origin)
    session.commit()


# --- password change (manual 1.3) ----------------------------------------------------------


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
    hasher = password_hasher(rt)
    if not verify_password(hasher, credential.password_hash, old_password):
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
    return token_store(rt).revoke_member(member.id, keep_family=family)


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
        _refuse(session, "auth.password_reset_refused", member_id, origin, reason, masked_id)
        raise ValidationFailed(RESET_REFUSED, error_code="reset.identity_mismatch")
    reset_id = secrets.token_urlsafe(24)
    expires_at = clock.utcnow().timestamp() + RESET_TTL
    ticket = {"m": member.id, "step": "identified", "exp": expires_at}
    refusal = _reset_refusal(session, member)
    if refusal is not None:
        ticket["no"] = refusal
        _refuse(session, "auth.password_reset_refused", member.id, origin, refusal, masked_id)
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
    sent = sms_codes(rt).send(phone, "reset", ip=origin.ip, notice=notice)
    if ticket["step"] == "identified":
        ticket["step"] = "code_sent"
        _save_ticket(rt, reset_id, ticket)
    return sent, member.phone_masked or ""


def verify_reset_code(rt: Runtime, session: Session, *, reset_id: str, sms_code: str) -> None:
    ticket = _ticket(rt, reset_id, "code_sent")
    member = _reset_member(rt, session, ticket)
    sms_codes(rt).verify(rt.pii.decrypt(member.phone_enc or ""), "reset", sms_code)
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
    _set_password(credential, password_hasher(rt).hash(new_password))
    record(session, "auth.password_reset", member_id=member_id, origin=origin)
    session.commit()
    token_store(rt).revoke_member(member_id)
    member = session.get(Member, member_id)
    if member is not None:
        lockout.lift(rt, member)
