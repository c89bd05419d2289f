"""Central input guards, run before every view (and before authentication): what no endpoint can
take is refused here once, not field by field.

- Body size: ``MAX_CONTENT_LENGTH`` (413 ``request.too_large``).
- JSON nesting deeper than :data:`MAX_JSON_DEPTH` (422 ``request.too_deep``): the JSON decoder
  and the schemas recurse, so a body of 100,000 ``[`` used to end in a RecursionError.
- A NUL character in any string input: a JSON string or key, a query argument, the path (422
  ``request.nul_character``). PostgreSQL text cannot hold it (DataError), SQLite would keep it.
"""

from __future__ import annotations

import json
import re
from typing import Any

from flask import Flask, request

from backend.errors import ValidationFailed

MAX_BODY_BYTES = 1024 * 1024
# Our deepest payload is an object holding a list of objects: 32 leaves ample room.
MAX_JSON_DEPTH = 32

_JSON_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"', re.DOTALL)
_BRACKET = re.compile(rb"[\[\]{}]")
NUL = "\x00"
_NUL_ESCAPE = b"\\u0000"


def json_depth_exceeds(raw: bytes, limit: int = MAX_JSON_DEPTH) -> bool:
    """Whether the JSON text nests arrays/objects deeper than ``limit``, counted on the raw bytes
    (brackets inside strings are text, not nesting) without parsing, so it cannot recurse."""
    depth = 0
    for bracket in _BRACKET.finditer(_JSON_STRING.sub(b'""', raw)):
        if bracket.group() in (b"[", b"{"):
            depth += 1
            if depth > limit:
                return True
        else:
            depth -= 1
    return False


def has_nul(value: Any) -> bool:
    """Whether a parsed JSON value holds a NUL in any string or key."""
    if isinstance(value, str):
        return NUL in value
    if isinstance(value, dict):
        return any(has_nul(k) or has_nul(v) for k, v in value.items())
    if isinstance(value, list):
        return any(has_nul(v) for v in value)
    return False


def _nul_refused() -> ValidationFailed:
    return ValidationFailed("提交的内容含有不允许的字符", error_code="request.nul_character")


def check_request() -> None:
    """Refuse the request (raises) when its input is beyond what any endpoint takes."""
    if NUL in request.path:  # path ids (%00 arrives decoded)
        raise _nul_refused()
    if any(NUL in k or NUL in v for k, v in request.args.items(multi=True)):
        raise _nul_refused()
    if not request.is_json:
        return
    raw = request.get_data(cache=True)  # 413 beyond MAX_CONTENT_LENGTH
    if json_depth_exceeds(raw):
        raise ValidationFailed(
            "提交的内容层级过深", error_code="request.too_deep", max_depth=MAX_JSON_DEPTH
        )
    if _NUL_ESCAPE not in raw and b"\x00" not in raw:
        # A parsed string holds a NUL only from a \u0000 escape (a raw NUL is not JSON): no
        # need to walk every string of the body (a ledger batch has 7,000).
        return
    try:
        body = json.loads(raw)
    except ValueError:
        return  # not JSON: the view's parser answers that in its own words
    if has_nul(body):
        raise _nul_refused()


def install_input_guards(app: Flask) -> None:
    app.config["MAX_CONTENT_LENGTH"] = MAX_BODY_BYTES
    app.before_request(check_request)
