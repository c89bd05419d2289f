"""Registration (manual 1.2): the SMS code to the reserved phone, then the web-hall credential.

Audit events carry masked identifiers only; codes and passwords are never recorded.
"""

from __future__ import annotations

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from backend import clock
from backend.audit.services import RequestOrigin, record
from backend.errors import ValidationFailed
from backend.identity.common import captchas, refuse
from backend.identity.notices import notify
from backend.identity.smscodes import CodeSent
from backend.members.models import Credential, Member
from backend.members.queries import member_by_id_number
from backend.pii import mask_id_number
from backend.runtime import Runtime


def send_register_code(
    rt: Runtime, *, phone: str, captcha_id: str, captcha_code: str, origin: RequestOrigin
) -> CodeSent:
    # Anyone may ask for a code to any phone, so the captcha and SmsCodes' quotas are the guard.
    captchas(rt).check(captcha_id, captcha_code)
    return rt.sms_codes.send(phone.strip(), "register", ip=origin.ip)


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
    rt.sms_codes.verify(phone, "register", sms_code)
    member = member_by_id_number(session, rt.pii, id_number)
    masked_id = mask_id_number(id_number)
    password_hash = rt.passwords.hash(password)  # the same work whatever comes next
    reason = _registration_refusal(rt, session, member, name, phone)
    if reason is not None:
        refuse(
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
