"""Marshmallow shapes of the transfer endpoints (异地转移接续)."""

from __future__ import annotations

import marshmallow as ma
from marshmallow import fields

from backend.applications.schemas import ApplicationSchema
from backend.transfers.rules import DIRECTIONS


class TransferRefusalSchema(ma.Schema):
    error_code = fields.String()
    message = fields.String()


class DirectionEligibilitySchema(ma.Schema):
    direction = fields.String(metadata={"description": "in | out"})
    direction_name = fields.String()
    eligible = fields.Boolean()
    refusals = fields.List(fields.Nested(TransferRefusalSchema))


class TransferEligibilitySchema(ma.Schema):
    centre_name = fields.String(metadata={"description": "this centre"})
    directions = fields.List(fields.Nested(DirectionEligibilitySchema))


class TransferInSchema(ma.Schema):
    direction = fields.String(
        required=True,
        validate=ma.validate.OneOf(
            tuple(DIRECTIONS), error="转移方向应为 in（转入）或 out（转出）"
        ),
        metadata={"description": "in 转入本中心 | out 转出本中心"},
    )
    other_centre = fields.String(
        required=True,
        validate=ma.validate.Length(min=4, max=60, error="请填写对方公积金中心名称"),
        metadata={"description": "转出地 (in) / 转入地 (out) centre"},
    )
    other_account_no = fields.String(
        required=True,
        validate=ma.validate.Regexp(r"^[0-9A-Za-z]{6,32}$", error="账号应为6至32位数字或字母"),
        metadata={"description": "the member's account number at the other centre"},
    )
    sms_code = fields.String(required=True, validate=ma.validate.Length(min=4, max=8))


class TransferSchema(ApplicationSchema):
    direction_name = fields.Function(lambda a: DIRECTIONS.get(a.reason, a.reason))


class TransferListSchema(ma.Schema):
    items = fields.List(fields.Nested(TransferSchema))
