"""Idempotent requests: the member's money-moving requests (``Idempotency-Key``) and, through
:func:`same_request`, every keyed write of the internal API.

The first request with a key does the work and stores its answer in the same transaction; a replay
with the same body gets that answer again; the same key with a different body is a 409
``idempotency.key_reused``. Two racing requests with one key collide on the unique constraint: the
loser gets the winner's answer, or the 409 when its body differs.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from backend.errors import Conflict, ValidationFailed
from backend.idempotency.models import IdempotencyRecord

KEY_MAX = 100


@dataclass(frozen=True)
class StoredAnswer:
    status_code: int
    body: dict[str, Any]
    replayed: bool


def canonical(body: Any) -> str:
    """One text per request content: keys sorted, no spacing, values (Decimal, dates) as text."""
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def request_hash(body: Any) -> str:
    return hashlib.sha256(canonical(body).encode()).hexdigest()


def same_request(stored_hash: str | None, body_hash: str) -> None:
    """The one comparison of every idempotent endpoint: a key already used is a replay only when
    the whole request is the same; otherwise 409. ``stored_hash`` is None for rows written before
    fingerprints were kept (answered as replays, as they were then)."""
    if stored_hash is not None and stored_hash != body_hash:
        raise Conflict(
            "该请求已用不同内容提交过，请勿重复提交",
            error_code="idempotency.key_reused",
        )


def check_key(key: str | None) -> str:
    if not key or not key.strip():
        raise ValidationFailed(
            "缺少幂等键，请刷新页面后重新提交",
            error_code="idempotency.key_missing",
            errors={"Idempotency-Key": ["必须提供 Idempotency-Key 请求头"]},
        )
    key = key.strip()
    if len(key) > KEY_MAX:
        raise ValidationFailed(
            "幂等键过长",
            error_code="idempotency.key_invalid",
            errors={"Idempotency-Key": [f"长度不能超过 {KEY_MAX}"]},
        )
    return key


def _replay(record: IdempotencyRecord, body_hash: str) -> StoredAnswer:
    same_request(record.request_hash, body_hash)
    return StoredAnswer(record.status_code, record.response, replayed=True)


def run_once(
    session: Session,
    *,
    member_id: int,
    scope: str,
    key: str | None,
    body: Any,
    work: Callable[[], tuple[int, dict[str, Any]]],
) -> StoredAnswer:
    """Run ``work`` (which must not commit) once per (member, scope, key) and commit its answer.

    ``work`` returns ``(status_code, response_body)``. Domain errors it raises propagate and leave
    nothing stored, so the member can correct the request and retry with the same key.
    """
    key = check_key(key)
    body_hash = request_hash(body)
    existing = session.scalars(
        select(IdempotencyRecord).where(
            IdempotencyRecord.member_id == member_id,
            IdempotencyRecord.scope == scope,
            IdempotencyRecord.key == key,
        )
    ).first()
    if existing is not None:
        return _replay(existing, body_hash)
    status_code, response = work()
    session.add(
        IdempotencyRecord(
            member_id=member_id,
            scope=scope,
            key=key,
            request_hash=body_hash,
            status_code=status_code,
            response=response,
        )
    )
    try:
        session.commit()
    except IntegrityError:
        # Another request with the same key committed first: answer as it did.
        session.rollback()
        winner = session.scalars(
            select(IdempotencyRecord).where(
                IdempotencyRecord.member_id == member_id,
                IdempotencyRecord.scope == scope,
                IdempotencyRecord.key == key,
            )
        ).one()
        return _replay(winner, body_hash)
    return StoredAnswer(status_code, response, replayed=False)
