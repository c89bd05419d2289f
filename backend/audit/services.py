"""Writing audit events. Callers pass masked values only; the caller's transaction commits."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from backend.audit.models import AuditEvent


@dataclass(frozen=True)
class RequestOrigin:
    """Where a request came from, captured by the web layer and passed to services."""

    ip: str | None = None
    request_id: str | None = None


def record(
    session: Session,
    action: str,
    *,
    member_id: int | None = None,
    actor: str | None = None,
    origin: RequestOrigin | None = None,
    **detail: Any,
) -> AuditEvent:
    origin = origin or RequestOrigin()
    event = AuditEvent(
        member_id=member_id,
        actor=actor or (f"member:{member_id}" if member_id else "anonymous"),
        action=action,
        ip=origin.ip,
        request_id=origin.request_id,
        detail=detail,
    )
    session.add(event)
    return event
