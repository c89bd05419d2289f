"""The one shape of a money-moving member request (withdrawal, rent arrangement, transfer, loan
application, prepayment): :func:`confirm_once` takes the account lock, the Idempotency-Key, the
rules, the SMS step-up code, the write and the audit, in that order.

The code is sent to the reserved phone by ``POST /sms-codes/transaction``
(:func:`backend.identity.stepup.send_transaction_code`); this module only consumes it, through the
runtime's SMS codes, so the money features depend on it and not on the identity feature.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy.orm import Session

from backend.accounts.models import FundAccount
from backend.accounts.queries import account_of
from backend.audit.services import RequestOrigin, record
from backend.errors import Forbidden
from backend.idempotency.services import StoredAnswer, run_once
from backend.members.models import Member
from backend.runtime import Runtime

SCENE = "transaction"
C = TypeVar("C")  # what the rules checked
W = TypeVar("W")  # what the request wrote


def reserved_phone(rt: Runtime, member: Member) -> str:
    if not member.phone_enc:
        raise Forbidden(
            "您未在中心预留手机号码，请携带身份证件到柜台办理",
            error_code="stepup.no_reserved_phone",
        )
    return rt.pii.decrypt(member.phone_enc)


def consume_transaction_code(rt: Runtime, member: Member, code: str) -> None:
    """Raises a 422 (``sms.code_*``) unless ``code`` is the live code of this member's phone."""
    rt.sms_codes.verify(reserved_phone(rt, member), SCENE, code)


@dataclass(frozen=True)
class Audit:
    """The audit line a money-moving request leaves: its action and masked details."""

    action: str
    details: dict[str, Any]


def confirm_once(
    session: Session,
    rt: Runtime,
    member: Member,
    *,
    scope: str,
    idempotency_key: str | None,
    fingerprint: Any,
    sms_code: str,
    check: Callable[[FundAccount | None], C],
    write: Callable[[C], W],
    audit: Callable[[W], Audit],
    origin: RequestOrigin | None,
    answer: Callable[[W], dict[str, Any]],
) -> StoredAnswer:
    """The one shape of a money-moving member request (withdrawal, rent arrangement, transfer,
    loan application, prepayment), confirmed by the SMS step-up once per ``Idempotency-Key``.

    1. The member's account row is locked (the only lock the request takes on it), so racing
       requests with other keys check and write one after the other, and a racing request with
       the same key waits, then finds the winner's stored answer.
    2. A key already used replays its answer (409 when the request differs).
    3. ``check(account)`` applies the rules to the locked account (``None``: the member has
       none) and raises their refusal: a refused request must not burn the code.
    4. The SMS code is consumed, ``write(checked)`` makes the application (or booking), the
       ``audit(written)`` line is recorded, and ``answer(written)`` (the route's schema dump) is
       stored with the key and committed: 201.

    ``fingerprint`` leaves out the SMS code, so a retry with a fresh code replays.
    """
    account = account_of(session, member.id, lock=True)

    def work() -> tuple[int, dict[str, Any]]:
        checked = check(account)
        consume_transaction_code(rt, member, sms_code)
        written = write(checked)
        line = audit(written)
        record(session, line.action, member_id=member.id, origin=origin, **line.details)
        return 201, answer(written)

    return run_once(
        session,
        member_id=member.id,
        scope=scope,
        key=idempotency_key,
        body=fingerprint,
        work=work,
    )
