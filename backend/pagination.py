"""Keyset pagination: ``{"items": [...], "next_cursor": "<opaque>" | null}``, never OFFSET.

A cursor carries the sort key of the last row returned; the next page is the rows strictly after
it in the list's order (newest first: ``(sort_col, id) < (last_sort, last_id)``).
"""

from __future__ import annotations

import base64
import datetime as dt
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import marshmallow as ma
from sqlalchemy import ColumnElement, Select, and_, bindparam, or_
from sqlalchemy.orm import InstrumentedAttribute, Session

from backend.errors import ValidationFailed

T = TypeVar("T")

MAX_LIMIT = 100
DEFAULT_LIMIT = 20


@dataclass(frozen=True)
class Page(Generic[T]):
    """A list answer as the schemas dump it: ``{"items": [...], "next_cursor": ...}``; ``notice``
    says why it is empty where a feature says so (no loan yet, not disbursed)."""

    items: Sequence[T]
    next_cursor: str | None = None
    notice: str | None = None


class PageArgsSchema(ma.Schema):
    cursor = ma.fields.String(
        load_default=None, metadata={"description": "next_cursor of the previous page"}
    )
    limit = ma.fields.Integer(
        load_default=DEFAULT_LIMIT,
        validate=ma.validate.Range(min=1, max=MAX_LIMIT, error="每页条数应在 1 到 100 之间"),
    )


def _encode_value(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return {"t": value.isoformat()}
    if isinstance(value, dt.date):
        return {"d": value.isoformat()}
    return value


def _decode_value(value: Any) -> Any:
    if isinstance(value, dict):
        if "t" in value:
            return dt.datetime.fromisoformat(value["t"])
        if "d" in value:
            return dt.date.fromisoformat(value["d"])
    return value


def encode_cursor(values: Sequence[Any]) -> str:
    raw = json.dumps([_encode_value(v) for v in values], separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(cursor: str, width: int) -> list[Any]:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        values = json.loads(base64.urlsafe_b64decode(padded.encode()))
        if not isinstance(values, list) or len(values) != width:
            raise ValueError("cursor shape")
        return [_decode_value(v) for v in values]
    except (ValueError, TypeError, UnicodeDecodeError) as exc:
        raise ValidationFailed(
            "分页参数无效，请从第一页重新查询",
            error_code="pagination.invalid_cursor",
            errors={"cursor": ["无效的分页游标"]},
        ) from exc


def keyset_page(
    session: Session,
    stmt: Select[Any],
    order: Sequence[InstrumentedAttribute[Any]],
    *,
    cursor: str | None,
    limit: int,
    descending: bool = True,
    key: Callable[[Any], Sequence[Any]] | None = None,
) -> tuple[list[Any], str | None]:
    """Run one page of ``stmt`` ordered by ``order`` (the last column must be unique, e.g. id).

    Returns the rows and the next cursor (``None`` on the last page). One SQL statement.
    """
    if cursor:
        last = decode_cursor(cursor, len(order))
        stmt = stmt.where(_after(order, last, descending))
    ordering = [c.desc() if descending else c.asc() for c in order]
    rows = list(session.scalars(stmt.order_by(*ordering).limit(limit + 1)))
    has_more = len(rows) > limit
    rows = rows[:limit]
    next_cursor = None
    if has_more and rows:
        sort_key = key or (lambda row: [getattr(row, c.key) for c in order])
        next_cursor = encode_cursor(list(sort_key(rows[-1])))
    return rows, next_cursor


class KeysetQuery:
    """A keyset-paged list whose statements are built once: ``stmt`` names its inputs as bind
    parameters (``bindparam("member_id")``), and the statements of a first page and of a next
    page are derived from it on first use, then only executed. (Building a select, its filters
    and its order anew for every request cost about as much as running it.)

    Instantiate once per list (a module-level ``functools.cache`` factory) and call :meth:`page`
    as :func:`keyset_page`; ``scalars`` answers ORM objects, otherwise rows of the selected
    columns. A select of table columns (``Model.__table__.c``) rather than mapped attributes is
    run by the session without the ORM's statement and result machinery (about a fifth of a
    20-row page's cost)."""

    def __init__(
        self,
        stmt: Select[*tuple[Any, ...]],
        order: Sequence[InstrumentedAttribute[Any] | ColumnElement[Any]],
        *,
        descending: bool = True,
        scalars: bool = False,
    ) -> None:
        self.order = list(order)
        self.keys = [str(c.key) for c in order]
        self.scalars = scalars
        ordering = [c.desc() if descending else c.asc() for c in order]
        after: list[Any] = [bindparam(f"after_{i}") for i in range(len(order))]
        limit: Any = bindparam("page_rows")
        self.first = stmt.order_by(*ordering).limit(limit)
        self.next = stmt.where(_after(order, after, descending)).order_by(*ordering).limit(limit)

    def page(
        self, session: Session, params: dict[str, Any], *, cursor: str | None, limit: int
    ) -> tuple[list[Any], str | None]:
        """One page (rows and the next cursor, ``None`` on the last page): one statement."""
        values = dict(params, page_rows=limit + 1)
        stmt = self.first
        if cursor:
            last = decode_cursor(cursor, len(self.order))
            values.update({f"after_{i}": value for i, value in enumerate(last)})
            stmt = self.next
        result = session.execute(stmt, values)
        rows = list(result.scalars() if self.scalars else result)
        has_more = len(rows) > limit
        rows = rows[:limit]
        next_cursor = None
        if has_more and rows:
            next_cursor = encode_cursor([getattr(rows[-1], key) for key in self.keys])
        return rows, next_cursor


def _after(
    order: Sequence[InstrumentedAttribute[Any] | ColumnElement[Any]],
    last: Sequence[Any],
    descending: bool,
) -> Any:
    # Expanded row-value comparison: portable to SQLite and uses the composite index on PostgreSQL.
    clauses = []
    for i, column in enumerate(order):
        equal_prefix = [order[j] == last[j] for j in range(i)]
        beyond = column < last[i] if descending else column > last[i]
        clauses.append(and_(*equal_prefix, beyond))
    return or_(*clauses)
