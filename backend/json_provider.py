"""Flask's JSON provider on orjson: the same output as Flask's default provider (compact, UTF-8
text, no key sorting here, dates as HTTP dates, Decimal and UUID as strings, dataclasses as dicts),
written by a C encoder. Every member GET answers JSON, and on a page of 20 rows the standard
library's encoder was a visible share of the request.

Calls that pass ``json.dumps`` options (``indent``…) and debug mode's indented answers keep the
standard library."""

from __future__ import annotations

from typing import Any

import orjson
from flask.json.provider import DefaultJSONProvider
from werkzeug.sansio.response import Response

# Dates and dataclasses go through Flask's own ``default`` (HTTP dates, ``asdict``), not orjson's
# (ISO 8601): a body must not change with the encoder.
OPTIONS = (
    orjson.OPT_NON_STR_KEYS | orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS
)


class OrjsonProvider(DefaultJSONProvider):
    ensure_ascii = False
    sort_keys = False

    def dumps(self, obj: Any, **kwargs: Any) -> str:
        if kwargs:
            return super().dumps(obj, **kwargs)
        return orjson.dumps(obj, default=self.default, option=OPTIONS).decode()

    def loads(self, s: str | bytes, **kwargs: Any) -> Any:
        if kwargs:
            return super().loads(s, **kwargs)
        return orjson.loads(s)

    def response(self, *args: Any, **kwargs: Any) -> Response:
        if (
            self.sort_keys
            or self.ensure_ascii
            or self.compact is False
            or (self.compact is None and self._app.debug)
        ):
            return super().response(*args, **kwargs)
        obj = self._prepare_response_obj(args, kwargs)
        body = orjson.dumps(obj, default=self.default, option=OPTIONS | orjson.OPT_APPEND_NEWLINE)
        return self._app.response_class(body, mimetype=self.mimetype)  # type: ignore[call-arg,arg-type]
