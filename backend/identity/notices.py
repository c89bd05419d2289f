"""The real reason of a refusal, told only to the member's reserved phone.

Login, registration and the password reset answer strangers one way whatever the cause (ASVS
V2/V3: no account enumeration). What the member needs to know — already registered, access
disabled, password login paused — goes by SMS to the phone the centre holds for them, through the
SMS sender's ``notice`` scene (a notification template: dysms takes the text as ``${content}``,
at most 35 characters). A notice of one kind reaches one member at most ``NOTICES_PER_DAY`` times
a Beijing calendar day, so nobody can flood a member's phone by provoking refusals.

Local senders (file, log) deliver inline; a network sender delivers on a background thread, so a
refusal that sends a notice takes as long as one that does not.
"""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor

from backend.errors import AppError
from backend.members.models import Member
from backend.ratelimit import Limit, Limiter
from backend.runtime import Runtime

logger = logging.getLogger(__name__)

NOTICES_PER_DAY = 3
SCENE = "notice"

TEXTS = {
    "already_registered": "您已注册网厅，请直接登录；如非本人操作请忽略。",
    "phone_mismatch": "有人用其他手机号注册您的网厅；变更预留手机号请到柜台办理。",
    "access_disabled": "您的网上业务已停用，请联系公积金中心。",
    "not_registered": "您尚未注册网厅，请先注册后再登录。",
    "password_paused": "您的网厅密码多次输错，已暂停密码登录，可通过忘记密码重置。",
}

NOTICE_DAILY = Limit("notice", NOTICES_PER_DAY)

_background = ThreadPoolExecutor(max_workers=2, thread_name_prefix="sms-notice")


def _send(rt: Runtime, phone: str, text: str) -> None:
    try:
        rt.sms_sender.send(phone, SCENE, "", text)
    except Exception:  # a notice is best effort: the refusal the caller saw stands
        logger.exception("sms notice not sent")


def notify(rt: Runtime, member: Member | None, reason: str) -> None:
    """Tell ``member`` (if the centre holds a phone for them) why they were refused."""
    if member is None or not member.phone_enc:
        return
    try:
        Limiter(rt.redis, rt.keys).take((NOTICE_DAILY, f"{reason}:{member.id}"))
    except AppError:
        return  # told often enough today
    phone = rt.pii.decrypt(member.phone_enc)
    if rt.settings.sms_backend in ("file", "log"):
        _send(rt, phone, TEXTS[reason])
    else:
        _background.submit(_send, rt, phone, TEXTS[reason])
