"""HTTP layer of the inbox feature: 消息, 已阅 and 待办 (manual chapter 2)."""

from __future__ import annotations

from typing import Any

from flask.views import MethodView

from backend.api import Blueprint, db
from backend.auth import current_member_id, member_view
from backend.inbox import queries, services
from backend.inbox.schemas import (
    AllReadSchema,
    MarkedReadSchema,
    MessageListArgsSchema,
    MessagePageSchema,
    MessageSchema,
    TodoListArgsSchema,
    TodoPageSchema,
    TodoSchema,
    UnreadCountSchema,
)
from backend.pagination import Page

blp = Blueprint(
    "inbox", __name__, url_prefix="/api/v1", description="个人任务管理：消息、待办、已阅"
)

MARKED_READ = "已标记为已阅"
DELETED = "消息已删除"


@blp.route("/messages")
class Messages(MethodView):
    @member_view(blp)
    @blp.arguments(MessageListArgsSchema, location="query", as_kwargs=True)
    @blp.response(200, MessagePageSchema)
    @blp.alt_response(422, description="Bad status, limit or cursor")
    def get(self, status: str | None, cursor: str | None, limit: int) -> Page[Any]:
        """消息 / 已阅 list, newest first

        ``status=unread`` is 消息, ``status=read`` is 已阅; without it, every message not deleted.
        "更多" is the next page (``cursor=next_cursor``), back to the first message ever sent.
        """
        items, next_cursor = queries.list_messages(
            db(), current_member_id(), status=status, cursor=cursor, limit=limit
        )
        return Page(items, next_cursor)


@blp.route("/messages/unread-count")
class UnreadCount(MethodView):
    @member_view(blp)
    @blp.response(200, UnreadCountSchema)
    def get(self) -> dict[str, int]:
        """Unread badge: unread messages and open to-dos"""
        member_id = current_member_id()
        return {
            "unread_count": queries.unread_count(db(), member_id),
            "open_todo_count": queries.open_todo_count(db(), member_id),
        }


@blp.route("/messages/read-all")
class ReadAll(MethodView):
    @member_view(blp)
    @blp.response(200, AllReadSchema)
    def post(self) -> dict[str, Any]:
        """全部标为已阅"""
        count = services.mark_all_read(db(), current_member_id())
        return {"message": MARKED_READ, "count": count}


@blp.route("/messages/<int:message_id>")
class MessageDetail(MethodView):
    @member_view(blp)
    @blp.response(200, MessageSchema)
    @blp.alt_response(404, description="No such message of this member (or deleted)")
    def get(self, message_id: int) -> Any:
        """查看: business name, content, channel and time"""
        return queries.get_item(db(), current_member_id(), message_id, "message")

    @member_view(blp)
    @blp.response(204, description=f"删除成功：前端提示“{DELETED}”")
    @blp.alt_response(404, description="No such message of this member (or already deleted)")
    def delete(self, message_id: int) -> None:
        """删除 (soft): the message leaves every list

        The answer is 204 without a body: the front end shows “消息已删除”.
        """
        services.delete_message(db(), current_member_id(), message_id)


@blp.route("/messages/<int:message_id>/read")
class MessageRead(MethodView):
    @member_view(blp)
    @blp.response(200, MarkedReadSchema)
    @blp.alt_response(404, description="No such message of this member (or deleted)")
    def post(self, message_id: int) -> dict[str, Any]:
        """标为已阅: the message moves to 已阅"""
        message = services.mark_read(db(), current_member_id(), message_id)
        return {"message": MARKED_READ, "item": message}


@blp.route("/todos")
class Todos(MethodView):
    @member_view(blp)
    @blp.arguments(TodoListArgsSchema, location="query", as_kwargs=True)
    @blp.response(200, TodoPageSchema)
    @blp.alt_response(422, description="Bad status, limit or cursor")
    def get(self, status: str | None, cursor: str | None, limit: int) -> Page[Any]:
        """待办 list, newest first (``status=open`` for those still to do)"""
        items, next_cursor = queries.list_todos(
            db(), current_member_id(), status=status, cursor=cursor, limit=limit
        )
        return Page(items, next_cursor)


@blp.route("/todos/<int:todo_id>")
class TodoDetail(MethodView):
    @member_view(blp)
    @blp.response(200, TodoSchema)
    @blp.alt_response(404, description="No such to-do of this member")
    def get(self, todo_id: int) -> Any:
        """查看待办: what to do, by when, which application it concerns"""
        return queries.get_item(db(), current_member_id(), todo_id, "todo")
