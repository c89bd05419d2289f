"""The precompiled dump (backend.dumping) writes exactly what marshmallow writes."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from types import SimpleNamespace

import marshmallow as ma
import pytest
from marshmallow import fields

from backend.dumping import compiled_dump
from backend.fields import LocalDateTime, money
from backend.fund.schemas import FundAccountSchema, TransactionPageSchema
from backend.inbox.schemas import MessagePageSchema
from backend.loans.schemas import LoanInfoSchema, LoanListSchema, LoanProgressSchema
from backend.members.schemas import ProfileSchema


class Inner(ma.Schema):
    name = fields.String()
    amount = money()


class Outer(ma.Schema):
    id = fields.Integer()
    renamed = fields.String(data_key="label", attribute="title")
    dotted = fields.String(attribute="inner.name")
    when = LocalDateTime()
    day = fields.Date()
    flag = fields.Boolean(dump_default=False)
    kind_name = fields.Function(lambda o: f"<{o['kind']}>" if isinstance(o, dict) else "?")
    inner = fields.Nested(Inner, allow_none=True)
    items = fields.List(fields.Nested(Inner))
    numbers = fields.List(fields.Integer())
    extra = fields.Dict()


class Hooked(Inner):
    @ma.post_dump
    def shout(self, data, **_kwargs):
        return {k: v.upper() if isinstance(v, str) else v for k, v in data.items()}


SAMPLES = [
    {
        "id": 7,
        "title": "标题",
        "when": dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.UTC),
        "day": dt.date(2026, 6, 30),
        "kind": "deposit",
        "inner": {"name": "x", "amount": Decimal("1234.5")},
        "items": [
            {"name": "a", "amount": Decimal("-0.01")},
            SimpleNamespace(name="b", amount=None),
        ],
        "numbers": [1, 2],
        "extra": {"k": 1},
    },
    {"id": None, "inner": None, "items": None, "kind": "x"},  # missing keys are left out
    SimpleNamespace(id=1, title="t", day=None, inner=SimpleNamespace(name="n", amount=Decimal(1))),
]


@pytest.mark.parametrize("obj", SAMPLES)
def test_compiled_dump_writes_what_marshmallow_writes_when_given_dicts_and_objects(obj):
    schema = Outer()
    assert compiled_dump(schema)(obj) == schema.dump(obj)
    assert list(compiled_dump(schema)(obj)) == list(schema.dump(obj))  # same key order


def test_compiled_dump_dumps_lists_when_many():
    schema = Inner(many=True)
    rows = [{"name": "a", "amount": Decimal("1")}, {"name": "b"}]
    assert compiled_dump(schema)(rows) == schema.dump(rows)
    assert compiled_dump(Inner())(rows, many=True) == Inner().dump(rows, many=True)


def test_compiled_dump_leaves_schemas_with_hooks_to_marshmallow_when_they_have_them():
    schema = Hooked()
    assert compiled_dump(schema)({"name": "a"}) == {"name": "A"}


@pytest.mark.parametrize(
    ("schema", "obj"),
    [
        (
            TransactionPageSchema(),
            {
                "start": dt.date(2025, 1, 1),
                "end": dt.date(2025, 12, 31),
                "items": [
                    SimpleNamespace(
                        id=1,
                        txn_date=dt.date(2025, 3, 1),
                        kind="deposit",
                        amount=Decimal("1000.00"),
                        balance_after=Decimal("1000.00"),
                        period_month="2025-03",
                        summary="汇缴",
                    )
                ],
                "next_cursor": None,
            },
        ),
        (
            FundAccountSchema(),
            {"account_no": "1", "balance": Decimal("3.50"), "employer": None, "paid_through": None},
        ),
        (ProfileSchema(), {"name": "张三", "account": None, "employer": None}),
        (MessagePageSchema(), {"items": [], "next_cursor": None}),
        (LoanListSchema(), {"items": [], "next_cursor": None, "notice": "无"}),
        (LoanInfoSchema(), {"contract_no": "HT1", "amount": Decimal("1.00"), "next_due": None}),
        (LoanProgressSchema(), {"contract_no": "HT1", "nodes": []}),
    ],
)
def test_compiled_dump_agrees_with_marshmallow_when_dumping_member_reads(schema, obj):
    assert compiled_dump(schema)(obj) == schema.dump(obj)


def test_compiled_dump_reads_columns_of_rows_when_given_database_rows():
    from sqlalchemy import create_engine, text

    with create_engine("sqlite://").connect() as conn:
        row = conn.execute(text("select 'a' as name, 1.5 as amount")).one()
    assert compiled_dump(Inner())(row) == Inner().dump(row) == {"name": "a", "amount": "1.50"}


class Formatted(ma.Schema):
    amount = money()
    rate = fields.Decimal(places=3, rounding="ROUND_DOWN", as_string=True)
    plain_decimal = fields.Decimal()
    count = fields.Integer()
    text = fields.String()
    flag = fields.Boolean()
    day = fields.Date()
    day_formatted = fields.Date("%d/%m/%Y")
    label = fields.Function(lambda o: getattr(o, "text", None) or "无")


FORMATTED = [
    SimpleNamespace(
        amount=Decimal("1234.5"),
        rate=Decimal("0.12345"),
        plain_decimal=Decimal("1.50"),
        count=3,
        text="摘要",
        flag=True,
        day=dt.date(2026, 6, 30),
        day_formatted=dt.date(2026, 6, 30),
    ),
    SimpleNamespace(  # values of other types than the fast paths expect go to the field
        amount=Decimal("-0.005"),
        rate=7,
        plain_decimal=None,
        count=Decimal("4"),
        text=12,
        flag=1,
        day=dt.datetime(2026, 6, 30, 23, 0),
        day_formatted=None,
    ),
    SimpleNamespace(
        amount=None, rate=None, plain_decimal=2, count=None, text=None, flag=None, day=None
    ),  # day_formatted missing: left out
    {"amount": Decimal("-99999999.99"), "count": 0, "text": "", "flag": False},
    {"amount": "12.345", "rate": Decimal("-0.0001"), "day": dt.date(1950, 1, 1)},
]


@pytest.mark.parametrize("obj", FORMATTED)
def test_compiled_dump_formats_money_dates_and_computed_fields_as_marshmallow_when_fast(obj):
    schema = Formatted()
    compiled = compiled_dump(schema)(obj)
    assert compiled == schema.dump(obj)
    assert list(compiled) == list(schema.dump(obj))
    assert [type(v) for v in compiled.values()] == [type(v) for v in schema.dump(obj).values()]


@pytest.mark.parametrize("amount", ["NaN", "-Infinity", "1E+40"])
def test_compiled_dump_answers_as_marshmallow_when_money_is_not_finite_or_too_long(amount):
    schema = Formatted()
    obj = {"amount": Decimal(amount)}
    try:
        expected: object = schema.dump(obj)
    except Exception as exc:  # noqa: BLE001 - whichever marshmallow raises, the same
        expected = type(exc)
    try:
        got: object = compiled_dump(schema)(obj)
    except Exception as exc:  # noqa: BLE001
        got = type(exc)
    assert got == expected
