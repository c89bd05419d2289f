"""Redis or the database down (issue 11): every request answers 503 in the envelope with
``Retry-After``, one log line tells the outage and one its end (not a traceback per request),
``/readyz`` names the dependency that is down, and the app recovers without a restart.

Redis: a real ``redis-server`` on a loopback port of this test, stopped and started again, and a
port where nothing listens. Database: PostgreSQL on a closed port, an SQLite file that cannot be
opened. Waiting for a server is a bounded poll on its readiness; no elapsed time is asserted."""

from __future__ import annotations

import logging
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis as redis_lib

from backend.app import create_app
from backend.bootstrap import bootstrap
from backend.cache import make_redis
from backend.db import make_engine
from backend.identity.tokens import TokenStore

REDIS_PORT = 18301
CLOSED_REDIS_PORT = 18302
CLOSED_PG_PORT = 18303
POLLS = 400
POLL_PAUSE = 0.05


def _until(predicate) -> None:
    """Bounded poll: ``predicate`` must come true within ``POLLS`` tries."""
    for _ in range(POLLS):
        if predicate():
            return
        time.sleep(POLL_PAUSE)
    raise AssertionError("condition never came true")


class RedisServer:
    def __init__(self, port: int, directory: Path) -> None:
        self.port = port
        self.directory = directory
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        binary = shutil.which("redis-server")
        assert binary is not None
        self.process = subprocess.Popen(  # noqa: S603 - the machine's redis-server, our arguments
            [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", str(self.directory)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )  # fmt: skip
        probe = redis_lib.Redis(port=self.port, socket_connect_timeout=1)

        def answers() -> bool:
            try:
                return bool(probe.ping())
            except redis_lib.ConnectionError:
                return False

        _until(answers)
        probe.close()

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=30)
            self.process = None


@pytest.fixture
def redis_server(tmp_path) -> Iterator[RedisServer]:
    if shutil.which("redis-server") is None:
        pytest.skip("needs the redis-server binary")
    server = RedisServer(REDIS_PORT, tmp_path)
    server.start()
    yield server
    server.stop()


def _outage_records(caplog, state: str, dependency: str) -> list[logging.LogRecord]:
    return [
        r
        for r in caplog.records
        if r.name == "backend.outages"
        and getattr(r, "state", None) == state
        and getattr(r, "dependency", None) == dependency
    ]


def _assert_unavailable(answer) -> None:
    assert answer.status_code == 503
    assert int(answer.headers["Retry-After"]) > 0
    body = answer.get_json()
    assert body["code"] == 503 and body["error_code"] == "service.unavailable"
    assert "服务暂不可用" in body["message"]


def _no_traceback_logged(caplog) -> None:
    assert not [r for r in caplog.records if r.exc_info], "a traceback was logged"


def _with_redis(make_runtime, url: str):
    return create_app(runtime=make_runtime(redis_client=make_redis(url))).test_client()


def test_redis_outage_answers_503_and_logs_each_state_change_once_when_redis_stops(
    make_runtime, runtime, redis_server, caplog
):
    client = _with_redis(make_runtime, f"redis://127.0.0.1:{REDIS_PORT}/0")
    caplog.set_level(logging.INFO)
    assert client.post("/api/v1/captchas").status_code == 201

    redis_server.stop()
    for _ in range(5):
        _assert_unavailable(client.post("/api/v1/captchas"))
    ready = client.get("/readyz")
    assert ready.status_code == 503 and ready.headers["Retry-After"]
    assert ready.get_json()["checks"] == {"database": "ok", "redis": "down"}
    assert len(_outage_records(caplog, "down", "redis")) == 1
    _no_traceback_logged(caplog)

    redis_server.start()
    _until(lambda: client.get("/readyz").status_code == 200)
    assert client.post("/api/v1/captchas").status_code == 201
    assert len(_outage_records(caplog, "up", "redis")) == 1
    assert len(_outage_records(caplog, "down", "redis")) == 1


def test_redis_outage_answers_503_when_nothing_listens(make_runtime, runtime, caplog):
    client = _with_redis(make_runtime, f"redis://127.0.0.1:{CLOSED_REDIS_PORT}/0")
    caplog.set_level(logging.INFO)
    for _ in range(3):
        _assert_unavailable(client.post("/api/v1/captchas"))
    assert client.get("/readyz").get_json()["checks"]["redis"] == "down"
    assert client.get("/healthz").status_code == 200  # liveness: the process itself is fine
    assert len(_outage_records(caplog, "down", "redis")) == 1
    _no_traceback_logged(caplog)


def _with_database(runtime, url: str):
    engine = make_engine(url)
    rt = bootstrap(
        runtime.settings, engine=engine, redis_client=runtime.redis, dispatcher=runtime.dispatcher
    )
    store = TokenStore(rt.redis, rt.keys, 600, 600)
    headers = {"Authorization": f"Bearer {store.issue(1).access_token}"}
    return create_app(runtime=rt).test_client(), headers, engine


@pytest.mark.parametrize("database", ["postgresql", "sqlite"])
def test_database_outage_answers_503_and_logs_once_when_database_unreachable(
    runtime, tmp_path, caplog, database
):
    missing = tmp_path / "not-yet"
    url = {
        "postgresql": f"postgresql://postgres@127.0.0.1:{CLOSED_PG_PORT}/gjj",
        "sqlite": f"sqlite:///{missing / 'gjj.sqlite3'}",
    }[database]
    client, headers, engine = _with_database(runtime, url)
    caplog.set_level(logging.INFO)
    for _ in range(4):
        _assert_unavailable(client.get("/api/v1/me", headers=headers))
    ready = client.get("/readyz")
    assert ready.status_code == 503
    assert ready.get_json()["checks"] == {"database": "down", "redis": "ok"}
    assert len(_outage_records(caplog, "down", "database")) == 1
    _no_traceback_logged(caplog)

    if database == "sqlite":  # the file can be opened again: noticed without a restart
        missing.mkdir()
        assert client.get("/readyz").status_code == 200
        assert len(_outage_records(caplog, "up", "database")) == 1
    engine.dispose()


def test_deadlock_is_not_an_outage_when_classified():
    import psycopg.errors
    import sqlalchemy.exc

    from backend.outages import DATABASE, REDIS, dependency_of

    def wrapped(orig):
        return sqlalchemy.exc.OperationalError("SELECT 1", {}, orig)

    assert dependency_of(wrapped(psycopg.errors.DeadlockDetected("deadlock"))) is None
    assert dependency_of(wrapped(psycopg.errors.SerializationFailure("retry"))) is None
    assert dependency_of(wrapped(psycopg.OperationalError("connection refused"))) == DATABASE
    assert dependency_of(wrapped(psycopg.errors.AdminShutdown("shutting down"))) == DATABASE
    assert dependency_of(redis_lib.ConnectionError("refused")) == REDIS
    assert dependency_of(redis_lib.ResponseError("WRONGTYPE")) is None
    assert dependency_of(ValueError("bug")) is None


def test_postgresql_connections_time_out_when_the_server_does_not_answer(monkeypatch):
    import sqlalchemy

    from backend import db

    seen = {}
    monkeypatch.setattr(db, "create_engine", lambda url, **kw: seen.update(kw) or sqlalchemy)
    db.make_engine(f"postgresql://postgres@127.0.0.1:{CLOSED_PG_PORT}/gjj")
    assert seen["connect_args"]["connect_timeout"] == db.CONNECT_TIMEOUT
    seen.clear()
    db.make_engine(f"postgresql://postgres@127.0.0.1:{CLOSED_PG_PORT}/gjj?connect_timeout=2")
    assert "connect_timeout" not in seen["connect_args"]  # the URL's own value is kept
