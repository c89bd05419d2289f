"""HTTP layer of announcements (公告): the member's list, unread badge, detail and read mark."""

from __future__ import annotations

from typing import Any

from flask.views import MethodView

from backend.announcements import queries, services
from backend.announcements.schemas import (
    AnnouncementPageSchema,
    AnnouncementReadSchema,
    AnnouncementSchema,
    AnnouncementUnreadSchema,
)
from backend.api import Blueprint, db
from backend.auth import current_member_id, member_view
from backend.pagination import Page, PageArgsSchema

blp = Blueprint("announcements", __name__, url_prefix="/api/v1", description="公告")

MARKED_READ = "已读"


@blp.route("/announcements")
class Announcements(MethodView):
    @member_view(blp)
    @blp.arguments(PageArgsSchema, location="query", as_kwargs=True)
    @blp.response(200, AnnouncementPageSchema)
    @blp.alt_response(422, description="Bad limit or cursor")
    def get(self, cursor: str | None, limit: int) -> Page[Any]:
        """公告 list, newest first, with the member's unread marks

        Only announcements already published, not withdrawn, whose audience the member belongs
        to (everyone / loan holders / members with an account in normal status).
        """
        items, next_cursor = queries.list_for_member(
            db(), current_member_id(), cursor=cursor, limit=limit
        )
        return Page(items, next_cursor)


@blp.route("/announcements/unread-count")
class AnnouncementUnread(MethodView):
    @member_view(blp)
    @blp.response(200, AnnouncementUnreadSchema)
    def get(self) -> dict[str, int]:
        """Unread announcements (the badge)"""
        return {"unread_count": queries.unread_count(db(), current_member_id())}


@blp.route("/announcements/<int:announcement_id>")
class AnnouncementDetail(MethodView):
    @member_view(blp)
    @blp.response(200, AnnouncementSchema)
    @blp.alt_response(404, description="Not visible to this member (withdrawn, not yet published)")
    def get(self, announcement_id: int) -> Any:
        """公告 detail: title, body, publish time

        Reading does not mark it read; the page posts ``/read`` once shown.
        """
        return queries.get_for_member(db(), current_member_id(), announcement_id)


@blp.route("/announcements/<int:announcement_id>/read")
class AnnouncementMarkRead(MethodView):
    @member_view(blp)
    @blp.response(200, AnnouncementReadSchema)
    @blp.alt_response(404, description="Not visible to this member (withdrawn, not yet published)")
    def post(self, announcement_id: int) -> dict[str, Any]:
        """Mark read (idempotent: the first time is kept)"""
        read_at = services.mark_read(db(), current_member_id(), announcement_id)
        return {"message": MARKED_READ, "read_at": read_at}
