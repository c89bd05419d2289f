"""Login and sessions (manual 1.1): password login, the session every door opens (password,
Alipay, WeChat), refresh and logout.

Audit events carry masked identifiers only; tokens and passwords are never recorded.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from backend import clock
from backend.audit.services import RequestOrigin, record
from backend.errors import Forbidden, Unauthorized
from backend.identity.common import captchas, mask_username
from backend.identity.lockout import PasswordAttempt, locked_error
from backend.identity.notices import notify
from backend.identity.tokens import RefreshReused, TokenPair
from backend.members.access import access_disabled
from backend.members.models import Credential, Member
from backend.members.queries import credentials_for_update, login_candidates
from backend.runtime import Runtime


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
    hasher = rt.passwords
    if hasher.needs_rehash(credential.password_hash):
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
    hasher = rt.passwords
    if not members:
        hasher.verify_dummy(password)
    for member in members:
        credential = creds.get(member.id)
        if credential is not None and hasher.verify(credential.password_hash, password):
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
    return SessionStarted(rt.tokens.issue(member.id), member)


def refresh(
    rt: Runtime, session: Session, *, refresh_token: str, origin: RequestOrigin
) -> SessionStarted:
    store = rt.tokens
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
    rt.tokens.revoke_family(family)
    record(session, "auth.logout", member_id=member.id, origin=origin)
    session.commit()
