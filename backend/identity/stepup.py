"""Step-up verification for money-moving requests: an SMS code sent to the reserved phone.

``POST /sms-codes/transaction`` sends it (:func:`send_transaction_code`); withdrawals, loan
applications and prepayments consume it through :func:`confirm_once` (the account lock, the
Idempotency-Key, the rules, then the code).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from sqlalchemy.orm import Session

from backend.accounts.queries import account_of
from backend.errors import Forbidden
from backend.idempotency.services import StoredAnswer, run_once
from backend.identity.sms import sms_codes
from backend.identity.smscodes import CodeSent
from backend.members.models import Member
from backend.runtime import Runtime

SCENE = "transaction"
T = TypeVar("T")


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


def confirm_once(
    session: Session,
    rt: Runtime,
    member: Member,
    *,
    scope: str,
    idempotency_key: str | None,
    fingerprint: Any,
    sms_code: str,
    check: Callable[[], T],
    act: Callable[[T], tuple[int, dict[str, Any]]],
) -> StoredAnswer:
    """A money-moving request confirmed by the SMS step-up, once per ``Idempotency-Key``.

    The member's account row is locked first, so racing requests (other keys) check and create
    one after the other, and a racing request with the same key finds the winner's answer. Then,
    unless the key was seen: ``check()`` (the rules; a refused request must not burn the code),
    the code is consumed, ``act(checked)`` creates and answers ``(status, body)``, stored for
    replays. ``fingerprint`` leaves out the SMS code, so a retry with a fresh code replays.
    """
    account_of(session, member.id, lock=True)

    def work() -> tuple[int, dict[str, Any]]:
        checked = check()
        consume_transaction_code(rt, member, sms_code)
        return act(checked)

    return run_once(
        session,
        member_id=member.id,
        scope=scope,
        key=idempotency_key,
        body=fingerprint,
        work=work,
    )
