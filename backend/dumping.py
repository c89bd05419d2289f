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

import datetime as dt
import operator
from collections.abc import Callable, Sequence
from decimal import Decimal, InvalidOperation
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


def _by_attribute(obj: Any) -> bool:
    """Whether marshmallow reads ``obj``'s values as attributes (a row, an ORM object, a dataclass)."""
    return type(obj) is not dict and (isinstance(obj, Row) or not hasattr(obj, "__getitem__"))


def _unchanged_type(field: fields.Field) -> type | None:
    """The type whose values the field's own ``_serialize`` returns as they are (a ``str`` of a
    String, an ``int`` of an Integer, a ``bool`` of a Boolean), when it is marshmallow's own."""
    serialize = type(field)._serialize
    if serialize is fields.String._serialize:
        return str
    if serialize is fields.Boolean._serialize:
        return bool
    if (
        isinstance(field, fields.Integer)
        and serialize is fields.Number._serialize
        and type(field)._format_num is fields.Number._format_num
        and not field.as_string
    ):
        return int
    return None


def _formatter(field: fields.Field) -> Callable[[Any, str, Any], Any]:
    """The field's ``_serialize``, or the same formatting with its dispatch skipped for the two
    values member reads write most: money (``fields.Decimal(as_string=True, places=…)``: a finite
    ``Decimal`` quantized and written with ``format(…, "f")``, as ``Decimal._format_num`` then
    ``_to_string`` do) and ISO dates. Anything else goes to the field."""
    cls: Any = type(field)
    if (
        isinstance(field, fields.Decimal)
        and cls._serialize is fields.Number._serialize
        and cls._format_num is fields.Decimal._format_num
        and cls._to_string is fields.Decimal._to_string
        and field.as_string
        and field.places is not None
    ):
        return _money(field, field.places, field.rounding)
    if (
        isinstance(field, fields.Date)
        and cls._serialize is fields.Date._serialize
        and field.SERIALIZATION_FUNCS.get(field.format or field.DEFAULT_FORMAT) is dt.date.isoformat
    ):
        return _iso_date(field)
    return field._serialize


def _money(field: fields.Field, places: Decimal, rounding: str | None) -> Callable[..., Any]:
    slow = field._serialize

    def serialize(value: Any, attr: str, obj: Any) -> Any:
        if type(value) is Decimal and value.is_finite():
            try:
                return format(value.quantize(places, rounding=rounding), "f")
            except InvalidOperation:
                pass  # more digits than the context's precision: the field raises as it does
        return slow(value, attr, obj)

    return serialize


def _iso_date(field: fields.Field) -> Callable[..., Any]:
    slow = field._serialize

    def serialize(value: Any, attr: str, obj: Any) -> Any:
        if type(value) is dt.date:
            return value.isoformat()
        return slow(value, attr, obj)

    return serialize


# How a step reads and writes its value.
_READ = 0  # the object's attribute or key, formatted by the field (its default when missing)
_COMPUTED = 1  # ``fields.Function(f)``: ``f(obj)``, as ``Function._serialize`` does
_FIELD = 2  # marshmallow's ``field.serialize`` (a field that reads its value its own way)


def _compile_fields(schema: ma.Schema) -> Callable[[Any], dict[str, Any]] | None:
    """The dump of one object, or ``None`` when marshmallow must do it (hooks, own accessor)."""
    if schema._hooks[ma.decorators.PRE_DUMP] or schema._hooks[ma.decorators.POST_DUMP]:
        return None
    if type(schema).get_attribute is not ma.Schema.get_attribute:
        return None
    steps: list[tuple[str, str, int, Any, Any, type | None, int]] = []
    attributes: list[str] = []  # the attributes the _READ steps read, in order
    for name, field in schema.dump_fields.items():
        key = field.data_key if field.data_key is not None else name
        attribute = field.attribute if field.attribute is not None else name
        # A field reading its value its own way (``fields.Label``, ``fields.Notice``) is not plain.
        plain = (
            "." not in attribute
            and type(field).serialize is fields.Field.serialize
            and type(field).get_value is fields.Field.get_value
        )
        read = len(attributes)
        if type(field) is fields.Function and field.serialize_func is not None:
            steps.append((key, name, _COMPUTED, field.serialize_func, field, None, -1))
        elif plain and type(field) is fields.Nested and not field.many and not field.schema.many:
            nested = compiled_dump(field.schema)
            steps.append((key, attribute, _READ, _nested(nested), field, None, read))
            attributes.append(attribute)
        elif (
            plain
            and isinstance(field, fields.List)
            and type(field.inner) is fields.Nested
            and not field.inner.many
            and not field.inner.schema.many
        ):
            nested = compiled_dump(field.inner.schema)
            steps.append((key, attribute, _READ, _listed(nested), field, None, read))
            attributes.append(attribute)
        elif plain and isinstance(field, _PLAIN):
            same = _unchanged_type(field)
            steps.append((key, attribute, _READ, _formatter(field), field, same, read))
            attributes.append(attribute)
        else:
            steps.append((key, name, _FIELD, field.serialize, field, None, -1))
    accessor = schema.get_attribute
    dict_class = schema.dict_class
    # An object read by attribute gives all its values in one call (``attrgetter``); one that
    # lacks one of them (a row of fewer columns) is read value by value, missing ones left out.
    read_all = operator.attrgetter(*attributes) if attributes else None
    single = len(attributes) == 1

    def values_of(obj: Any) -> Sequence[Any]:
        if read_all is not None and _by_attribute(obj):
            try:
                values = read_all(obj)
            except AttributeError:
                return [getattr(obj, a, missing) for a in attributes]
            return (values,) if single else values
        return [_value(obj, a) for a in attributes]

    def dump_one(obj: Any) -> dict[str, Any]:
        out = dict_class()
        values = values_of(obj)
        for key, attribute, how, serialize, field, same, read in steps:
            if how == _READ:
                value = values[read]
                if type(value) is same or value is None and same is not None:
                    out[key] = value
                    continue
                if value is missing:
                    default = field.dump_default
                    value = default() if callable(default) else default
                    if value is missing:
                        continue
                out[key] = serialize(value, attribute, obj)
            elif how == _COMPUTED:
                out[key] = serialize(obj)
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
