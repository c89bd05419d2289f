"""The ``gjj`` command group: serve, migrate, and the operators' tools of each feature."""

from __future__ import annotations

import logging
import sys

import click

from backend import migrate
from backend.integration.cli import internal as internal_cli
from backend.runtime import Runtime
from backend.settings import Settings, SettingsError

logger = logging.getLogger(__name__)


class Context:
    """Builds the settings and the runtime lazily, once, for the command that needs them."""

    def __init__(self) -> None:
        self._settings: Settings | None = None
        self._runtime: Runtime | None = None

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            try:
                self._settings = Settings.from_env()
            except SettingsError as exc:
                raise click.ClickException(str(exc)) from exc
        return self._settings

    @property
    def runtime(self) -> Runtime:
        if self._runtime is None:
            self._runtime = Runtime.build(self.settings)
        return self._runtime


pass_ctx = click.make_pass_decorator(Context, ensure=True)


@click.group()
@click.pass_context
def cli(ctx: click.Context) -> None:
    """住房公积金个人网厅：运维命令。"""
    ctx.ensure_object(Context)


@cli.group()
def db() -> None:
    """Database schema (Alembic)."""


@db.command("upgrade")
@click.argument("revision", default="head")
@pass_ctx
def db_upgrade(c: Context, revision: str) -> None:
    """Migrate the database up to REVISION (default: head)."""
    migrate.upgrade(c.runtime.engine, revision)
    click.echo(f"database at {migrate.current_revision(c.runtime.engine)}")


@db.command("downgrade")
@click.argument("revision", default="base")
@pass_ctx
def db_downgrade(c: Context, revision: str) -> None:
    """Migrate the database down to REVISION (default: base, i.e. empty)."""
    migrate.downgrade(c.runtime.engine, revision)
    click.echo(f"database at {migrate.current_revision(c.runtime.engine)}")


@db.command("current")
@pass_ctx
def db_current(c: Context) -> None:
    """Print the current revision and the head revision."""
    click.echo(f"current: {migrate.current_revision(c.runtime.engine)}")
    click.echo(f"head:    {migrate.head_revision()}")


@cli.command()
@click.option("--host", default=None, help="Bind address (default GJJ_HOST)")
@click.option("--port", type=int, default=None, help="Port (default GJJ_PORT)")
@click.option("--workers", type=int, default=None, help="Gunicorn workers")
@pass_ctx
def serve(c: Context, host: str | None, port: int | None, workers: int | None) -> None:
    """Serve the API with gunicorn."""
    from gunicorn.app.base import BaseApplication

    from backend.app import create_app

    settings = c.settings
    # The embedded defaults (fakeredis, in-process pushes) live in one process: one worker,
    # many threads. A real Redis lets several workers share sessions and captchas.
    if workers is None:
        workers = 1 if not settings.redis_url else 2
    elif workers > 1 and not settings.redis_url:
        raise click.ClickException("several workers need a shared Redis: set GJJ_REDIS_URL")
    bind = f"{host or settings.host}:{port or settings.port}"
    app = create_app(runtime=c.runtime)

    class _Server(BaseApplication):  # type: ignore[misc]
        def load_config(self) -> None:
            self.cfg.set("bind", bind)
            self.cfg.set("workers", workers)
            self.cfg.set("worker_class", "gthread")
            self.cfg.set("threads", 8)
            self.cfg.set("timeout", 60)
            self.cfg.set("accesslog", None)

        def load(self) -> object:
            return app

    _Server().run()


cli.add_command(internal_cli)


def main() -> None:
    try:
        cli(obj=Context())
    except SettingsError as exc:  # pragma: no cover - surfaced by click normally
        click.echo(f"configuration error: {exc}", err=True)
        sys.exit(2)


if __name__ == "__main__":
    main()
