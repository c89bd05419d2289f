"""A schema's ``load``, compiled once for input that is valid: the same fields deserialised and
validated by their own code, without marshmallow's per-value dispatch; anything else is loaded
by marshmallow itself, so every error is marshmallow's, word for word.

marshmallow loads each value through ``Schema._deserialize`` → ``_call_and_store`` → a getter
closure → ``Field.deserialize`` → ``_validate_missing`` → ``_deserialize`` → ``_validate``, then
walks the field and schema validators and the post-load hooks by name: on the 1,000 entries of a
ledger batch that walk costs more than the parsing. :func:`compiled_load` walks the schema once
and keeps, per field, its key, its attribute and its own ``_deserialize`` and validators (nested
schemas and lists of them compiled the same way), and the schema's ``validates``,
``validates_schema`` and ``post_load`` methods. The compiled path only ever answers valid input:
a missing required field, a ``None``, an unknown key, a value a field or validator refuses, stop
it, and marshmallow loads the whole input again and raises its own errors (no error is built
here). A schema with hooks the compiled path does not reproduce (``pre_load``, hooks on the whole
collection or with the original data) is loaded by marshmallow, as are fields whose ``deserialize``
is their own (their ``deserialize`` is called as marshmallow calls it).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import marshmallow as ma
from marshmallow import fields
from marshmallow.decorators import POST_LOAD, PRE_LOAD, VALIDATES, VALIDATES_SCHEMA
from marshmallow.utils import missing

Load = Callable[..., Any]
One = Callable[[Any], dict[str, Any]]


class _Slow(Exception):
    """The compiled path does not answer this input: marshmallow loads it."""


def _plain(field: fields.Field) -> bool:
    """``deserialize`` is marshmallow's own: missing, ``None``, ``_deserialize``, validators."""
    return (
        type(field).deserialize is fields.Field.deserialize
        and not field.pre_load
        and not field.post_load
    )


def _step(field: fields.Field) -> Callable[[Any, str, Any], Any] | None:
    """Deserialise and validate one present, non-null value of a :func:`_plain` field;
    ``None``: not compilable."""
    if type(field) is fields.Nested:
        if field.many or field.unknown is not None:
            return None
        nested = _compile(field.schema)
        if nested is None:
            return None
        validate = field._validate

        def one(value: Any, _key: str, _data: Any) -> Any:
            loaded = nested(value)
            validate(loaded)
            return loaded

        return one
    if type(field) is fields.List and type(field.inner) is fields.Nested:
        inner = field.inner
        if not _plain(inner) or inner.many or inner.unknown is not None:
            return None
        item = _compile(inner.schema)
        if item is None:
            return None
        validate, validate_inner = field._validate, inner._validate

        def listed(value: Any, _key: str, _data: Any) -> Any:
            if type(value) is not list:
                raise _Slow
            loaded = []
            for each in value:
                one = item(each)
                validate_inner(one)
                loaded.append(one)
            validate(loaded)
            return loaded

        return listed
    convert, validate = field._deserialize, field._validate

    def plain(value: Any, key: str, data: Any) -> Any:
        loaded = convert(value, key, data)
        validate(loaded)
        return loaded

    return plain


def _compile(schema: ma.Schema) -> One | None:
    """The load of one valid object, or ``None`` when marshmallow must do it."""
    hooks = schema._hooks
    if hooks[PRE_LOAD] or schema.partial or schema.many:
        return None
    for tag in (VALIDATES_SCHEMA, POST_LOAD):
        for _, many, kwargs in hooks[tag]:
            if many or kwargs.get("pass_original"):
                return None
    if schema.unknown not in (ma.RAISE, ma.EXCLUDE):
        return None
    # (key, attribute, the field's deserialize when it is its own, or the compiled step, field)
    steps: list[tuple[str, str, bool, Callable[..., Any], fields.Field]] = []
    for name, field in schema.load_fields.items():
        key = field.data_key if field.data_key is not None else name
        attribute = field.attribute or name
        if "." in attribute:
            return None
        if not _plain(field):
            steps.append((key, attribute, True, field.deserialize, field))
            continue
        step = _step(field)
        if step is None:
            return None
        steps.append((key, attribute, False, step, field))
    known = frozenset(key for key, *_ in steps)
    refuse_unknown = schema.unknown == ma.RAISE
    field_validators: list[tuple[Callable[..., Any], str, str]] = []
    for method, _, kwargs in hooks[VALIDATES]:
        for field_name in kwargs["field_names"]:
            validated = schema.fields.get(field_name)
            if validated is None:
                if field_name in schema.declared_fields:
                    continue  # excluded: marshmallow skips it too
                return None
            key = validated.data_key if validated.data_key is not None else field_name
            attribute = validated.attribute or field_name
            field_validators.append((getattr(schema, method), attribute, key))
    schema_validators = [getattr(schema, method) for method, _, _ in hooks[VALIDATES_SCHEMA]]
    post_loads = [getattr(schema, method) for method, _, _ in hooks[POST_LOAD]]
    make = schema.dict_class
    unknown = schema.unknown

    def load_one(data: Any) -> dict[str, Any]:
        if type(data) is not dict or (refuse_unknown and not known.issuperset(data)):
            raise _Slow
        out = make()
        for key, attribute, own, step, field in steps:
            value = data.get(key, missing)
            if own:  # as marshmallow calls it, missing or not
                value = step(value, key, data)
                if value is not missing:
                    out[attribute] = value
            elif value is missing:
                if field.required:
                    raise _Slow
                default = field.load_default
                value = default() if callable(default) else default
                if value is missing:
                    continue
                out[attribute] = value
            elif value is None:
                raise _Slow
            else:
                out[attribute] = step(value, key, data)
        for validator, attribute, key in field_validators:
            if attribute in out and validator(out[attribute], data_key=key) is missing:
                raise _Slow
        for validator in schema_validators:
            validator(out, partial=None, many=False, unknown=unknown)
        for processor in post_loads:
            out = processor(out, many=False, partial=None, unknown=unknown)
        return out

    return load_one


def compiled_load(schema: ma.Schema) -> Load:
    """``schema.load`` with the walk precompiled for valid input (see the module doc)."""
    one = _compile(schema)
    marshmallow_load = schema.load
    if one is None:
        return marshmallow_load

    def load(
        data: Any,
        *,
        many: bool | None = None,
        partial: Any = None,
        unknown: Any = None,
    ) -> Any:
        if not many and not partial and unknown in (None, schema.unknown):
            try:
                return one(data)
            except (ma.ValidationError, _Slow):
                pass  # marshmallow loads it again and raises its own errors
        return marshmallow_load(data, many=many, partial=partial, unknown=unknown)

    load.__wrapped__ = marshmallow_load  # type: ignore[attr-defined]
    return load
