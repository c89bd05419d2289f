"""What the identity use cases share: captchas, masked login names in audit events, and the
audited refusal that commits."""

from __future__ import annotations

from sqlalchemy.orm import Session

from backend.audit.services import RequestOrigin, record
from backend.identity.captcha import Captchas, NewCaptcha
from backend.pii import is_valid_phone, looks_like_id_number, mask_id_number, mask_phone
from backend.ratelimit import Limit, Limiter
from backend.runtime import Core

# Generous: many members share one carrier-grade NAT address.
CAPTCHAS_PER_IP_MINUTE = 60
CAPTCHA_ISSUE = Limit(
    "captcha", CAPTCHAS_PER_IP_MINUTE, 60, "获取验证码过于频繁，请稍后再试", "captcha.too_many"
)


def captchas(rt: Core) -> Captchas:
    fixed = "" if rt.settings.production else rt.settings.captcha_fixed
    return Captchas(rt.redis, rt.keys, fixed=fixed)


def mask_username(username: str) -> str:
    username = username.strip()
    if looks_like_id_number(username):
        return mask_id_number(username)
    if is_valid_phone(username):
        return mask_phone(username)
    return "*" * min(len(username), 8)


def new_captcha(rt: Core, origin: RequestOrigin) -> NewCaptcha:
    Limiter(rt.redis, rt.keys).take((CAPTCHA_ISSUE, origin.ip))
    return captchas(rt).new()


def refuse(
    session: Session,
    action: str,
    member_id: int | None,
    origin: RequestOrigin,
    reason: str,
    masked_id: str,
) -> None:
    """Audit a refusal and commit it (the caller raises its answer)."""
    record(session, action, member_id=member_id, origin=origin, reason=reason, id_number=masked_id)
    session.commit()
