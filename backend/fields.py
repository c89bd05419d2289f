"""Marshmallow fields shared by every feature's schemas."""

from __future__ import annotations

import datetime as dt
from typing import Any

import marshmallow as ma

from backend.clock import to_local


class LocalDateTime(ma.fields.DateTime):
    """A stored UTC time shown in Asia/Shanghai, ISO 8601 with its offset (+08:00)."""

    def _serialize(self, value: Any, attr: str | None, obj: Any, **kwargs: Any) -> Any:
        if isinstance(value, dt.datetime):
            value = to_local(value)
        return super()._serialize(value, attr, obj, **kwargs)


def money(**kwargs: Any) -> ma.fields.Decimal:
    """A CNY amount serialised as a string with two decimals ("1234.50")."""
    return ma.fields.Decimal(as_string=True, places=2, **kwargs)
