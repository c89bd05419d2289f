"""Bulk loading of generated rows: PostgreSQL binary COPY when the database is PostgreSQL,
executemany ``insert()`` otherwise. Rows carry their ids (the generator numbers them from the
current maxima), so parents and children go in without a round trip; sequences are moved on at
the end.

Binary COPY sends numbers, dates and moments in the server's own formats: neither side prints or
parses text for them (measured: about a third less CPU in the seed's COPY loop, a little less in
the server). A JSON column gets the text ``json.dumps`` makes (``json``'s binary form is its
text), so the stored documents are the same as before."""

from __future__ import annotations

import json
import queue
import threading
from collections import Counter
from collections.abc import Iterable, Mapping
from operator import itemgetter
from typing import Any

from sqlalchemy import JSON, Index, Table, func, insert, select, text
from sqlalchemy.engine import Connection

from backend.models import Base
from devtools.seed.common import TupleRows, as_dicts

Tables = Mapping[str, list[Any]]  # dicts, or TupleRows
TEXT_OID = 25


def _tables() -> list[Table]:
    return list(Base.metadata.sorted_tables)  # parents before children


class BulkWriter:
    """Writes :class:`Rows` batches inside the caller's transaction (``conn``)."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self.postgres = conn.dialect.name == "postgresql"
        self.counts: Counter[str] = Counter()
        self._types: dict[str, dict[str, int]] = {}

    def next_ids(self) -> dict[str, int]:
        """The first free id of every table with an integer ``id`` key."""
        result = {}
        for table in _tables():
            if "id" in table.c:
                current = self.conn.execute(select(func.max(table.c.id))).scalar()
                result[table.name] = (current or 0) + 1
        return result

    def write(self, tables: Tables, shift: Mapping[str, int] | None = None) -> None:
        """Write every table's rows, parents first. ``shift``: what to add to the ids of those
        tables, in the rows' own ``id`` and in the columns that refer to them (a chunk of the
        parallel load is generated with ids from 0; PostgreSQL only)."""
        for table in _tables():
            batch = tables.get(table.name)
            if not batch:
                continue
            if self.postgres:
                self._copy(table, batch, shift or {})
            else:
                assert not shift, "ids are moved on by the COPY path only"
                self.conn.execute(insert(table), as_dicts(batch))
            self.counts[table.name] += len(batch)

    def _copy(self, table: Table, batch: list[Any], shift: Mapping[str, int]) -> None:
        types = self._column_types(table)
        # Column by column (C loops over the batch), then zipped back into rows.
        values: list[list[Any]]
        if isinstance(batch, TupleRows):
            columns = list(batch.columns)
            values = [list(column) for column in zip(*batch, strict=True)]
        else:
            columns = list(batch[0])
            values = [list(map(itemgetter(name), batch)) for name in columns]
        oids = []
        for i, name in enumerate(columns):
            if isinstance(table.c[name].type, JSON):
                # As the text json.dumps makes: the binary form of ``json`` is its text.
                values[i] = [_json(value) for value in values[i]]
                oids.append(TEXT_OID)
            else:
                oids.append(types[name])
        for i, offset in id_moves(table, columns, shift):
            values[i] = [None if value is None else value + offset for value in values[i]]
        statement = f"COPY {table.name} ({', '.join(columns)}) FROM STDIN (FORMAT BINARY)"
        raw = self.conn.connection.driver_connection
        assert raw is not None
        with raw.cursor() as cursor, cursor.copy(statement) as copy:
            copy.set_types(oids)
            write = copy.write_row
            for row in zip(*values, strict=True):
                write(row)

    def _column_types(self, table: Table) -> dict[str, int]:
        """The type oid of every column of ``table``, as the database has it (asked once)."""
        types = self._types.get(table.name)
        if types is None:
            found = self.conn.execute(
                text(
                    "SELECT attname, atttypid::int FROM pg_attribute"
                    " WHERE attrelid = CAST(:table AS regclass) AND attnum > 0"
                    " AND NOT attisdropped"
                ),
                {"table": table.name},
            )
            types = self._types[table.name] = {name: int(oid) for name, oid in found}
        return types

    def finish(self) -> None:
        """Move PostgreSQL's id sequences past the ids the rows brought with them."""
        if not self.postgres:
            return
        for table in _tables():
            if "id" in table.c and self.counts[table.name]:
                sequence = func.pg_get_serial_sequence(table.name, "id")
                highest = select(func.max(table.c.id)).scalar_subquery()
                self.conn.execute(select(func.setval(sequence, highest)))


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)  # None too: JSON null, as insert() stores it


def id_moves(table: Table, columns: list[str], shift: Mapping[str, int]) -> list[tuple[int, int]]:
    """(position, what to add) for the columns of ``columns`` that hold ids of shifted tables."""
    targets = [_refers_to(table, name) for name in columns]
    return [(i, shift[target]) for i, target in enumerate(targets) if target and shift.get(target)]


def _refers_to(table: Table, column: str) -> str | None:
    """The table whose ids ``column`` holds: its own for ``id``, the target of a foreign key."""
    if column == "id":
        return table.name
    keys = table.c[column].foreign_keys
    return next(iter(keys)).column.table.name if keys else None


def secondary_indexes(conn: Connection, names: Iterable[str]) -> list[Index]:
    """The plain (not unique) indexes of these tables that the database has: a bulk load drops
    them and builds them once at the end, which is cheaper than keeping them up row by row."""
    present = {
        row[0]
        for row in conn.execute(
            text("SELECT indexname FROM pg_indexes WHERE schemaname = current_schema()")
        )
    }
    wanted = set(names)
    return [
        index
        for table in _tables()
        if table.name in wanted
        for index in sorted(table.indexes, key=lambda i: str(i.name))
        if not index.unique and index.name in present
    ]


class BackgroundWriter:
    """Feeds a :class:`BulkWriter` from a thread, so PostgreSQL ingests one batch while the next
    is generated (psycopg releases the GIL while it waits on the server). The queue is short:
    memory stays bounded by a couple of batches."""

    def __init__(self, writer: BulkWriter, depth: int = 2) -> None:
        self.writer = writer
        self._queue: queue.Queue[Tables | None] = queue.Queue(maxsize=depth)
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="seed-writer", daemon=True)
        self._thread.start()

    def write(self, tables: Tables) -> None:
        self._raise()
        self._queue.put(tables)

    def close(self) -> None:
        """Wait for the queued batches; re-raise what went wrong in the thread."""
        self._queue.put(None)
        self._thread.join()
        self._raise()

    def _run(self) -> None:
        while (tables := self._queue.get()) is not None:
            if self._error is not None:
                continue  # keep draining so the producer never blocks on a dead writer
            try:
                self.writer.write(tables)
            except BaseException as exc:  # noqa: BLE001 - handed to the producer thread
                self._error = exc

    def _raise(self) -> None:
        if self._error is not None:
            raise self._error
