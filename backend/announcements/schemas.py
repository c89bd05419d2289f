"""Member-facing shapes of announcements (公告)."""

from __future__ import annotations

import marshmallow as ma

from backend.announcements.rules import AUDIENCES, summary
from backend.fields import LocalDateTime


class AnnouncementItemSchema(ma.Schema):
    id = ma.fields.Integer()
    title = ma.fields.String()
    summary = ma.fields.Function(lambda a: summary(a.body), metadata={"description": "摘要"})
    audience = ma.fields.String(metadata={"description": " | ".join(AUDIENCES)})
    audience_name = ma.fields.Function(lambda a: AUDIENCES.get(a.audience, ""))
    published_at = LocalDateTime()
    read = ma.fields.Boolean(metadata={"description": "whether the member has opened it"})
    read_at = LocalDateTime(allow_none=True)


class AnnouncementSchema(AnnouncementItemSchema):
    body = ma.fields.String(metadata={"description": "正文"})


class AnnouncementPageSchema(ma.Schema):
    items = ma.fields.List(ma.fields.Nested(AnnouncementItemSchema))
    next_cursor = ma.fields.String(allow_none=True)


class AnnouncementUnreadSchema(ma.Schema):
    unread_count = ma.fields.Integer(metadata={"description": "visible announcements not opened"})


class AnnouncementReadSchema(ma.Schema):
    message = ma.fields.String()
    read_at = LocalDateTime()
