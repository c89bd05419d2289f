"""Database: engine, sessions, the declarative Base and the column types every model shares."""

from __future__ import annotations

import datetime as dt
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from sqlalchemy import BigInteger, DateTime, MetaData, Numeric, create_engine, event
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
