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
from backend.auth import BEARER_SECURITY, current_member, login_required

blp = Blueprint(
    "applications", __name__, url_prefix="/api/v1", description="我发起的：提取与贷款申请的办理情况"
)


@blp.route("/applications")
class Applications(MethodView):
    decorators = [login_required]

    @blp.doc(security=BEARER_SECURITY)
    @blp.arguments(ApplicationListArgsSchema, location="query", as_kwargs=True)
    @blp.response(200, ApplicationPageSchema)
    @blp.alt_response(401, description="Not logged in")
    @blp.alt_response(422, description="Bad kind, limit or cursor")
    def get(self, kind: str | None, cursor: str | None, limit: int) -> dict[str, Any]:
        """我发起的: the member's applications, newest first"""
        items, next_cursor = queries.list_applications(
            db(), current_member().id, kind=kind, cursor=cursor, limit=limit
        )
        return {"items": items, "next_cursor": next_cursor}


@blp.route("/applications/<int:application_id>")
class ApplicationDetail(MethodView):
    decorators = [login_required]

    @blp.doc(security=BEARER_SECURITY)
    @blp.response(200, ApplicationSchema)
    @blp.alt_response(401, description="Not logged in")
    @blp.alt_response(404, description="No such application of this member")
    def get(self, application_id: int) -> Any:
        """查看: status, every node with its opinion, handler and time"""
        return queries.get_application(db(), current_member().id, application_id)
