"""Step-up verification for money-moving requests: an SMS code sent to the reserved phone
(``POST /sms-codes/transaction``). The requests consume it in :func:`backend.stepup.confirm_once`."""

from __future__ import annotations

from backend.identity.smscodes import CodeSent
from backend.members.models import Member
from backend.runtime import Runtime
from backend.stepup import SCENE, reserved_phone


def send_transaction_code(rt: Runtime, member: Member, ip: str | None = None) -> CodeSent:
    return rt.sms_codes.send(reserved_phone(rt, member), SCENE, ip=ip)
