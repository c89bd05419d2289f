"""Reads of 我发起的: a member's own applications only. Never commit."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from backend.applications.models import Application
from backend.errors import NotFound
from backend.pagination import keyset_page


def list_applications(
    session: Session, member_id: int, *, kind: str | None, cursor: str | None, limit: int
) -> tuple[list[Application], str | None]:
    """Newest submitted first; "更多" is the next page."""
    stmt = (
        select(Application)
        .options(selectinload(Application.nodes))
        .where(Application.member_id == member_id)
    )
    if kind:
        stmt = stmt.where(Application.kind == kind)
    return keyset_page(
        session, stmt, [Application.submitted_at, Application.id], cursor=cursor, limit=limit
    )


def get_application(session: Session, member_id: int, application_id: int) -> Application:
    application = session.scalars(
        select(Application)
        .options(selectinload(Application.nodes))
        .where(Application.id == application_id, Application.member_id == member_id)
    ).first()
    if application is None:
        raise NotFound("未找到该业务", error_code="application.not_found")
    return application
