"""The mini-program's jest tests answer requests with the bodies in miniapp/tests/fixtures/api.json.
These checks hold those bodies to the backend's response schemas, so a field the backend renames
or drops fails here instead of leaving the jest suite green against a shape nobody sends."""

from __future__ import annotations

import importlib
import json
from pathlib import Path
from typing import Any

import marshmallow as ma
import pytest

FIXTURES = Path(__file__).resolve().parents[2] / "miniapp" / "tests" / "fixtures" / "api.json"


def _fixtures() -> dict[str, dict[str, Any]]:
    data = json.loads(FIXTURES.read_text(encoding="utf-8"))
    return {name: entry for name, entry in data.items() if not name.startswith("_")}


def _schema(ref: str) -> ma.Schema:
    module, _, name = ref.partition(":")
    return getattr(importlib.import_module(module), name)()


def _dumped_fields(schema: ma.Schema) -> dict[str, ma.fields.Field]:
    return {
        field.data_key or name: field
        for name, field in schema.fields.items()
        if not field.load_only
    }


def _nested(field: ma.fields.Field) -> ma.Schema | None:
    if isinstance(field, ma.fields.Nested):
        return field.schema
    if isinstance(field, ma.fields.List) and isinstance(field.inner, ma.fields.Nested):
        return field.inner.schema
    return None


def _problems(schema: ma.Schema, body: Any, where: str) -> list[str]:
    if not isinstance(body, dict):
        return [f"{where}: expected an object, got {type(body).__name__}"]
    fields = _dumped_fields(schema)
    problems = [
        f"{where}.{key}: not a field of {type(schema).__name__}"
        for key in body.keys() - fields.keys()
    ]
    problems += [
        f"{where}.{key}: required by {type(schema).__name__} but missing"
        for key, field in fields.items()
        if field.required and key not in body
    ]
    for key, value in body.items():
        inner = _nested(fields[key]) if key in fields else None
        if inner is None or value is None:
            continue
        for i, item in enumerate(value if isinstance(value, list) else [value]):
            problems += _problems(inner, item, f"{where}.{key}[{i}]")
    return problems


@pytest.mark.parametrize("name", sorted(_fixtures()))
def test_jest_fixture_matches_the_response_schema_when_the_backend_answers(name: str) -> None:
    entry = _fixtures()[name]
    assert _problems(_schema(entry["schema"]), entry["body"], name) == []


def test_fixture_check_reports_a_field_when_the_backend_has_no_such_field() -> None:
    entry = _fixtures()["unread_count"]
    body = {**entry["body"], "count": 3}
    assert _problems(_schema(entry["schema"]), body, "unread_count") == [
        "unread_count.count: not a field of UnreadCountSchema"
    ]
