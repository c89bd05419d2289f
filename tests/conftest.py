"""Shared fixtures: a real database (SQLite by default, PostgreSQL with GJJ_DATABASE_URL) and Redis
(fakeredis by default, a real one with GJJ_REDIS_URL), an app over them, and a logged-in client."""

from __future__ import annotations

import base64
import os
import secrets
import uuid
from collections.abc import Iterator
from typing import Any

import fakeredis
import pytest
import redis as redis_lib
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from adapters.alipay import AlipayClient, AlipayConfig, keys
from adapters.fakes import FakeAlipayGateway, FakeWeChatApi
from adapters.wechat import WeChatConfig, WeChatMiniClient
from backend import migrate
from backend.app import create_app
from backend.bootstrap import bootstrap
from backend.channels.clients import ChannelClients
from backend.db import Base, make_engine
from backend.identity.tokens import TokenStore
from backend.push.dispatch import SyncDispatcher
from backend.push.templates import DEFAULT_TEMPLATES
from backend.runtime import Runtime
from backend.settings import Settings
from tests import factories
from tests.channels import ALIPAY_APP_ID, WECHAT_SECRET

PG_URL = os.environ.get("GJJ_DATABASE_URL", "")
REDIS_URL = os.environ.get("GJJ_REDIS_URL", "")


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    if PG_URL:
        return PG_URL
    return f"sqlite:///{tmp_path_factory.mktemp('db') / 'test.sqlite3'}"


@pytest.fixture(scope="session")
def engine(database_url: str) -> Iterator[Engine]:
    eng = make_engine(database_url)
    # The schema the tests run on is the one the migrations build, on both databases.
    with eng.begin() as conn:
        Base.metadata.drop_all(conn)
        conn.execute(text("DROP TABLE IF EXISTS alembic_version"))
    migrate.upgrade(eng)
    yield eng
    eng.dispose()


def _wipe(eng: Engine) -> None:
    tables = [t.name for t in reversed(Base.metadata.sorted_tables)]
    with eng.begin() as conn:
        if eng.dialect.name == "postgresql":
            conn.execute(text(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE"))
        else:
            for name in tables:
                conn.execute(text(f"DELETE FROM {name}"))


class RecordingDispatcher:
    """Push dispatcher that only records which deliveries were handed over after commit."""

    def __init__(self) -> None:
        self.dispatched: list[tuple[int, float]] = []

    def dispatch(self, delivery_id: int, countdown: float = 0) -> None:
        self.dispatched.append((delivery_id, countdown))

    def dispatch_many(self, delivery_ids: list[int]) -> None:
        self.dispatched.extend((delivery_id, 0) for delivery_id in delivery_ids)


@pytest.fixture
def redis_client() -> Iterator[redis_lib.Redis]:
    if REDIS_URL:
        client = redis_lib.Redis.from_url(REDIS_URL, decode_responses=True)
        yield client
        client.close()
    else:
        yield fakeredis.FakeRedis(server=fakeredis.FakeServer(), decode_responses=True)


@pytest.fixture
def redis_prefix(redis_client: redis_lib.Redis) -> Iterator[str]:
    prefix = f"gjjtest:{uuid.uuid4().hex[:8]}:"
    yield prefix
    keys = list(redis_client.scan_iter(match=prefix + "*", count=1000))
    if keys:
        redis_client.delete(*keys)


@pytest.fixture
def postgres_only(engine: Engine) -> None:
    """Skips a test that needs row locks: SQLite has no SELECT … FOR UPDATE."""
    if engine.dialect.name != "postgresql":
        pytest.skip(
            "needs PostgreSQL (GJJ_DATABASE_URL): SQLite has no SELECT … FOR UPDATE and "
            "serialises writers on the whole file"
        )


@pytest.fixture
def settings(database_url: str, redis_prefix: str, tmp_path: Any) -> Settings:
    return Settings(
        env="test",
        database_url=database_url,
        redis_url=REDIS_URL,
        redis_prefix=redis_prefix,
        argon2_time_cost=1,
        argon2_memory_cost=8,
        sms_backend="file",
        sms_outbox=str(tmp_path / "sms-outbox.jsonl"),
        internal_keys={"core": "core-test-secret"},
        log_json=True,
    )


@pytest.fixture
def make_runtime(engine: Engine, settings: Settings, redis_client: redis_lib.Redis) -> Any:
    """``make_runtime(**overrides)`` → a runtime bootstrapped over the test database and Redis,
    with the typed overrides of :func:`backend.bootstrap.bootstrap` (``dispatcher=``,
    ``make_dispatcher=``, ``channels=``, ``sms_sender=``, ``password_hasher=`` …).

    Deliveries stay pending unless a test asks for delivery (push tests pass their own
    dispatcher): a background pool racing the assertions would make tests flaky."""

    def _make(**overrides: Any) -> Runtime:
        overrides.setdefault("redis_client", redis_client)
        if "make_dispatcher" not in overrides:
            overrides.setdefault("dispatcher", RecordingDispatcher())
        return bootstrap(overrides.pop("settings", settings), engine=engine, **overrides)

    return _make


@pytest.fixture
def runtime_overrides(request: pytest.FixtureRequest) -> dict[str, Any]:
    """What the test's ``runtime`` is bootstrapped with. A test that asks for ``push`` or ``api``
    (below) gets the channel clients pointed at the loopback fakes and a :class:`SyncDispatcher`;
    a module may override this fixture."""
    if not {"push", "api"} & set(request.fixturenames):
        return {}
    return {"channels": request.getfixturevalue("channels"), "make_dispatcher": SyncDispatcher}


@pytest.fixture
def runtime(engine: Engine, make_runtime: Any, runtime_overrides: dict[str, Any]) -> Runtime:
    _wipe(engine)
    rt: Runtime = make_runtime(**runtime_overrides)
    return rt


@pytest.fixture
def app(runtime: Runtime) -> Any:
    return create_app(runtime=runtime)


@pytest.fixture
def client(app: Any) -> Any:
    return app.test_client()


@pytest.fixture
def session(runtime: Runtime) -> Iterator[Session]:
    with runtime.session() as s:
        yield s


@pytest.fixture
def make(session: Session, runtime: Runtime) -> factories.Factory:
    """Builders of members, accounts, loans … committed to the test database."""
    return factories.Factory(session, runtime)


@pytest.fixture
def loan(make: factories.Factory) -> Any:
    """``loan(member, paid=k, …)`` → a disbursed contract with its first k periods repaid as the
    engine schedules (:meth:`tests.factories.Factory.scheduled_loan`)."""
    return make.scheduled_loan


@pytest.fixture
def login(runtime: Runtime) -> Any:
    """``login(member)`` → Authorization headers of a fresh session for that member."""
    store = TokenStore(
        runtime.redis,
        runtime.keys,
        runtime.settings.access_token_ttl,
        runtime.settings.refresh_token_ttl,
    )

    def _login(member: Any) -> dict[str, str]:
        pair = store.issue(member.id)
        return {"Authorization": f"Bearer {pair.access_token}"}

    return _login


@pytest.fixture
def scrape() -> Any:
    """``scrape(client)`` → every sample of ``GET /metrics`` as {(name, sorted labels): value}."""

    def _scrape(client: Any) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
        body = client.get("/metrics").data.decode()
        return {
            (sample.name, tuple(sorted(sample.labels.items()))): sample.value
            for family in text_string_to_metric_families(body)
            for sample in family.samples
        }

    return _scrape


class FrozenClock:
    """A controllable clock: ``clock.set(datetime)``, ``clock.advance(seconds=…)``."""

    def __init__(self, start: Any) -> None:
        self.now = start

    def __call__(self) -> Any:
        return self.now

    def set(self, value: Any) -> None:
        self.now = value

    def advance(self, **delta: float) -> None:
        import datetime as dt

        self.now = self.now + dt.timedelta(**delta)


@pytest.fixture
def clock() -> Iterator[FrozenClock]:
    """Freezes ``backend.clock`` (every ``utcnow``/``today`` user) at 2026-11-26 10:00 +08:00."""
    import datetime as dt
    from unittest import mock

    frozen = FrozenClock(dt.datetime(2026, 11, 26, 2, 0, tzinfo=dt.UTC))
    with mock.patch("backend.clock._now", frozen):
        yield frozen


# --- the channel fakes (Alipay gateway, WeChat API) and the app wired to them -------------------


@pytest.fixture(scope="session")
def alipay_keys() -> dict[str, str]:
    return {
        "app": keys.generate_private_key_pem(2048),
        "gateway": keys.generate_private_key_pem(2048),
        "aes": base64.b64encode(secrets.token_bytes(16)).decode(),
    }


@pytest.fixture
def alipay_fake(alipay_keys: dict[str, str]) -> Iterator[FakeAlipayGateway]:
    fake = FakeAlipayGateway(gateway_private_key=alipay_keys["gateway"])
    fake.register_app(ALIPAY_APP_ID, keys.public_key_pem(alipay_keys["app"]), alipay_keys["aes"])
    with fake:
        yield fake


@pytest.fixture
def wechat_appid() -> str:
    # One appid per test: the access token is cached in Redis under the appid, and every test's
    # fake issues its own tokens.
    return "wxt" + uuid.uuid4().hex[:13]


@pytest.fixture
def wechat_fake(wechat_appid: str) -> Iterator[FakeWeChatApi]:
    fake = FakeWeChatApi()
    fake.register_app(wechat_appid, WECHAT_SECRET)
    for entry in DEFAULT_TEMPLATES["wechat"].values():
        fake.add_template(entry["template_id"], list(entry["keywords"]))
    with fake:
        yield fake


@pytest.fixture
def channels(
    redis_client: redis_lib.Redis,
    alipay_fake: FakeAlipayGateway,
    wechat_fake: FakeWeChatApi,
    alipay_keys: dict[str, str],
    wechat_appid: str,
) -> Iterator[ChannelClients]:
    alipay = AlipayClient(
        AlipayConfig(
            app_id=ALIPAY_APP_ID,
            app_private_key=alipay_keys["app"],
            alipay_public_key=keys.public_key_pem(alipay_keys["gateway"]),
            server_url=alipay_fake.gateway_url,
            aes_key=alipay_keys["aes"],
            timeout=2.0,
        )
    )
    wechat = WeChatMiniClient(
        WeChatConfig(
            appid=wechat_appid, secret=WECHAT_SECRET, base_url=wechat_fake.url, timeout=2.0
        ),
        redis_client,
    )
    yield ChannelClients(alipay=alipay, wechat=wechat)
    wechat.session.delete(wechat.access_token_key)


@pytest.fixture
def push(runtime: Runtime) -> SyncDispatcher:
    """The runtime's dispatcher (asking for this fixture makes it a :class:`SyncDispatcher`, see
    ``runtime_overrides``): deliveries run in the committing thread; retries are recorded for the
    test to drive."""
    assert isinstance(runtime.dispatcher, SyncDispatcher)
    return runtime.dispatcher


@pytest.fixture
def api(runtime: Runtime, push: SyncDispatcher) -> Any:
    """A test client of an app wired to the fakes and the synchronous dispatcher."""
    return create_app(runtime=runtime).test_client()
