"""Request and response shapes of channel login, binding and the member's bindings."""

from __future__ import annotations

import marshmallow as ma
from marshmallow import validate


class AlipaySessionArgs(ma.Schema):
    auth_code = ma.fields.String(required=True, validate=validate.Length(min=1, max=128))


class AlipayCertificationArgs(ma.Schema):
    certification_token = ma.fields.String(
        required=True,
        validate=validate.Length(min=1, max=128),
        metadata={"description": "certification_token of the alipay.certification_required error"},
    )
    name = ma.fields.String(required=True, validate=validate.Length(min=1, max=50))
    id_number = ma.fields.String(required=True, validate=validate.Length(equal=18))


class CertificationSchema(ma.Schema):
    certify_id = ma.fields.String(required=True)
    certify_url = ma.fields.String(
        required=True, metadata={"description": "Signed Alipay page the mini-program opens"}
    )


class WeChatSessionArgs(ma.Schema):
    code = ma.fields.String(required=True, validate=validate.Length(min=1, max=128))


class WeChatBindingArgs(ma.Schema):
    binding_token = ma.fields.String(required=True, validate=validate.Length(min=1, max=128))
    phone_code = ma.fields.String(
        validate=validate.Length(min=1, max=128),
        metadata={"description": "getPhoneNumber code: binds when it is the reserved phone"},
    )
    id_number = ma.fields.String(validate=validate.Length(equal=18))
    password = ma.fields.String(validate=validate.Length(min=1, max=64), load_only=True)


class BindingSchema(ma.Schema):
    channel = ma.fields.String(required=True)
    channel_name = ma.fields.String(required=True)
    account = ma.fields.String(required=True, metadata={"description": "Masked platform id"})
    bound_at = ma.fields.DateTime(required=True)


class BindingListSchema(ma.Schema):
    items = ma.fields.List(ma.fields.Nested(BindingSchema), required=True)
    next_cursor = ma.fields.String(allow_none=True, required=True)
