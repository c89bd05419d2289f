"""WeChat subscription-message keyword values: formatted and checked per keyword type.

A category template's keyword names carry their type (``thing1``, ``character_string2``,
``time3``…), and WeChat refuses a value that breaks its type's rule with 47003 ("argument invalid!
data.<key>.value invalid"). The rules (subscribeMessage.send, 订阅消息参数值内容限制说明):

==================  ===================================================================
thing               20 characters or fewer; Chinese, digits, letters, symbols
number              32 or fewer digits, decimals allowed
letter              32 or fewer letters only
symbol              5 or fewer symbols only
character_string    32 or fewer digits, letters or symbols (no Chinese)
time                24-hour time, optionally after a date (15:01, 2019年10月1日 15:01)
date                a date, optionally with a 24-hour time (2019年10月1日 [15:01])
amount              one currency symbol + 10 or fewer digits, decimals allowed, may end in 元
phone_number        17 or fewer digits and symbols
car_number          8 or fewer; first and last may be Chinese, the rest letters or digits
name                10 or fewer Chinese, or 20 or fewer letters/symbols (mixed counts as Chinese)
phrase              5 or fewer Chinese characters only
==================  ===================================================================

Free text may be shortened only where the type is free text (``thing``: cut with "…"); a value of
any other type that breaks its rule cannot be repaired without changing what it says, so it raises
:class:`KeywordValueError` and is never sent.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Mapping
from decimal import Decimal

from adapters.base import KeywordValueError, plain_text, shorten

KINDS = (
    "thing",
    "number",
    "letter",
    "symbol",
    "character_string",
    "time",
    "date",
    "amount",
    "phone_number",
    "car_number",
    "name",
    "phrase",
)
THING_LIMIT = 20

_KEY_RE = re.compile(r"^([a-z_]+?)(\d+)$")
_CJK = r"\u3400-\u4dbf\u4e00-\u9fff"
_HAS_CJK_RE = re.compile(f"[{_CJK}]")
_DATE = r"\d{4}(?:年\d{1,2}月\d{1,2}日|-\d{1,2}-\d{1,2}|/\d{1,2}/\d{1,2})"
_CLOCK = r"\d{1,2}:\d{2}(?::\d{2})?"
_DATE_RE = re.compile(rf"^{_DATE}(?: {_CLOCK})?(?:\s*~\s*(?:{_DATE})?(?: ?{_CLOCK})?)?$")
_TIME_RE = re.compile(rf"^(?:{_DATE} )?{_CLOCK}(?:\s*~\s*(?:{_DATE} )?{_CLOCK})?$")
_NUMBER_RE = re.compile(r"^\d+(?:\.\d+)?$")
_AMOUNT_RE = re.compile(r"^[¥￥$€£]?\d{1,10}(?:\.\d+)?元?$")
_PHONE_RE = re.compile(r"^[\d+\-() ]{1,17}$")
_CAR_RE = re.compile(rf"^[{_CJK}A-Za-z0-9][A-Za-z0-9]{{0,6}}[{_CJK}A-Za-z0-9]?$")


def keyword_kind(key: str) -> str | None:
    """``thing1`` → ``thing``; ``character_string12`` → ``character_string``; else None."""
    match = _KEY_RE.match(key)
    if match is None or match.group(1) not in KINDS:
        return None
    return match.group(1)


def _is_symbol(ch: str) -> bool:
    return not (ch.isalnum() or ch.isspace() or _HAS_CJK_RE.match(ch))


_text = plain_text


def _thing(value: object) -> str:
    return shorten(plain_text(value), THING_LIMIT)


def _chinese_date(value: dt.date) -> str:
    return f"{value.year}年{value.month}月{value.day}日"


def _date(value: object) -> str:
    if isinstance(value, dt.datetime):
        return f"{_chinese_date(value)} {value:%H:%M}"
    if isinstance(value, dt.date):
        return _chinese_date(value)
    return _text(value)


def _time(value: object) -> str:
    if isinstance(value, dt.time):
        return f"{value:%H:%M}"
    return _date(value)


def _amount(value: object) -> str:
    if isinstance(value, Decimal | int):
        return f"{Decimal(value):.2f}元"
    return _text(value).replace(",", "")


def _number(value: object) -> str:
    if isinstance(value, Decimal | int):
        return str(value)
    return _text(value).replace(",", "")


def _name_ok(text: str) -> bool:
    if _HAS_CJK_RE.search(text):
        return len(text) <= 10 and not any(ch.isdigit() for ch in text)
    return len(text) <= 20 and all(ch.isalpha() or _is_symbol(ch) or ch == " " for ch in text)


_FORMAT: dict[str, Callable[[object], str]] = {
    "thing": _thing,
    "number": _number,
    "amount": _amount,
    "date": _date,
    "time": _time,
}

_VALID: dict[str, Callable[[str], bool]] = {
    "thing": lambda t: len(t) <= THING_LIMIT,
    "number": lambda t: len(t) <= 32 and bool(_NUMBER_RE.match(t)),
    "letter": lambda t: len(t) <= 32 and t.isascii() and t.isalpha(),
    "symbol": lambda t: len(t) <= 5 and all(_is_symbol(ch) for ch in t),
    "character_string": lambda t: len(t) <= 32 and t.isascii() and t.isprintable() and " " not in t,
    "time": lambda t: bool(_TIME_RE.match(t)),
    "date": lambda t: bool(_DATE_RE.match(t)),
    "amount": lambda t: bool(_AMOUNT_RE.match(t)),
    "phone_number": lambda t: bool(_PHONE_RE.match(t)) and any(ch.isdigit() for ch in t),
    "car_number": lambda t: len(t) <= 8 and bool(_CAR_RE.match(t)),
    "name": _name_ok,
    "phrase": lambda t: len(t) <= 5 and all(_HAS_CJK_RE.match(ch) for ch in t),
}


def format_keyword(key: str, value: object) -> str:
    """The value as WeChat accepts it for this keyword, or :class:`KeywordValueError`."""
    kind = keyword_kind(key)
    if kind is None:
        raise KeywordValueError(key, "unknown keyword type")
    text = _FORMAT.get(kind, _text)(value)
    if not text:
        raise KeywordValueError(key, "empty value")
    if not _VALID[kind](text):
        raise KeywordValueError(key, f"value breaks the {kind} rule")
    return text


def format_keywords(data: Mapping[str, object]) -> dict[str, str]:
    return {key: format_keyword(key, value) for key, value in data.items()}
