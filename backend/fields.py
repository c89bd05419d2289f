"""Marshmallow fields shared by every feature's schemas: every money input is an :class:`Amount`."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal
from typing import Any

import marshmallow as ma

from backend.clock import to_local
from backend.db import FEN

# The most one amount in a request may be (under 1亿元): far above any deposit, withdrawal or loan
# of the centre, and far below what a NUMERIC(14, 2) balance holds, so entries cannot overflow it
# by themselves (a running balance is checked where it moves: fund.balance_out_of_range).
AMOUNT_DIGITS = 8
AMOUNT_MAX = Decimal(10) ** AMOUNT_DIGITS - FEN
# Plain decimal text only: no exponent, no NaN/Infinity, no sign "+", no spaces, no "_", ASCII
# digits only (Decimal() would read all of those).
_PLAIN = re.compile(r"-?[0-9]+(\.[0-9]{1,2})?")
_SIGNED = re.compile(rf"-?[0-9]{{1,{AMOUNT_DIGITS}}}(\.[0-9]{{1,2}})?")
_UNSIGNED = re.compile(rf"[0-9]{{1,{AMOUNT_DIGITS}}}(\.[0-9]{{1,2}})?")


class LocalDateTime(ma.fields.DateTime):
    """A stored UTC time shown in Asia/Shanghai, ISO 8601 with its offset (+08:00)."""

    def _serialize(self, value: Any, attr: str | None, obj: Any, **kwargs: Any) -> Any:
        if isinstance(value, dt.datetime):
            value = to_local(value)
        return super()._serialize(value, attr, obj, **kwargs)


def money(**kwargs: Any) -> ma.fields.Decimal:
    """A CNY amount serialised as a string with two decimals ("1234.50")."""
    return ma.fields.Decimal(as_string=True, places=2, **kwargs)


class Amount(ma.fields.Decimal):
    """A CNY amount sent by a client: a JSON string of plain decimal digits with at most two
    places ("1234.50"), at most :data:`AMOUNT_MAX` in absolute value; negative only when
    ``signed`` (ledger entries). JSON numbers are refused so a float never touches money."""

    default_error_messages = {
        "invalid": '金额应为字符串形式的数字，最多两位小数，如 "1234.50"',
        "range": f"金额超出允许范围（不超过 {AMOUNT_MAX} 元）",
        "negative": "金额不能为负数",
    }

    def __init__(self, *, signed: bool = False, **kwargs: Any) -> None:
        super().__init__(as_string=True, places=2, **kwargs)
        self.signed = signed
        self.bounded = _SIGNED if signed else _UNSIGNED
        self.pattern = f"^{self.bounded.pattern}$"  # documented in the OpenAPI (backend.api)

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Decimal:
        if not isinstance(value, str) or not _PLAIN.fullmatch(value):
            raise self.make_error("invalid")
        if value.startswith("-") and not self.signed:
            raise self.make_error("negative")
        if not self.bounded.fullmatch(value):
            raise self.make_error("range")
        return Decimal(value).quantize(FEN)
