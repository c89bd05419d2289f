"""HTTP layer of the applications feature: 我发起的 (manual 2.3)."""

from __future__ import annotations

from typing import Any

from flask.views import MethodView

from backend.api import Blueprint, db
from backend.applications import queries
from backend.applications.schemas import (
    ApplicationListArgsSchema,
    ApplicationPageSchema,
    ApplicationSchema,
)
from backend.auth import current_member_id, member_view
from backend.pagination import Page

blp = Blueprint(
    "applications", __name__, url_prefix="/api/v1", description="我发起的：提取与贷款申请的办理情况"
)


@blp.route("/applications")
class Applications(MethodView):
    @member_view(blp)
    @blp.arguments(ApplicationListArgsSchema, location="query", as_kwargs=True)
    @blp.response(200, ApplicationPageSchema)
    @blp.alt_response(422, description="Bad kind, limit or cursor")
    def get(self, kind: str | None, cursor: str | None, limit: int) -> Page[Any]:
        """我发起的: the member's applications, newest first"""
        items, next_cursor = queries.list_applications(
            db(), current_member_id(), kind=kind, cursor=cursor, limit=limit
        )
        return Page(items, next_cursor)


@blp.route("/applications/<int:application_id>")
class ApplicationDetail(MethodView):
    @member_view(blp)
    @blp.response(200, ApplicationSchema)
    @blp.alt_response(404, description="No such application of this member")
    def get(self, application_id: int) -> Any:
        """查看: status, every node with its opinion, handler and time"""
        return queries.get_application(db(), current_member_id(), application_id)
