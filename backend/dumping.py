"""A schema's ``dump``, compiled once: the same fields, formatted by their own code, without
marshmallow's per-value dispatch.

marshmallow serialises each value through ``Schema._serialize`` → ``Field.serialize`` →
``Field.get_value`` → ``utils.get_value`` → ``Field._serialize``: on a page of 20 ledger rows that
dispatch costs more than the formatting itself. :func:`compiled_dump` walks the schema once and
keeps, per field, the key, the attribute and the field's own ``_serialize``; nested schemas are
compiled the same way. The schema stays the documented contract and the formatter of every value
(money strings, dates, masks): only the walk is precompiled. A schema with dump hooks, its own
``get_attribute``, or a field whose serialisation is not plain (``Method``, ``Pluck``…) is dumped
by marshmallow itself, as are those fields.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import marshmallow as ma
from marshmallow import fields
from marshmallow.utils import missing
from sqlalchemy import Row

Dump = Callable[..., Any]

# Fields whose ``serialize`` is exactly ``get_value`` then ``_serialize`` (marshmallow 3 and 4).
_PLAIN = (
    fields.String,
    fields.Integer,
    fields.Float,
    fields.Decimal,
    fields.Boolean,
    fields.Date,
    fields.DateTime,
    fields.Time,
    fields.UUID,
    fields.Email,
    fields.URL,
    fields.Raw,
    fields.Enum,
)


def _value(obj: Any, key: str) -> Any:
    """``marshmallow.utils.get_value`` for a key without dots, dicts first (the common case)."""
    if type(obj) is dict:
        if key in obj:
            return obj[key]
        return getattr(obj, key, missing)
    if isinstance(obj, Row) or not hasattr(obj, "__getitem__"):
        # A row's ``[name]`` raises (positions only) before marshmallow falls back to the attribute.
        return getattr(obj, key, missing)
    try:
        return obj[key]
    except (KeyError, IndexError, TypeError, AttributeError):
        return getattr(obj, key, missing)


def _compile_fields(schema: ma.Schema) -> Callable[[Any], dict[str, Any]] | None:
    """The dump of one object, or ``None`` when marshmallow must do it (hooks, own accessor)."""
    if schema._hooks[ma.decorators.PRE_DUMP] or schema._hooks[ma.decorators.POST_DUMP]:
        return None
    if type(schema).get_attribute is not ma.Schema.get_attribute:
        return None
    steps: list[tuple[str, str, Any, Any, bool]] = []
    for name, field in schema.dump_fields.items():
        key = field.data_key if field.data_key is not None else name
        attribute = field.attribute if field.attribute is not None else name
        # A field reading its value its own way (``fields.Label``, ``fields.Notice``) is not plain.
        plain = (
            "." not in attribute
            and type(field).serialize is fields.Field.serialize
            and type(field).get_value is fields.Field.get_value
        )
        if plain and type(field) is fields.Nested and not field.many and not field.schema.many:
            nested = compiled_dump(field.schema)
            steps.append((key, attribute, _nested(nested), field, True))
        elif (
            plain
            and isinstance(field, fields.List)
            and type(field.inner) is fields.Nested
            and not field.inner.many
            and not field.inner.schema.many
        ):
            nested = compiled_dump(field.inner.schema)
            steps.append((key, attribute, _listed(nested), field, True))
        elif plain and isinstance(field, _PLAIN):
            steps.append((key, attribute, field._serialize, field, True))
        else:
            steps.append((key, name, field.serialize, field, False))
    accessor = schema.get_attribute
    dict_class = schema.dict_class

    def dump_one(obj: Any) -> dict[str, Any]:
        out = dict_class()
        # How to read this object's values, decided once for all its fields.
        by_attribute = type(obj) is not dict and (
            isinstance(obj, Row) or not hasattr(obj, "__getitem__")
        )
        for key, attribute, serialize, field, plain in steps:
            if plain:
                value = getattr(obj, attribute, missing) if by_attribute else _value(obj, attribute)
                if value is missing:
                    default = field.dump_default
                    value = default() if callable(default) else default
                    if value is missing:
                        continue
                out[key] = serialize(value, attribute, obj)
            else:
                value = serialize(attribute, obj, accessor=accessor)
                if value is missing:
                    continue
                out[key] = value
        return out

    return dump_one


def _nested(dump: Dump) -> Callable[..., Any]:
    def serialize(value: Any, _attr: str, _obj: Any) -> Any:
        return None if value is None else dump(value)

    return serialize


def _listed(dump: Dump) -> Callable[..., Any]:
    def serialize(value: Any, _attr: str, _obj: Any) -> Any:
        return None if value is None else [dump(item) for item in value]

    return serialize


def compiled_dump(schema: ma.Schema) -> Dump:
    """``schema.dump`` (one object, or a list with ``many``) with the walk precompiled."""
    one = _compile_fields(schema)
    if one is None:
        return schema.dump
    marshmallow_dump = type(schema).dump

    def dump(obj: Any, *, many: bool | None = None) -> Any:
        many = schema.many if many is None else bool(many)
        if many:
            return None if obj is None else [one(item) for item in obj]
        return one(obj)

    dump.__wrapped__ = marshmallow_dump  # type: ignore[attr-defined]
    return dump
