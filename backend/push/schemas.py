"""Request and response shapes of the subscription-consent endpoints."""

from __future__ import annotations

import marshmallow as ma
from marshmallow import validate

from backend.members.models import APP_CHANNELS


class SubscriptionArgs(ma.Schema):
    channel = ma.fields.String(required=True, validate=validate.OneOf(APP_CHANNELS))
    results = ma.fields.Dict(
        keys=ma.fields.String(validate=validate.Length(min=1, max=64)),
        values=ma.fields.String(validate=validate.Length(min=1, max=20)),
        required=True,
        validate=validate.Length(min=1, max=20),
        metadata={
            "description": "What requestSubscribeMessage answered: {template_id: accept|reject|ban|filter}"
        },
    )


class SubscriptionQuery(ma.Schema):
    channel = ma.fields.String(validate=validate.OneOf(APP_CHANNELS))


class SubscriptionSchema(ma.Schema):
    channel = ma.fields.String(required=True)
    template_id = ma.fields.String(required=True)
    business_types = ma.fields.List(ma.fields.String(), required=True)
    long_term = ma.fields.Boolean(required=True)
    remaining = ma.fields.Integer(
        required=True, metadata={"description": "Sends left (one-time templates)"}
    )


class SubscriptionListSchema(ma.Schema):
    items = ma.fields.List(ma.fields.Nested(SubscriptionSchema), required=True)
    next_cursor = ma.fields.String(allow_none=True, required=True)
