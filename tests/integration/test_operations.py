"""Operating the production shape: metrics across worker processes, who may scrape them, the
separate beat, retention, and the request id in the worker's log lines."""

from __future__ import annotations

import io
import json
import logging
import os
import subprocess
import sys
import textwrap
from unittest import mock

from click.testing import CliRunner
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import event, func, select

from backend.cli import Context, cli
from backend.idempotency.models import IdempotencyRecord
from backend.inbox.services import post_message
from backend.logs import JsonFormatter, request_id_var
from backend.ops.retention import prune
from backend.push.celery import CeleryDispatcher
from backend.push.models import PushDelivery
from backend.worker import (
    ANNOUNCEMENTS_TASK,
    PRUNE_TASK,
    REMINDERS_TASK,
    SWEEP_TASK,
    make_celery,
)

# --- metrics with several gunicorn workers ----------------------------------------------------

_WORKER = textwrap.dedent(
    """
    import sys
    from backend.app import create_app
    from backend.settings import Settings

    settings = Settings(env="test", database_url="sqlite:///" + sys.argv[1])
    client = create_app(settings).test_client()
    for _ in range(int(sys.argv[2])):
        assert client.get("/healthz").status_code == 200
    if sys.argv[3] == "scrape":
        sys.stdout.write(client.get("/metrics").data.decode())
    """
)


def _run_worker(env, db, requests, then=""):
    done = subprocess.run(
        [sys.executable, "-c", _WORKER, str(db), str(requests), then or "-"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_metrics_sum_every_worker_process_when_multiprocess_dir_set(tmp_path):
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(tmp_path / "prom")}
    env.pop("GJJ_DATABASE_URL", None)
    env.pop("GJJ_REDIS_URL", None)
    (tmp_path / "prom").mkdir()
    db = tmp_path / "x.sqlite3"
    _run_worker(env, db, 3)  # one gunicorn worker …
    _run_worker(env, db, 4)  # … another …
    body = _run_worker(env, db, 0, "scrape")  # … and a third answers the scrape
    counted = [
        sample.value
        for family in text_string_to_metric_families(body)
        for sample in family.samples
        if sample.name == "gjj_http_requests_total" and sample.labels["endpoint"] == "/healthz"
    ]
    assert sum(counted) == 7


def test_gunicorn_master_empties_metrics_dir_when_starting(tmp_path, monkeypatch):
    from backend import gunicorn_conf

    monkeypatch.setenv("GJJ_INSTANCE_DIR", str(tmp_path))
    # Recorded, so the variable the master sets is removed again after the test.
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", "")
    stale = tmp_path / "prometheus" / "counter_4242.db"
    stale.parent.mkdir()
    stale.write_bytes(b"left by the previous run")
    gunicorn_conf.on_starting(None)
    assert os.environ["PROMETHEUS_MULTIPROC_DIR"] == str(tmp_path / "prometheus")
    assert list((tmp_path / "prometheus").iterdir()) == []


def test_metrics_not_served_when_client_outside_ops_networks(runtime, app):
    client = app.test_client()
    public = client.get("/metrics", environ_base={"REMOTE_ADDR": "203.0.113.7"})
    assert public.status_code == 404
    assert public.get_json()["error_code"] == "resource.not_found"
    assert client.get("/metrics", environ_base={"REMOTE_ADDR": "127.0.0.1"}).status_code == 200


def test_metrics_not_served_when_forwarded_for_is_forged_behind_one_proxy(make_runtime, runtime):
    from backend.app import create_app

    runtime = make_runtime(settings=runtime.settings.with_(trusted_proxies=1))
    client = create_app(runtime=runtime).test_client()
    # The proxy appends the real client; the client's own claim comes before it and is ignored.
    forged = {"X-Forwarded-For": "127.0.0.1, 203.0.113.7"}
    assert client.get("/metrics", headers=forged).status_code == 404


def test_push_scrape_reads_only_pending_rows_when_table_is_large(runtime, app, make):
    member = make.member()
    for _ in range(3):
        make.message(member)
    statements: list[str] = []

    def remember(_conn, _cursor, statement, *_args):
        statements.append(statement)

    event.listen(runtime.engine, "before_cursor_execute", remember)
    try:
        body = app.test_client().get("/metrics").data.decode()
    finally:
        event.remove(runtime.engine, "before_cursor_execute", remember)
    touching = [s for s in statements if "push_deliveries" in s]
    assert touching, "the backlog is read at scrape time"
    assert all("push_deliveries.status =" in s for s in touching), touching
    assert "gjj_push_oldest_pending_seconds" in body


# --- beat is its own process -----------------------------------------------------------------


def _cli_env(tmp_path):
    return {
        "GJJ_DATABASE_URL": f"sqlite:///{tmp_path / 'cli.sqlite3'}",
        "GJJ_BROKER_URL": "memory://",
        "GJJ_PUSH_MODE": "celery",
        "GJJ_INSTANCE_DIR": str(tmp_path / "instance"),
        "GJJ_REDIS_URL": "",
    }


def test_worker_runs_without_beat_when_started(tmp_path):
    with mock.patch("celery.Celery.worker_main") as worker_main:
        result = CliRunner(env=_cli_env(tmp_path)).invoke(cli, ["worker"], obj=Context())
    assert result.exit_code == 0, result.output
    argv = worker_main.call_args.kwargs["argv"]
    assert argv[0] == "worker"
    assert not any(arg.startswith(("--beat", "-B")) for arg in argv)


def test_workers_on_one_host_run_under_names_of_their_own(tmp_path):
    """Two workers named alike on one host share a control queue, and the second dies on it
    (RabbitMQ: RESOURCE_LOCKED on ``celery@host.celery.pidbox``)."""
    with mock.patch("celery.Celery.worker_main") as worker_main:
        result = CliRunner(env=_cli_env(tmp_path)).invoke(
            cli, ["worker", "--name", "push2@%h"], obj=Context()
        )
    assert result.exit_code == 0, result.output
    argv = worker_main.call_args.kwargs["argv"]
    assert argv[argv.index("--hostname") + 1] == "push2@%h"


def test_beat_runs_sweeper_prune_fanout_and_reminder_schedule_when_started(tmp_path):
    with mock.patch("celery.Celery.start") as start:
        result = CliRunner(env=_cli_env(tmp_path)).invoke(cli, ["beat"], obj=Context())
    assert result.exit_code == 0, result.output
    assert start.call_args.kwargs["argv"][0] == "beat"
    from backend.settings import Settings

    settings = Settings.from_env(_cli_env(tmp_path))
    conf = make_celery(settings).conf
    tasks = {entry["task"] for entry in conf.beat_schedule.values()}
    assert tasks == {SWEEP_TASK, PRUNE_TASK, ANNOUNCEMENTS_TASK, REMINDERS_TASK}
    assert conf.beat_schedule_filename.startswith(str(tmp_path / "instance"))


# --- retention -------------------------------------------------------------------------------


def _delivery(session, member, status, at):
    message, _ = post_message(session, member_id=member.id, business_name="缴存到账", content="x")
    session.flush()
    session.query(PushDelivery).filter(PushDelivery.message_id == message.id).delete()
    delivery = PushDelivery(
        message_id=message.id,
        member_id=member.id,
        channel="wechat",
        status=status,
        created_at=at,
        updated_at=at,
    )
    session.add(delivery)
    session.commit()
    return delivery.id


def _record(session, member, key, at):
    session.add(
        IdempotencyRecord(
            member_id=member.id,
            scope="withdrawals",
            key=key,
            request_hash="0" * 64,
            status_code=201,
            response={},
            created_at=at,
        )
    )
    session.commit()


def test_prune_deletes_finished_rows_when_older_than_retention(runtime, session, make, clock):
    member = make.member()
    gone = {
        _delivery(session, member, status, clock.now) for status in ("sent", "rejected", "failed")
    }
    kept = {
        _delivery(session, member, "pending", clock.now),  # never finished: never pruned
        _delivery(session, member, "sending", clock.now),
    }
    _record(session, member, "old", clock.now)
    clock.advance(days=2)
    kept.add(_delivery(session, member, "sent", clock.now))
    _record(session, member, "recent", clock.now)
    clock.advance(days=29)  # the first rows are 31 days old, the later ones 29

    result = prune(runtime, 30, batch=2)

    assert (result.deliveries, result.idempotency_records) == (3, 1)
    session.expire_all()
    left = set(session.scalars(select(PushDelivery.id)))
    assert kept <= left and not gone & left
    assert list(session.scalars(select(IdempotencyRecord.key))) == ["recent"]


def test_prune_command_deletes_rows_when_older_than_days_given(
    runtime, session, make, clock, database_url
):
    member = make.member()
    _delivery(session, member, "sent", clock.now)
    clock.advance(days=8)
    env = {"GJJ_DATABASE_URL": database_url, "GJJ_REDIS_URL": runtime.settings.redis_url}
    result = CliRunner(env=env).invoke(cli, ["prune", "--older-than-days", "7"], obj=Context())
    assert result.exit_code == 0, result.output
    assert "pruned 1 deliveries and 0 idempotency records older than 7 days" in result.output
    session.expire_all()
    assert session.scalar(select(func.count()).select_from(PushDelivery)) == 0


# --- request id in the worker ----------------------------------------------------------------


class _Sent:
    def __init__(self) -> None:
        self.calls: list[dict] = []

    def send_task(self, name, args=None, kwargs=None, countdown=None):
        self.calls.append({"name": name, "args": args, "kwargs": kwargs})


def test_celery_dispatch_carries_request_id_when_queued_in_a_request():
    celery_app = _Sent()
    token = request_id_var.set("req-42")
    try:
        CeleryDispatcher(celery_app).dispatch(7)
    finally:
        request_id_var.reset(token)
    assert celery_app.calls == [
        {"name": "gjj.push.deliver", "args": [7], "kwargs": {"request_id": "req-42"}}
    ]


def test_task_log_lines_carry_request_id_when_queued_with_one(make_runtime, runtime):
    runtime = make_runtime(
        settings=runtime.settings.with_(push_mode="celery", broker_url="memory://")
    )
    celery_app = make_celery(runtime.settings, runtime)
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    try:
        celery_app.tasks[PRUNE_TASK].apply(kwargs={"request_id": "req-77"})
    finally:
        root.removeHandler(handler)
        root.setLevel(level)
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    pruned = [line for line in lines if line["msg"] == "pruned"]
    assert len(pruned) == 1
    assert pruned[0]["request_id"] == "req-77"
    assert request_id_var.get() is None  # not leaked past the task


# --- the container healthcheck ----------------------------------------------------------------


def test_healthz_probe_answers_none_when_api_lives_and_reason_when_not():
    from adapters.fakes.server import LoopbackServer, json_response
    from backend.healthz import check
    from backend.settings import Settings

    server = LoopbackServer()
    server.route("GET", "/healthz", lambda request: json_response({"status": "ok"}))
    with server:
        port = int(server.url.rsplit(":", 1)[1])
        assert check(Settings(host="0.0.0.0", port=port)) is None  # noqa: S104 - probed on loopback
    problem = check(Settings(host="127.0.0.1", port=port))
    assert problem is not None and problem.startswith(f"http://127.0.0.1:{port}/healthz")
