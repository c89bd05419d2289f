"""The precompiled load (backend.loading) answers what marshmallow answers: the same data for
valid input, marshmallow's own errors for anything else."""

from __future__ import annotations

import copy
from typing import Any

import marshmallow as ma
import pytest
from marshmallow import fields

from backend.integration.schemas import (
    CoreMessageArgsSchema,
    FundTransactionArgsSchema,
    FundTransactionBatchArgsSchema,
)
from backend.loading import compiled_load

ENTRY = {
    "account_no": "000000000001",
    "external_id": "JX2026-000000000001",
    "kind": "interest",
    "amount": "123.45",
    "txn_date": "2026-06-30",
    "summary": "2026年度结息",
}
ID_NUMBER = "11010519491231002X"


def _entry(**changes: Any) -> dict[str, Any]:
    entry = {**ENTRY, **changes}
    return {k: v for k, v in entry.items() if v is not ...}


VALID_ENTRIES = [
    _entry(),
    _entry(summary=...),
    _entry(kind="deposit", period_month="2026-05", amount="1920"),
    _entry(kind="withdrawal", amount="-10.5", application_no="WD1"),
    _entry(kind="withdrawal", amount="-1.00", rent_arrangement_no="ZF1"),
    _entry(account_no=..., id_number=ID_NUMBER.lower()),
]
INVALID_ENTRIES = [
    _entry(amount=123.45),
    _entry(amount="-1"),  # a credit with a minus sign
    _entry(amount="0"),
    _entry(amount="1.234"),
    _entry(amount=None),
    _entry(kind="bonus"),
    _entry(kind=...),
    _entry(external_id="含中文"),
    _entry(external_id=""),
    _entry(txn_date="2026-02-30"),
    _entry(txn_date="1800-01-01"),
    _entry(period_month="2026-13"),
    _entry(summary="x" * 201),
    _entry(account_no=..., id_number="110105194912310021"),
    _entry(id_number=ID_NUMBER),  # both references
    _entry(account_no=...),  # neither
    _entry(account_no=""),
    _entry(surprise=1),
    _entry(summary=None),
    "not an object",
    None,
    [ENTRY],
]


def _outcome(load: Any, data: Any) -> tuple[str, Any]:
    try:
        return "ok", load(copy.deepcopy(data))
    except ma.ValidationError as error:
        return "error", (error.messages, error.data, error.valid_data)


@pytest.mark.parametrize("data", VALID_ENTRIES + INVALID_ENTRIES)
def test_compiled_load_answers_what_marshmallow_answers_when_given_one_entry(data):
    schema = FundTransactionArgsSchema()
    compiled = compiled_load(schema)
    assert compiled is not schema.load  # this schema is compiled
    assert _outcome(compiled, data) == _outcome(FundTransactionArgsSchema().load, data)


@pytest.mark.parametrize(
    "entries",
    [
        VALID_ENTRIES,
        [ENTRY] * 1000,
        *([*VALID_ENTRIES, bad] for bad in INVALID_ENTRIES),
        [],
        [ENTRY] * 1001,
        "entries",
        None,
    ],
)
def test_compiled_load_answers_what_marshmallow_answers_when_given_a_batch(entries):
    schema = FundTransactionBatchArgsSchema()
    compiled = compiled_load(schema)
    for body in ({"entries": entries}, {"entries": entries, "more": 1}):
        assert _outcome(compiled, body) == _outcome(FundTransactionBatchArgsSchema().load, body)


def test_compiled_load_applies_post_load_when_the_schema_has_one():
    loaded = compiled_load(FundTransactionArgsSchema())(
        _entry(account_no=..., id_number=ID_NUMBER.lower())
    )
    assert loaded["id_number"] == ID_NUMBER


@pytest.mark.parametrize(
    "data",
    [
        {"account_no": "1", "dedupe_key": "k", "business_name": "b", "content": "c"},
        {"account_no": "1", "dedupe_key": "k", "business_name": "b", "content": "c",
         "kind": "todo", "due_at": "2026-07-01T09:00:00"},
        {"account_no": "1", "dedupe_key": "k", "business_name": "b", "content": "c",
         "due_at": "tomorrow"},
        {"account_no": "1", "dedupe_key": "k", "business_name": "", "content": "c"},
    ],
)  # fmt: skip
def test_compiled_load_answers_what_marshmallow_answers_when_fields_have_defaults(data):
    compiled = compiled_load(CoreMessageArgsSchema())
    assert _outcome(compiled, data) == _outcome(CoreMessageArgsSchema().load, data)


class Own(fields.String):
    def deserialize(self, value: Any, attr: Any = None, data: Any = None, **kwargs: Any) -> Any:
        return "own" if value is ma.missing else super().deserialize(value, attr, data, **kwargs)


class WithOwnField(ma.Schema):
    name = Own()
    count = fields.Integer(load_default=lambda: 3)


class PreLoaded(ma.Schema):
    name = fields.String()

    @ma.pre_load
    def strip(self, data: dict[str, Any], **_: Any) -> dict[str, Any]:
        return {k: v.strip() for k, v in data.items()}


def test_compiled_load_calls_a_fields_own_deserialize_when_it_has_one():
    load = compiled_load(WithOwnField())
    assert load({}) == WithOwnField().load({}) == {"name": "own", "count": 3}


def test_compiled_load_leaves_schemas_to_marshmallow_when_they_have_pre_load_hooks():
    schema = PreLoaded()
    assert compiled_load(schema) == schema.load
    assert compiled_load(schema)({"name": " x "}) == {"name": "x"}
