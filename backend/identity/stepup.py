"""Step-up verification for money-moving requests: an SMS code sent to the reserved phone.

``POST /sms-codes/transaction`` sends it (:func:`send_transaction_code`); withdrawals and loan
applications consume it with :func:`consume_transaction_code` before doing anything.
"""

from __future__ import annotations

from backend.errors import Forbidden
from backend.identity.sms import sms_codes
from backend.identity.smscodes import CodeSent
from backend.members.models import Member
from backend.runtime import Runtime

SCENE = "transaction"


def _reserved_phone(rt: Runtime, member: Member) -> str:
    if not member.phone_enc:
        raise Forbidden(
            "您未在中心预留手机号码，请携带身份证件到柜台办理",
            error_code="stepup.no_reserved_phone",
        )
    return rt.pii.decrypt(member.phone_enc)


def send_transaction_code(rt: Runtime, member: Member, ip: str | None = None) -> CodeSent:
    return sms_codes(rt).send(_reserved_phone(rt, member), SCENE, ip=ip)


def consume_transaction_code(rt: Runtime, member: Member, code: str) -> None:
    """Raises a 422 (``sms.code_*``) unless ``code`` is the live code of this member's phone."""
    sms_codes(rt).verify(_reserved_phone(rt, member), SCENE, code)
