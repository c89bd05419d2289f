"""Identity use cases (manual chapter 1): captcha, registration, login and sessions, password
change and the forgotten-password flow. One commit per use case; no Flask here.

Audit events carry masked identifiers only; tokens, codes and passwords are never recorded.
"""

from __future__ import annotations

import datetime as dt
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
    TooManyRequests,
    Unauthorized,
    ValidationFailed,
)
from backend.identity.captcha import Captchas, NewCaptcha
from backend.identity.passwords import make_hasher, verify_password
from backend.identity.sms import sms_codes
from backend.identity.smscodes import CodeSent
from backend.identity.throttle import Window
from backend.identity.tokens import RefreshReused, TokenPair, token_store
from backend.members.models import Credential, Member
from backend.members.queries import credentials_for_update, login_candidates, member_by_id_number
from backend.pii import is_valid_phone, looks_like_id_number, mask_id_number, mask_phone
from backend.runtime import Runtime

logger = logging.getLogger(__name__)

# Manual-independent security rules of the hall (typical of Chinese government web halls).
MAX_FAILED_LOGINS = 5
LOCK_MINUTES = 15
IP_FAILED_LOGINS = 20  # failed logins per IP per window before the IP is throttled
IP_WINDOW = 15 * 60
# Generous: many members share one carrier-grade NAT address.
CAPTCHAS_PER_IP_MINUTE = 60
RESET_TTL = 15 * 60
RESET_STEPS = ("identified", "code_sent", "verified")

NO_RESERVED_PHONE = "您未在中心预留手机号码，请使用支付宝认证登录，或携带身份证件到柜台办理"
ACCESS_DISABLED = "您的网上业务已停用，请联系公积金中心"


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


def _retry_after(seconds: float) -> dict[str, str]:
    return {"Retry-After": str(max(int(seconds), 1))}


def access_disabled(status_code: int = 403) -> Forbidden:
    return Forbidden(ACCESS_DISABLED, error_code="auth.access_disabled", status_code=status_code)


# --- captcha and SMS -----------------------------------------------------------------------


def new_captcha(rt: Runtime, origin: RequestOrigin) -> NewCaptcha:
    window = Window(rt.redis, rt.keys, "captcha", CAPTCHAS_PER_IP_MINUTE, 60)
    if window.hit(origin.ip) > CAPTCHAS_PER_IP_MINUTE:
        raise TooManyRequests(
            "获取验证码过于频繁，请稍后再试",
            error_code="captcha.too_many",
            headers=_retry_after(window.seconds_left()),
        )
    return captchas(rt).new()


def send_register_code(
    rt: Runtime, *, phone: str, captcha_id: str, captcha_code: str, origin: RequestOrigin
) -> CodeSent:
    # Anyone may ask for a code to any phone, so the captcha and SmsCodes' quotas are the guard.
    captchas(rt).check(captcha_id, captcha_code)
    return sms_codes(rt).send(phone.strip(), "register", ip=origin.ip)


# --- registration (manual 1.2) -------------------------------------------------------------


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

    The SMS code is checked first: nobody learns anything about the centre's records (does this
    ID exist, under which name, with which phone) without proving they hold the phone.
    """
    phone = phone.strip()
    sms_codes(rt).verify(phone, "register", sms_code)
    member = member_by_id_number(session, rt.pii, id_number)
    masked_id = mask_id_number(id_number)
    if member is None or member.name != name.strip():
        _refuse(session, "auth.register_refused", None, origin, "unknown_member", masked_id)
        raise ValidationFailed(
            "未查询到您的缴存信息，请核对姓名和证件号码",
            error_code="register.member_not_found",
        )
    if session.get(Credential, member.id) is not None:
        raise Conflict(
            "您已注册，请使用身份证号或手机号码直接登录", error_code="register.already_registered"
        )
    if not member.online_access:
        raise access_disabled()
    if not member.phone_hash:
        _refuse(session, "auth.register_refused", member.id, origin, "no_reserved_phone", masked_id)
        raise Forbidden(NO_RESERVED_PHONE, error_code="register.no_reserved_phone")
    if member.phone_hash != rt.pii.phone_lookup(phone):
        _refuse(session, "auth.register_refused", member.id, origin, "phone_mismatch", masked_id)
        raise ValidationFailed(
            "输入的手机号码必须与中心预留的手机号码一致",
            error_code="register.phone_mismatch",
            errors={"phone": ["输入的手机号码必须与中心预留的手机号码一致"]},
        )
    now = clock.utcnow()
    session.add(
        Credential(
            member_id=member.id,
            password_hash=password_hasher(rt).hash(password),
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
        raise Conflict(
            "您已注册，请使用身份证号或手机号码直接登录", error_code="register.already_registered"
        ) from None
    return member


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


def _locked_error(until: dt.datetime) -> Forbidden:
    local = clock.to_local(until)
    return Forbidden(
        f"密码连续输错{MAX_FAILED_LOGINS}次，账户已锁定{LOCK_MINUTES}分钟，请于{local:%H:%M}后再试",
        error_code="auth.account_locked",
        headers=_retry_after((until - clock.utcnow()).total_seconds()),
        locked_until=local.isoformat(timespec="seconds"),
    )


def _is_locked(credential: Credential, now: dt.datetime) -> bool:
    return credential.locked_until is not None and credential.locked_until > now


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

    Unknown users and wrong passwords get the same answer after the same amount of work. Five
    wrong passwords in a row lock the credential for fifteen minutes; an IP with too many
    failures is throttled whatever names it tries.
    """
    ip_window = Window(rt.redis, rt.keys, "login-fail", IP_FAILED_LOGINS, IP_WINDOW)
    if ip_window.exhausted(origin.ip):
        raise TooManyRequests(
            "登录失败次数过多，请稍后再试",
            error_code="auth.ip_throttled",
            headers=_retry_after(ip_window.seconds_left()),
        )
    captchas(rt).check(captcha_id, captcha_code)
    now = clock.utcnow()
    hasher = password_hasher(rt)
    candidates = login_candidates(session, rt.pii, username)
    creds = credentials_for_update(session, [m.id for m in candidates])
    live = [m for m in candidates if not _is_locked(creds[m.id], now)]
    masked = mask_username(username)
    if candidates and not live:
        until = min(c.locked_until for c in creds.values() if c.locked_until is not None)
        record(
            session,
            "auth.login_locked_out",
            member_id=candidates[0].id,
            origin=origin,
            username=masked,
        )
        session.commit()
        raise _locked_error(until)
    if not candidates:
        verify_password(hasher, _dummy_hash(rt), password)
    member = next(
        (m for m in live if verify_password(hasher, creds[m.id].password_hash, password)), None
    )
    if member is None:
        ip_window.hit(origin.ip)
        locked_until = _count_failure(session, [creds[m.id] for m in live], now, origin)
        record(
            session,
            "auth.login_failed",
            member_id=live[0].id if len(live) == 1 else None,
            origin=origin,
            username=masked,
            reason="wrong_password" if live else "unknown_user",
        )
        session.commit()
        if locked_until is not None:
            raise _locked_error(locked_until)
        raise Unauthorized("用户名或密码错误", error_code="auth.invalid_credentials")
    if not member.online_access:
        record(
            session,
            "auth.login_refused",
            member_id=member.id,
            origin=origin,
            reason="access_disabled",
        )
        session.commit()
        raise access_disabled()
    credential = creds[member.id]
    credential.failed_attempts = 0
    credential.locked_until = None
    credential.last_login_at = now
    if hasher.check_needs_rehash(credential.password_hash):
        credential.password_hash = hasher.hash(password)
    record(
        session, "auth.login", member_id=member.id, origin=origin, via="password", username=masked
    )
    session.commit()
    return SessionStarted(token_store(rt).issue(member.id), member)


def _count_failure(
    session: Session, credentials: list[Credential], now: dt.datetime, origin: RequestOrigin
) -> dt.datetime | None:
    locked_until = None
    for credential in credentials:
        credential.failed_attempts = (credential.failed_attempts or 0) + 1
        if credential.failed_attempts >= MAX_FAILED_LOGINS:
            credential.failed_attempts = 0
            credential.locked_until = locked_until = now + dt.timedelta(minutes=LOCK_MINUTES)
            record(
                session,
                "auth.locked",
                member_id=credential.member_id,
                origin=origin,
                until=credential.locked_until.isoformat(),
            )
    return locked_until


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
    captchas(rt).check(captcha_id, captcha_code)
    masked_id = mask_id_number(id_number)
    member = member_by_id_number(session, rt.pii, id_number)
    if member is None or member.name != name.strip():
        # One answer for either part being wrong: the form must not confirm a guessed ID number.
        _refuse(
            session, "auth.password_reset_refused", None, origin, "identity_mismatch", masked_id
        )
        raise ValidationFailed(
            "信息验证未通过，请核对姓名和证件号码后重新验证",
            error_code="reset.identity_mismatch",
        )
    if not member.phone_enc or not member.phone_masked:
        _refuse(
            session,
            "auth.password_reset_refused",
            member.id,
            origin,
            "no_reserved_phone",
            masked_id,
        )
        raise Forbidden(NO_RESERVED_PHONE, error_code="reset.no_reserved_phone")
    if session.get(Credential, member.id) is None:
        raise Conflict("您尚未注册，请先注册", error_code="reset.not_registered")
    if not member.online_access:
        raise access_disabled()
    reset_id = secrets.token_urlsafe(24)
    expires_at = clock.utcnow().timestamp() + RESET_TTL
    _save_ticket(rt, reset_id, {"m": member.id, "step": "identified", "exp": expires_at})
    record(session, "auth.password_reset_started", member_id=member.id, origin=origin)
    session.commit()
    return ResetStarted(reset_id, member.phone_masked, RESET_TTL)


def send_reset_code(
    rt: Runtime, session: Session, *, reset_id: str, origin: RequestOrigin
) -> tuple[CodeSent, str]:
    ticket = _ticket(rt, reset_id, "identified")
    member = _reset_member(rt, session, ticket)
    sent = sms_codes(rt).send(rt.pii.decrypt(member.phone_enc or ""), "reset", ip=origin.ip)
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
