"""The ``gjj`` command group: serve, migrate, and the operators' tools of each feature."""

from __future__ import annotations

import datetime as dt
import importlib
import logging
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import click

import backend.models  # noqa: F401  (entry point: every mapper registered before a session)
from backend import migrate
from backend.bootstrap import DispatcherFactory, bootstrap, command_dispatcher
from backend.integration.cli import internal as internal_cli
from backend.members.cli import members as members_cli
from backend.runtime import Runtime
from backend.settings import Settings, SettingsError

logger = logging.getLogger(__name__)


class Context:
    """Builds the settings and the runtime (:func:`backend.bootstrap.bootstrap`) once, for the
    command that needs them. Commands that push in this process (``push sweep``, fan-outs,
    reminders) ask for :meth:`delivering` first: with no worker in inline mode, they deliver the
    pushes themselves."""

    def __init__(self, settings: Settings | None = None, runtime: Runtime | None = None) -> None:
        self._settings = settings or (runtime.settings if runtime else None)
        self._runtime = runtime
        self._make_dispatcher: DispatcherFactory | None = None

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            try:
                self._settings = Settings.from_env()
            except SettingsError as exc:
                raise click.ClickException(str(exc)) from exc
        return self._settings

    def use_settings(self, settings: Settings) -> Settings:
        """Replace the settings before anything is built from them (the demo adds its caller)."""
        if self._runtime is not None:
            raise RuntimeError("settings replaced after the runtime was built")
        self._settings = settings
        return settings

    @property
    def runtime(self) -> Runtime:
        if self._runtime is None:
            self._runtime = bootstrap(self.settings, make_dispatcher=self._make_dispatcher)
        return self._runtime

    def delivering(self) -> Runtime:
        """The runtime of a command that pushes (see the class doc)."""
        if self._runtime is None:
            self._make_dispatcher = command_dispatcher
        return self.runtime


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
    serve_api(c, host, port, workers)


def bind_address(settings: Settings, host: str | None, port: int | None) -> str:
    return f"{host or settings.host}:{port or settings.port}"


def serve_api(c: Context, host: str | None, port: int | None, workers: int | None) -> None:
    """Run gunicorn in the foreground (``serve`` and ``demo``)."""
    settings = c.settings
    # The embedded defaults (fakeredis, in-process pushes) live in one process: one worker,
    # many threads. A real Redis lets several workers share sessions and captchas.
    if workers is None:
        workers = 1 if not settings.redis_url else 2
    elif workers > 1 and not settings.redis_url:
        raise click.ClickException("several workers need a shared Redis: set GJJ_REDIS_URL")
    bind = bind_address(settings, host, port)
    if workers > 1:
        # Before the app (and prometheus_client) is imported: one set of metrics for all workers.
        from backend import gunicorn_conf

        gunicorn_conf.prepare_metrics_dir(gunicorn_conf.metrics_dir(settings))
        child_exit = gunicorn_conf.child_exit
    else:
        child_exit = None
    from backend.app import create_app

    rt = c.runtime
    run_gunicorn(create_app(runtime=rt), rt, bind, workers, child_exit=child_exit)


def run_gunicorn(
    app: object, rt: Runtime, bind: str, workers: int, *, child_exit: Any = None
) -> None:
    """gunicorn with the settings every deployment (and the API benchmark) runs under."""
    from gunicorn.app.base import BaseApplication

    from backend import serving

    def _post_worker_init(_worker: object) -> None:
        # Threads don't survive gunicorn's fork: start the embedded sweeper and the poller in
        # the worker.
        if rt.settings.push_mode == "inline":
            from backend.push.dispatch import InlineDispatcher, start_inline_sweeper

            start_inline_sweeper(rt, rt.dispatcher)
            if isinstance(rt.dispatcher, InlineDispatcher):
                rt.dispatcher.poll(rt.settings.push_poll_interval)

    class _Server(BaseApplication):  # type: ignore[misc]
        def load_config(self) -> None:
            self.cfg.set("bind", bind)
            self.cfg.set("workers", workers)
            for name, value in serving.SETTINGS.items():  # JSON envelopes from gunicorn too
                self.cfg.set(name, value)
            self.cfg.set("post_worker_init", _post_worker_init)
            if child_exit is not None:
                self.cfg.set("child_exit", child_exit)

        def load(self) -> object:
            return app

    _Server().run()


def dev_tools(module: str) -> ModuleType:
    """A module of the source checkout's ``devtools`` package (the seed, the demo). The production
    wheel leaves it out and production code never imports it: it is looked up by name here."""
    try:
        return importlib.import_module(f"devtools.{module}")
    except ModuleNotFoundError as exc:
        if (exc.name or "").split(".")[0] != "devtools":
            raise
        raise click.ClickException(
            "gjj seed and gjj demo need the development tools, which a production install "
            "leaves out: in a source checkout run `make install` "
            "(pip install -e '.[dev]')"
        ) from exc


@cli.command()
@click.option("--members", type=click.IntRange(min=1), default=200, show_default=True)
@click.option("--seed", "seed_value", type=int, default=42, show_default=True, help="Random seed")
@click.option(
    "--csv",
    "csv_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Where to write the demo logins (default demo-members.csv in GJJ_INSTANCE_DIR)",
)
@click.option(
    "--as-of",
    type=click.DateTime(["%Y-%m-%d"]),
    default=None,
    help="Data up to this date (default today)",
)
@click.option("--if-empty", is_flag=True, help="Do nothing when the database already has members")
@click.option(
    "--workers",
    type=click.IntRange(min=1),
    default=None,
    help="Processes generating members (PostgreSQL; default one per CPU from 20,000 members)",
)
@pass_ctx
def seed(
    c: Context,
    members: int,
    seed_value: int,
    csv_path: Path | None,
    as_of: dt.datetime | None,
    if_empty: bool,
    workers: int | None,
) -> None:
    """Fill the database with a realistic demo centre (deterministic for a seed and a date); a
    new database gets the schema first."""
    runner = dev_tools("seed.runner")
    seed_centre, SeedRefused = runner.seed_centre, runner.SeedRefused
    csv_path = csv_path or c.settings.demo_csv_path
    migrate.upgrade(c.runtime.engine)
    try:
        result = seed_centre(
            c.runtime,
            members=members,
            seed=seed_value,
            as_of=as_of.date() if as_of else None,
            csv_path=csv_path,
            if_empty=if_empty,
            workers=workers,
        )
    except SeedRefused as exc:
        raise click.ClickException(f"{exc}; use --if-empty to skip, or an empty database") from exc
    if result.skipped:
        click.echo(f"skipped: the database already has {result.members} members")
        return
    rate = result.members / result.seconds if result.seconds else 0
    click.echo(
        f"seeded {result.members} members, {result.rows} rows in {result.seconds:.1f} s "
        f"({rate:.0f} members/s); logins in {csv_path}"
    )
    for member in result.demo_members[:8]:
        password = member.password or "(not registered)"
        click.echo(
            f"  {member.id_number}  {member.phone or '-':11}  {password:16}  {member.name}  {member.note}"
        )


@cli.command()
@click.option("--members", type=click.IntRange(min=1), default=200, show_default=True)
@click.option("--seed", "seed_value", type=int, default=42, show_default=True)
@click.option("--host", default=None, help="Bind address (default GJJ_HOST)")
@click.option("--port", type=int, default=None, help="Port (default GJJ_PORT)")
@pass_ctx
def demo(c: Context, members: int, seed_value: int, host: str | None, port: int | None) -> None:
    """Migrate, seed if empty, start the channel fakes and serve the API: the one-command demo."""
    demo_setup = dev_tools("demo")

    if c.settings.production:
        raise click.ClickException("the demo refuses GJJ_ENV=production")
    # The demo's certificate links follow the port it listens on (unless GJJ_PUBLIC_BASE_URL).
    listening = c.settings.with_(host=host or c.settings.host, port=port or c.settings.port)
    settings = c.use_settings(demo_setup.with_demo_internal_key(listening))
    seeded = demo_setup.prepare(
        c.runtime, members=members, seed=seed_value, csv_path=settings.demo_csv_path
    )
    rows = demo_setup.demo_members(settings.demo_csv_path)
    fakes = None
    fakes_error = None
    if settings.channels == "fake":
        try:
            fakes = demo_setup.spawn_channel_fakes(
                settings, rows, state_path=settings.fakes_state_path
            )
        except OSError as exc:  # a port in use: the fakes may already run (adapters.fakes serve)
            fakes_error = str(exc)
    url = "http://" + bind_address(settings, host, port)
    click.echo(
        demo_setup.banner(
            settings, url=url, members=rows, seeded=seeded, fakes=fakes, fakes_error=fakes_error
        )
    )
    try:
        serve_api(c, host, port, None)
    finally:
        if fakes is not None:
            fakes.stop()


@cli.command("openapi")
@click.argument("output", type=click.Path(dir_okay=False, path_type=Path))
@pass_ctx
def openapi(c: Context, output: Path) -> None:
    """Write the member API's OpenAPI document (paths under /api/v1) for the mini-program."""
    from backend.apidoc import member_api_spec, render
    from backend.app import create_app

    output.write_text(render(member_api_spec(create_app(runtime=c.runtime))), encoding="utf-8")
    click.echo(f"wrote {output}")


@cli.command()
@click.option("--concurrency", type=int, default=4, show_default=True, help="Worker threads")
@click.option("--loglevel", default="INFO", show_default=True)
@click.option(
    "--metrics-port",
    type=int,
    default=None,
    help="Serve this worker's Prometheus metrics on GJJ_HOST:PORT (an ops listener)",
)
@click.option(
    "--name",
    default=None,
    help="The worker's node name (NAME@%h); each worker on one host needs a name of its own",
)
@pass_ctx
def worker(
    c: Context, concurrency: int, loglevel: str, metrics_port: int | None, name: str | None
) -> None:
    """Run the Celery push worker (GJJ_PUSH_MODE=celery); the schedule runs in `gjj beat`."""
    from backend.ops.metrics import serve_metrics
    from backend.push.metrics import PUSH_METRICS
    from backend.worker import make_celery

    try:
        app = make_celery(c.settings, c.runtime)
    except SettingsError as exc:
        raise click.ClickException(str(exc)) from exc
    if metrics_port is not None:
        serve_metrics(metrics_port, c.settings.host, PUSH_METRICS)
    # Threads, not prefork: pushes wait on the network, and a forked copy of the engine's
    # connection pool would be shared between processes.
    argv = ["worker", f"--concurrency={concurrency}", "--pool=threads", f"--loglevel={loglevel}"]
    if name:
        argv += ["--hostname", name]
    app.worker_main(argv=argv)


@cli.command()
@click.option("--timeout", type=float, default=3.0, show_default=True)
@pass_ctx
def healthz(c: Context, timeout: float) -> None:
    """Exit 0 when this host's API answers /healthz (liveness; the container's healthcheck)."""
    from backend.healthz import check

    problem = check(c.settings, timeout)
    if problem:
        raise click.ClickException(problem)


@cli.command("worker-ping")
@click.option("--timeout", type=float, default=5.0, show_default=True)
@pass_ctx
def worker_ping(c: Context, timeout: float) -> None:
    """Exit 0 when a push worker answers on the broker (the worker's healthcheck)."""
    from backend.worker import make_celery

    try:
        replies = make_celery(c.settings).control.ping(timeout=timeout)
    except Exception as exc:  # the broker itself is down: unhealthy, with the reason
        raise click.ClickException(f"broker unreachable: {type(exc).__name__}") from exc
    if not replies:
        raise click.ClickException("no worker answered")
    click.echo(f"{len(replies)} worker(s) answered")


@cli.command()
@click.option("--loglevel", default="INFO", show_default=True)
@pass_ctx
def beat(c: Context, loglevel: str) -> None:
    """Run the schedule (push sweeper, retention prune): exactly ONE per deployment."""
    from backend.worker import make_celery

    try:
        app = make_celery(c.settings)
    except SettingsError as exc:
        raise click.ClickException(str(exc)) from exc
    c.settings.instance_path.mkdir(parents=True, exist_ok=True)  # beat keeps its schedule there
    app.start(argv=["beat", f"--loglevel={loglevel}"])


@cli.command()
@click.option(
    "--older-than-days",
    type=click.IntRange(min=1),
    default=None,
    help="Keep this many days (default GJJ_RETENTION_DAYS)",
)
@pass_ctx
def prune(c: Context, older_than_days: int | None) -> None:
    """Delete finished push deliveries and idempotency records older than N days."""
    from backend.ops.retention import prune as prune_rows

    days = older_than_days or c.settings.retention_days
    result = prune_rows(c.runtime, days)
    click.echo(
        f"pruned {result.deliveries} deliveries and {result.idempotency_records} "
        f"idempotency records older than {days} days"
    )


@cli.group()
def push() -> None:
    """Push pipeline: stragglers and statistics."""


@push.command("sweep")
@click.option("--loop", is_flag=True, help="Keep sweeping every GJJ_PUSH_SWEEP_INTERVAL seconds")
@pass_ctx
def push_sweep(c: Context, loop: bool) -> None:
    """Write off deliveries lost mid-send and re-run pending ones nobody picked up."""
    import time

    from backend.push.dispatch import sweep_once

    rt = c.delivering()
    while True:
        result = sweep_once(
            rt, rt.dispatcher, stale_after=0 if not loop else c.settings.push_sweep_interval
        )
        click.echo(
            f"requeued {len(result.requeued)} (claims of a lost worker given back: "
            f"{result.given_back}), written off {result.lost}"
        )
        if not loop:
            return
        time.sleep(c.settings.push_sweep_interval)


@push.command("stats")
@pass_ctx
def push_stats(c: Context) -> None:
    """Deliveries per channel, status and error code."""
    from backend.push.stats import delivery_stats

    with c.runtime.session() as session:
        rows = delivery_stats(session)
    click.echo(f"{'channel':<8} {'status':<9} {'error_code':<32} {'count':>7}")
    for row in rows:
        click.echo(f"{row.channel:<8} {row.status:<9} {row.error_code or '-':<32} {row.count:>7}")
    if not rows:
        click.echo("no deliveries")


@cli.group()
def announcements() -> None:
    """Announcements (公告): the push fan-out."""


@announcements.command("fanout")
@pass_ctx
def announcements_fanout(c: Context) -> None:
    """Push every announcement whose publish time has come and whose fan-out is not finished
    (scheduled ones, interrupted ones), in batches of GJJ_ANNOUNCEMENT_FANOUT_BATCH members."""
    from backend.push.fanout import fanout_due

    rt = c.delivering()
    pushed = fanout_due(
        rt.session_factory, rt.push_templates, batch_size=c.settings.announcement_fanout_batch
    )
    click.echo(f"pushed {pushed} members")


@cli.group()
def appointments() -> None:
    """Appointments (网点预约): the day-before reminders."""


@appointments.command("remind")
@pass_ctx
def appointments_remind(c: Context) -> None:
    """Remind every member booked for tomorrow (a message and its pushes). Run daily, e.g. from
    cron or the worker host; running it again reminds nobody twice."""
    from backend.appointments.services import send_reminders
    from backend.clock import today

    rt = c.delivering()
    click.echo(f"reminded {send_reminders(rt.session_factory, today())} bookings")


cli.add_command(internal_cli)
cli.add_command(members_cli)


def main() -> None:
    try:
        cli(obj=Context())
    except SettingsError as exc:  # pragma: no cover - surfaced by click normally
        click.echo(f"configuration error: {exc}", err=True)
        sys.exit(2)


if __name__ == "__main__":
    main()
