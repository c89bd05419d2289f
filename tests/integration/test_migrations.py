"""The Alembic migrations build the schema from nothing and take it back down, on the configured
database (SQLite by default, PostgreSQL with GJJ_DATABASE_URL), and match the models.

They run in a scratch database (a temp SQLite file, or ``<configured name>_mig`` on PostgreSQL)
so the session-scoped test schema stays as it is."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, text
from sqlalchemy.engine import Engine, make_url

from backend import migrate
from backend.db import make_engine
from backend.models import Base


@pytest.fixture
def scratch_engine(database_url: str, tmp_path: Path) -> Iterator[Engine]:
    if not database_url.startswith("postgresql"):
        engine = make_engine(f"sqlite:///{tmp_path / 'migrations.sqlite3'}")
        yield engine
        engine.dispose()
        return
    url = make_url(database_url)
    name = f"{url.database}_mig"
    admin = make_engine(database_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    engine = make_engine(url.set(database=name).render_as_string(hide_password=False))
    try:
        yield engine
    finally:
        engine.dispose()
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def _revisions() -> list[str]:
    script = ScriptDirectory.from_config(migrate.alembic_config("sqlite://"))
    return [rev.revision for rev in reversed(list(script.walk_revisions()))]


def _tables(engine: Engine) -> set[str]:
    return set(inspect(engine).get_table_names()) - {"alembic_version"}


def test_migrations_build_and_remove_the_schema_when_run_from_zero(
    scratch_engine: Engine,
) -> None:
    revisions = _revisions()
    assert migrate.current_revision(scratch_engine) is None
    for revision in revisions:  # one step at a time: every revision upgrades on its own
        migrate.upgrade(scratch_engine, revision)
        assert migrate.current_revision(scratch_engine) == revision
    assert migrate.current_revision(scratch_engine) == migrate.head_revision()
    assert _tables(scratch_engine) == set(Base.metadata.tables)
    for previous in [*reversed(revisions[:-1]), "base"]:  # and every one downgrades
        migrate.downgrade(scratch_engine, previous)
        assert migrate.current_revision(scratch_engine) == (
            None if previous == "base" else previous
        )
    assert _tables(scratch_engine) == set()
    migrate.upgrade(scratch_engine)  # and back up again after a full round trip
    assert _tables(scratch_engine) == set(Base.metadata.tables)


def test_models_match_the_migrations_when_upgraded_to_head(scratch_engine: Engine) -> None:
    migrate.upgrade(scratch_engine)
    with scratch_engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        diffs = compare_metadata(context, Base.metadata)
    assert diffs == []
