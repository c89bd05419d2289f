"""What every part of the seed shares: the rows being built, money in fen, Beijing-time moments,
months as integers, weighted draws and the PII vault the rows go through."""

from __future__ import annotations

import datetime as dt
import functools
import itertools
import random
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Protocol

from devtools.seed import data

HISTORY_MONTHS = 120  # ten years of ledger
FEN = Decimal("0.01")
CST = dt.timezone(dt.timedelta(hours=8))
UTC = dt.UTC
ONE_DAY = dt.timedelta(days=1)


class Vault(Protocol):
    def encrypt(self, plain: str) -> str: ...
    def id_lookup(self, id_number: str) -> str: ...
    def phone_lookup(self, phone: str) -> str: ...


class TupleRows(list[tuple[Any, ...]]):
    """Rows of one table as tuples in the order of ``columns``: the hot tables (the ledger, the
    repayments: nine rows in ten) skip a dict per row, which cost four times the tuple."""

    def __init__(self, columns: tuple[str, ...]) -> None:
        super().__init__()
        self.columns = columns

    def dicts(self) -> list[dict[str, Any]]:
        return [dict(zip(self.columns, row, strict=True)) for row in self]


def as_dicts(batch: list[Any]) -> list[dict[str, Any]]:
    """A table's rows as dicts, whichever shape they were made in."""
    return batch.dicts() if isinstance(batch, TupleRows) else batch


@dataclass
class Rows:
    """Rows per table name, in the shape ``insert(table)`` and COPY take: dicts, or
    :class:`TupleRows` for the hot tables."""

    tables: dict[str, list[Any]] = field(default_factory=lambda: defaultdict(list))

    def add(self, table: str, row: dict[str, Any]) -> None:
        self.tables[table].append(row)

    def tuples(self, table: str, columns: tuple[str, ...]) -> TupleRows:
        """The tuple rows of ``table`` (made on first use with these columns)."""
        rows = self.tables.get(table)
        if rows is None:
            rows = self.tables[table] = TupleRows(columns)
        assert isinstance(rows, TupleRows) and rows.columns == columns
        return rows

    def size(self) -> int:
        return sum(len(rows) for rows in self.tables.values())

    def clear(self) -> None:
        self.tables.clear()

    def take(self) -> dict[str, list[Any]]:
        """Hand the rows over (to a writer) and start empty."""
        tables, self.tables = self.tables, defaultdict(list)
        return tables


class Ids:
    """The next id of every table. A chunk of the parallel load counts from 0 and is moved to
    its place in the centre when its turn comes (:mod:`devtools.seed.parallel`)."""

    def __init__(self, first: dict[str, int]) -> None:
        self.next_ids = dict(first)

    def __call__(self, table: str) -> int:
        value = self.next_ids.get(table, 1)
        self.next_ids[table] = value + 1
        return value

    def block(self, table: str, count: int) -> int:
        """The first of ``count`` consecutive ids."""
        first = self.next_ids.get(table, 1)
        self.next_ids[table] = first + count
        return first


def money(fen: int) -> Decimal:
    return Decimal(fen).scaleb(-2)


def fen_of(amount: Decimal) -> int:
    return int(amount * 100)


def yuan_floor(fen: int) -> int:
    """An amount the member would type: whole yuan."""
    return fen // 100 * 100


def at(day: dt.date, hour: int, minute: int = 0) -> dt.datetime:
    """A Beijing-time moment as the UTC datetime the columns store."""
    return dt.datetime(day.year, day.month, day.day, hour, minute, tzinfo=CST).astimezone(UTC)


@functools.cache
def booked_at(day: dt.date) -> dt.datetime:
    """When the core booked a ledger entry of ``day`` (10:00 Beijing time); cached because a
    large centre books millions of entries on a few thousand days."""
    return at(day, 10)


def month_index(day: dt.date) -> int:
    return day.year * 12 + day.month - 1


def month_day(index: int, day: int) -> dt.date:
    return dt.date(index // 12, index % 12 + 1, day)


def base_year(index: int) -> int:
    """The deposit base changes each July: months July Y – June Y+1 share base year Y."""
    return (index - 6) // 12


@functools.cache
def month_label(index: int) -> str:
    return f"{index // 12:04d}-{index % 12 + 1:02d}"


@functools.cache
def month_chinese(index: int) -> str:
    return f"{index // 12}年{index % 12 + 1:02d}月"


Weighted = tuple[list[Any], list[int]]


def weighted(pairs: Sequence[tuple[Any, int]]) -> Weighted:
    values = [value for value, _ in pairs]
    cumulative = list(itertools.accumulate(weight for _, weight in pairs))
    return values, cumulative


def pick(rng: random.Random, table: Weighted) -> Any:
    values, cumulative = table
    return rng.choices(values, cum_weights=cumulative)[0]


BANKS = weighted(data.BANKS)


def reason_name(reason: str | None) -> str:
    return {
        "rent": "租房",
        "purchase": "购房",
        "loan_repayment": "偿还贷款",
        "retirement": "离退休",
        "leaving": "离职",
    }.get(reason or "", "住房公积金")
