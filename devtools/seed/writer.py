"""Bulk loading of generated rows: PostgreSQL COPY when the database is PostgreSQL, executemany
``insert()`` otherwise. Rows carry their ids (the generator numbers them from the current
maxima), so parents and children go in without a round trip; sequences are moved on at the end."""

from __future__ import annotations

import json
import queue
import threading
from collections import Counter
from collections.abc import Mapping
from operator import itemgetter
from typing import Any

from sqlalchemy import JSON, Table, func, insert, select
from sqlalchemy.engine import Connection

from backend.models import Base

Tables = Mapping[str, list[dict[str, Any]]]


def _tables() -> list[Table]:
    return list(Base.metadata.sorted_tables)  # parents before children


class BulkWriter:
    """Writes :class:`Rows` batches inside the caller's transaction (``conn``)."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self.postgres = conn.dialect.name == "postgresql"
        self.counts: Counter[str] = Counter()

    def next_ids(self) -> dict[str, int]:
        """The first free id of every table with an integer ``id`` key."""
        result = {}
        for table in _tables():
            if "id" in table.c:
                current = self.conn.execute(select(func.max(table.c.id))).scalar()
                result[table.name] = (current or 0) + 1
        return result

    def write(self, tables: Tables) -> None:
        for table in _tables():
            batch = tables.get(table.name)
            if not batch:
                continue
            if self.postgres:
                self._copy(table, batch)
            else:
                self.conn.execute(insert(table), batch)
            self.counts[table.name] += len(batch)

    def _copy(self, table: Table, batch: list[dict[str, Any]]) -> None:
        columns = list(batch[0])
        values_of = itemgetter(*columns)
        json_at = [i for i, name in enumerate(columns) if isinstance(table.c[name].type, JSON)]
        statement = f"COPY {table.name} ({', '.join(columns)}) FROM STDIN"
        raw = self.conn.connection.driver_connection
        assert raw is not None
        with raw.cursor() as cursor, cursor.copy(statement) as copy:
            for row in batch:
                values = list(values_of(row))
                for i in json_at:
                    values[i] = json.dumps(values[i], ensure_ascii=False)
                copy.write_row(values)

    def finish(self) -> None:
        """Move PostgreSQL's id sequences past the ids the rows brought with them."""
        if not self.postgres:
            return
        for table in _tables():
            if "id" in table.c and self.counts[table.name]:
                sequence = func.pg_get_serial_sequence(table.name, "id")
                highest = select(func.max(table.c.id)).scalar_subquery()
                self.conn.execute(select(func.setval(sequence, highest)))


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
