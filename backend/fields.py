"""Marshmallow fields shared by every feature's schemas: every money input is an :class:`Amount`."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

import marshmallow as ma

from backend.clock import SHANGHAI, to_local
from backend.db import FEN

# Every date or time a client sends lies within these (inclusive): wide enough for any ledger,
# loan or due date of the centre, far from the ends of the calendar (year 1 or 9999 overflows
# when moved between time zones) and from Asia/Shanghai's pre-1901 local mean time.
DATE_MIN = dt.date(1950, 1, 1)
DATE_MAX = dt.date(2199, 12, 31)
_DATE_RANGE = f"日期应在 {DATE_MIN} 至 {DATE_MAX} 之间"

# The most one amount in a request may be (under 1亿元): far above any deposit, withdrawal or loan
# of the centre, and far below what a NUMERIC(14, 2) balance holds, so entries cannot overflow it
# by themselves (a running balance is checked where it moves: fund.balance_out_of_range).
AMOUNT_DIGITS = 8
AMOUNT_MAX = Decimal(10) ** AMOUNT_DIGITS - FEN
# Plain decimal text only: no exponent, no NaN/Infinity, no sign "+", no spaces, no "_", ASCII
# digits only (Decimal() would read all of those).
_PLAIN = re.compile(r"-?[0-9]+(\.[0-9]{1,2})?")
_SIGNED = re.compile(rf"-?[0-9]{{1,{AMOUNT_DIGITS}}}(\.[0-9]{{1,2}})?")
_YMD = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_UNSIGNED = re.compile(rf"[0-9]{{1,{AMOUNT_DIGITS}}}(\.[0-9]{{1,2}})?")


class LocalDateTime(ma.fields.DateTime):
    """A stored UTC time shown in Asia/Shanghai, ISO 8601 with its offset (+08:00)."""

    def _serialize(self, value: Any, attr: str | None, obj: Any, **kwargs: Any) -> Any:
        if isinstance(value, dt.datetime):
            value = to_local(value)
        return super()._serialize(value, attr, obj, **kwargs)


class Label(ma.fields.String):
    """The Chinese name of one of the dumped object's codes, from its table (an unknown code as
    it is): ``status_label = Label(LOAN_STATUS, of="status")``."""

    def __init__(self, names: Mapping[str, str], *, of: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.names = names
        self.of = of

    def get_value(
        self, obj: Any, attr: str, accessor: Any = None, default: Any = ma.missing
    ) -> Any:
        code = super().get_value(obj, self.of, accessor, default)
        if code is ma.missing or code is None:
            return code
        return self.names.get(code, code)


class Notice(ma.fields.String):
    """A text the answer carries only when there is one (the object's value ``None``: left out)."""

    def get_value(
        self, obj: Any, attr: str, accessor: Any = None, default: Any = ma.missing
    ) -> Any:
        value = super().get_value(obj, attr, accessor, default)
        return ma.missing if value is None else value


class InputDate(ma.fields.Date):
    """A date a client sends (YYYY-MM-DD), within [:data:`DATE_MIN`, :data:`DATE_MAX`]."""

    default_error_messages = {"range": _DATE_RANGE}

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> dt.date:
        parsed: dt.date | None = None
        if self.format == "%Y-%m-%d" and type(value) is str and _YMD.fullmatch(value):
            # What strptime reads of 10 such characters, without its cost (a ledger query sends
            # two dates); an impossible day (02-30) goes on to strptime and its error.
            try:
                parsed = dt.date.fromisoformat(value)
            except ValueError:
                parsed = None
        if parsed is None:
            parsed = super()._deserialize(value, attr, data, **kwargs)
        if not DATE_MIN <= parsed <= DATE_MAX:
            raise self.make_error("range")
        return parsed


class InputDateTime(ma.fields.DateTime):
    """A time a client sends, ISO 8601, returned in UTC; without an offset it is the centre's
    local time (Asia/Shanghai). Its date must lie within [:data:`DATE_MIN`, :data:`DATE_MAX`]."""

    default_error_messages = {"range": _DATE_RANGE}

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> dt.datetime:
        parsed: dt.datetime = super()._deserialize(value, attr, data, **kwargs)
        if not DATE_MIN <= parsed.date() <= DATE_MAX:  # before any zone change can overflow
            raise self.make_error("range")
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=SHANGHAI)
        return parsed.astimezone(dt.UTC)


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
