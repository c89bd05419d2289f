"""Shapes of the inbox endpoints (消息 / 已阅 / 待办)."""

from __future__ import annotations

import marshmallow as ma

from backend.clock import utcnow
from backend.fields import LocalDateTime
from backend.inbox.queries import MESSAGE_STATUSES, TODO_STATUSES
from backend.pagination import PageArgsSchema


class MessageListArgsSchema(PageArgsSchema):
    status = ma.fields.String(
        load_default=None,
        validate=ma.validate.OneOf(MESSAGE_STATUSES, error="状态应为 unread 或 read"),
        metadata={"description": "unread = 消息, read = 已阅; omitted: both"},
    )


class TodoListArgsSchema(PageArgsSchema):
    status = ma.fields.String(
        load_default=None,
        validate=ma.validate.OneOf(TODO_STATUSES, error="状态应为 open 或 done"),
        metadata={"description": "open = 待办理, done = 已办结; omitted: both"},
    )


class LinkedApplicationSchema(ma.Schema):
    id = ma.fields.Integer()
    application_no = ma.fields.String()
    kind = ma.fields.String()
    kind_name = ma.fields.Function(lambda a: a.kind_name)
    status = ma.fields.String()
    status_name = ma.fields.Function(lambda a: a.status_name)


class MessageSchema(ma.Schema):
    id = ma.fields.Integer()
    kind = ma.fields.String(metadata={"description": "message | todo"})
    business_name = ma.fields.String(metadata={"description": "业务名称"})
    content = ma.fields.String(metadata={"description": "消息内容"})
    source_channel = ma.fields.String(metadata={"description": "发送渠道"})
    business_type = ma.fields.String()
    sent_at = LocalDateTime(metadata={"description": "发送时间 (Asia/Shanghai)"})
    read = ma.fields.Function(lambda m: m.read_at is not None, metadata={"type": "boolean"})
    read_at = LocalDateTime(allow_none=True)
    application = ma.fields.Nested(LinkedApplicationSchema, allow_none=True)


class TodoSchema(ma.Schema):
    id = ma.fields.Integer()
    business_name = ma.fields.String(metadata={"description": "业务名称：需要办理的事项"})
    content = ma.fields.String(metadata={"description": "办理说明"})
    source_channel = ma.fields.String()
    business_type = ma.fields.String()
    sent_at = LocalDateTime()
    due_at = LocalDateTime(allow_none=True, metadata={"description": "办理期限"})
    done = ma.fields.Function(lambda m: m.done_at is not None, metadata={"type": "boolean"})
    done_at = LocalDateTime(allow_none=True)
    overdue = ma.fields.Function(
        lambda m: m.done_at is None and m.due_at is not None and m.due_at < utcnow(),
        metadata={"type": "boolean", "description": "past its due time and not done"},
    )
    application = ma.fields.Nested(LinkedApplicationSchema, allow_none=True)


class MessagePageSchema(ma.Schema):
    items = ma.fields.List(ma.fields.Nested(MessageSchema))
    next_cursor = ma.fields.String(allow_none=True)


class TodoPageSchema(ma.Schema):
    items = ma.fields.List(ma.fields.Nested(TodoSchema))
    next_cursor = ma.fields.String(allow_none=True)


class MarkedReadSchema(ma.Schema):
    message = ma.fields.String(metadata={"description": "已标记为已阅"})
    item = ma.fields.Nested(MessageSchema)


class AllReadSchema(ma.Schema):
    message = ma.fields.String()
    count = ma.fields.Integer(metadata={"description": "how many messages moved to 已阅"})


class UnreadCountSchema(ma.Schema):
    unread_count = ma.fields.Integer(metadata={"description": "unread messages (消息 badge)"})
    open_todo_count = ma.fields.Integer(metadata={"description": "to-dos not yet done (待办)"})
