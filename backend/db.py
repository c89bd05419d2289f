"""Database: engine, sessions, the declarative Base and the column types every model shares."""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Mapping, Sequence
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import orjson
from sqlalchemy import (
    ARRAY,
    JSON,
    BigInteger,
    ColumnElement,
    DateTime,
    MetaData,
    Numeric,
    Table,
    Text,
    any_,
    bindparam,
    cast,
    create_engine,
    event,
    func,
    insert,
    literal,
    select,
    update,
)
from sqlalchemy import column as sql_column
from sqlalchemy.engine import Dialect, Engine
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker
from sqlalchemy.types import TypeDecorator, TypeEngine

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

FEN = Decimal("0.01")
MONEY_PRECISION, MONEY_SCALE = 14, 2
# The largest amount a Money column holds: NUMERIC(14, 2) on PostgreSQL. SQLite's integer fen
# could hold more, so the bound is enforced here for both databases to agree.
MONEY_MAX = Decimal(10) ** (MONEY_PRECISION - MONEY_SCALE) - FEN


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class Money(TypeDecorator[Decimal]):
    """CNY amount: ``NUMERIC(14, 2)`` on PostgreSQL.

    SQLite has no decimal type (NUMERIC affinity stores a REAL, which loses fen on sums), so there
    the amount is stored as an integer number of fen. Either way Python sees ``Decimal`` to 0.01.
    """

    impl = Numeric(MONEY_PRECISION, MONEY_SCALE)
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "sqlite":
            return dialect.type_descriptor(BigInteger())
        return dialect.type_descriptor(Numeric(MONEY_PRECISION, MONEY_SCALE, asdecimal=True))

    def process_bind_param(self, value: Any, dialect: Dialect) -> Any:
        if value is None:
            return None
        amount = Decimal(value).quantize(FEN, rounding=ROUND_HALF_UP)
        if abs(amount) > MONEY_MAX:
            # Callers refuse such amounts with a 4xx first; this keeps SQLite from storing what
            # PostgreSQL would refuse.
            raise ValueError(f"amount beyond NUMERIC({MONEY_PRECISION}, {MONEY_SCALE})")
        if dialect.name == "sqlite":
            return int(amount * 100)
        return amount

    def process_result_value(self, value: Any, dialect: Dialect) -> Decimal | None:
        if value is None:
            return None
        if dialect.name == "sqlite":
            return (Decimal(int(value)) / 100).quantize(FEN)
        return Decimal(value).quantize(FEN)

    @property
    def python_type(self) -> type[Decimal]:
        return Decimal


class UtcDateTime(TypeDecorator[dt.datetime]):
    """Timezone-aware UTC timestamps on both databases (SQLite drops the offset)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> Any:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(dt.UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=dt.UTC)
        return value.astimezone(dt.UTC)


CONNECT_TIMEOUT = 5  # seconds, PostgreSQL (Redis has the same in backend.cache)


def make_engine(url: str, **kwargs: Any) -> Engine:
    if url.startswith("sqlite"):
        engine = create_engine(url, **kwargs)

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
            cursor = dbapi_conn.cursor()
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA busy_timeout=5000")
            cursor.close()

        return engine
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
    # No pre-ping: it costs a round trip on every checkout. A connection the server dropped fails
    # its next statement (the request answers as any database error does) and SQLAlchemy then
    # invalidates the whole pool, so the next request reconnects; TCP keepalives notice a dead
    # peer on idle connections and pool_recycle retires connections before server-side timeouts.
    kwargs.setdefault("pool_recycle", 1800)
    connect_args = kwargs.setdefault("connect_args", {})
    connect_args.setdefault("keepalives", 1)
    connect_args.setdefault("keepalives_idle", 30)
    connect_args.setdefault("keepalives_interval", 10)
    connect_args.setdefault("keepalives_count", 3)
    if "connect_timeout" not in url:
        # An unreachable server (a host that drops packets) answers 503 after this, not a hang.
        connect_args.setdefault("connect_timeout", CONNECT_TIMEOUT)
    kwargs.setdefault("pool_size", 10)
    kwargs.setdefault("max_overflow", 10)
    return create_engine(url, **kwargs)


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(bind=engine, expire_on_commit=False)


# -- set-based statements (the 30 June run books thousands of rows a call) -----------------------


def one_of(session: Session, column: Any, values: Collection[Any]) -> ColumnElement[bool]:
    """``column IN (values)``; on PostgreSQL ``column = ANY(:array)``: one parameter, and one
    statement text whatever the number of values, so it is compiled and prepared once (an IN of
    250 values is rendered, sent and parsed as 250 placeholders on every call)."""
    if session.get_bind().dialect.name == "postgresql":
        return column == any_(literal(list(values), ARRAY(column.type)))  # type: ignore[no-any-return]
    return column.in_(values)  # type: ignore[no-any-return]


def _json_default(value: Any) -> str:
    if isinstance(value, Decimal):
        return str(value)
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def insert_many(
    session: Session,
    model: type[Base],
    rows: Sequence[Mapping[str, Any]],
    returning: Sequence[str] = (),
) -> list[Any]:
    """Insert ``rows`` (dicts with the same keys) into ``model``'s table in one statement, not
    committed, and answer the ``returning`` columns of each, as tuples (in no particular order:
    return a key with the id).

    PostgreSQL: ``INSERT … SELECT … FROM json_to_recordset(:rows) AS r(col type, …)`` (see
    :func:`_recordset`): the statement is the same for any number of rows (compiled and prepared
    once) and neither SQLAlchemy nor the driver handles a parameter per value (an executemany of
    250 rows, or an array a column, cost more client CPU than the booking they write). SQLite: an
    executemany (``INSERT … RETURNING`` in batches). A column left out gets its Python default,
    computed once for the statement, as an executemany would compute it per row."""
    if not rows:
        return []
    table = _table(model)
    names = list(rows[0])
    defaults: dict[str, Any] = {}
    for column in table.columns:
        default = column.default
        if column.name in names or default is None or column.primary_key:
            continue
        if getattr(default, "is_scalar", False):
            defaults[column.name] = default.arg  # type: ignore[attr-defined]
        elif getattr(default, "is_callable", False):
            defaults[column.name] = default.arg(None)  # type: ignore[attr-defined]
        else:  # a SQL expression or a sequence: let the database or an executemany do it
            raise ValueError(f"insert_many cannot default {table.name}.{column.name}")
    back = [table.c[name] for name in returning]
    dialect = session.get_bind().dialect
    if dialect.name != "postgresql":
        values = [{**defaults, **row} for row in rows]
        if not back:
            session.execute(insert(table), values)
            return []
        return [tuple(row) for row in session.execute(insert(table).returning(*back), values)]
    columns = [*names, *defaults]
    source = _recordset(table, columns, [{**defaults, **row} for row in rows], dialect)
    statement = insert(table).from_select(
        columns, select(*[source.c[name] for name in columns]), include_defaults=False
    )
    if back:
        return [tuple(row) for row in session.execute(statement.returning(*back))]
    session.execute(statement)
    return []


def update_many(
    session: Session, model: type[Base], rows: Sequence[Mapping[str, Any]], key: str = "id"
) -> None:
    """Update each row of ``model``'s table (dicts with the same keys, ``key`` among them) where ``key`` matches, in
    one statement (PostgreSQL: ``UPDATE … FROM json_to_recordset(…)``, see :func:`insert_many`)
    or an executemany (SQLite); ``onupdate`` columns are set as an UPDATE sets them."""
    if not rows:
        return
    table = _table(model)
    names = [name for name in rows[0] if name != key]
    dialect = session.get_bind().dialect
    if dialect.name != "postgresql":
        statement = (
            update(table)
            .where(table.c[key] == bindparam("_key"))
            .values({name: bindparam(f"_set_{name}") for name in names})
        )
        session.execute(
            statement,
            [{"_key": row[key], **{f"_set_{name}": row[name] for name in names}} for row in rows],
        )
        return
    source = _recordset(table, [key, *names], rows, dialect)
    session.execute(
        update(table)
        .where(table.c[key] == source.c[key])
        .values({name: source.c[name] for name in names})
    )


def _table(model: type[Base]) -> Table:
    table = model.__table__
    assert isinstance(table, Table)
    return table


def _recordset(
    table: Table, columns: Sequence[str], rows: Sequence[Mapping[str, Any]], dialect: Dialect
) -> Any:
    """``json_to_recordset(:rows) AS r(col type, …)`` of ``rows``: one JSON parameter written by
    orjson, each value first bound as its column binds it (``Money`` quantised and bounded,
    ``UtcDateTime`` in UTC), read back by PostgreSQL as its column's type (a money amount
    travels as its decimal string, never a float)."""
    binds = {
        name: processor
        for name in columns
        if isinstance(table.c[name].type, TypeDecorator)
        and (processor := table.c[name].type.bind_processor(dialect)) is not None
    }
    records: list[Mapping[str, Any]] = rows  # type: ignore[assignment]
    if binds:
        records = []
        for row in rows:
            record = {name: row[name] for name in columns}
            for name, processor in binds.items():
                record[name] = processor(record[name])
            records.append(record)
    payload = orjson.dumps(records, default=_json_default).decode()
    return (
        func.json_to_recordset(cast(literal(payload, Text), JSON))
        .table_valued(*[sql_column(name, table.c[name].type) for name in columns])
        .render_derived(with_types=True)
    )
