"""InputDate("%Y-%m-%d") reads a date as marshmallow's strptime does, its fast path included."""

from __future__ import annotations

import datetime as dt

import marshmallow as ma
import pytest

from backend.fields import InputDate


class Args(ma.Schema):
    fast = InputDate("%Y-%m-%d")
    slow = ma.fields.Date("%Y-%m-%d")


@pytest.mark.parametrize(
    "text",
    [
        "2026-06-30",
        "2024-02-29",
        "2025-02-29",  # no such day
        "2026-13-01",
        "2026-00-10",
        "2026-6-30",  # strptime reads one-digit months
        "2026-06-3",
        "20260630",
        "2026-06-30 ",
        "２０２６-０６-３０",  # full-width digits
        "2026-W26-2",
        "",
    ],
)
def test_input_date_reads_what_strptime_reads_when_given_text(text):
    def read(field: str) -> object:
        try:
            return Args().load({field: text})[field]
        except ma.ValidationError as exc:
            return exc.messages[field]

    assert read("fast") == read("slow")


def test_input_date_refuses_a_date_out_of_range_when_read_fast():
    with pytest.raises(ma.ValidationError):
        Args().load({"fast": "1949-12-31"})
    assert Args().load({"fast": "1950-01-01"})["fast"] == dt.date(1950, 1, 1)
