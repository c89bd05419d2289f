"""Shapes of the member's own information (manual 3.1) and preferences."""

from __future__ import annotations

import datetime as dt
from typing import Any

import marshmallow as ma
from marshmallow import fields, validate

from backend.clock import to_local
from backend.members.models import PUSH_CHANNELS


class LocalDateTime(fields.DateTime):
    """Stored UTC, shown in Asia/Shanghai with its offset."""

    def _serialize(self, value: dt.datetime | None, attr: Any, obj: Any, **kwargs: Any) -> Any:
        return None if value is None else to_local(value).isoformat(timespec="seconds")


class AccountSummarySchema(ma.Schema):
    account_no = fields.String(required=True)
    status = fields.String(required=True, metadata={"description": "normal|sealed|frozen|closed"})
    status_name = fields.String(required=True, metadata={"example": "正常"})
    balance = fields.Decimal(
        as_string=True, places=2, required=True, metadata={"example": "1234.50"}
    )
    opened_on = fields.Date(required=True)


class EmployerSchema(ma.Schema):
    name = fields.String(required=True)
    unit_account_no = fields.String(required=True)


class ProfileSchema(ma.Schema):
    name = fields.String(required=True)
    masked_id_number = fields.String(required=True, metadata={"example": "1101**********001X"})
    masked_phone = fields.String(allow_none=True, metadata={"example": "138****5678"})
    registered_at = LocalDateTime(allow_none=True)
    account = fields.Nested(AccountSummarySchema, allow_none=True)
    employer = fields.Nested(EmployerSchema, allow_none=True)
    employer_name = fields.String(allow_none=True, metadata={"description": "开户单位"})


class PreferencesSchema(ma.Schema):
    sound_enabled = fields.Boolean(required=True)
    push_channels = fields.List(fields.String(), required=True)


class PreferencesPatchSchema(ma.Schema):
    sound_enabled = fields.Boolean()
    push_channels = fields.List(
        fields.String(
            validate=validate.OneOf(PUSH_CHANNELS, error="推送渠道只能是微信、支付宝或短信")
        ),
        metadata={"description": "subset of wechat, alipay, sms"},
    )

    @ma.validates_schema
    def _not_empty(self, data: dict[str, Any], **_kwargs: Any) -> None:
        if not data:
            raise ma.ValidationError("请至少修改一项设置", field_name="_schema")
