"""The process's services, built once per entry point by :func:`backend.bootstrap.bootstrap` and
handed on typed (no module-level singletons, no Flask, nothing built lazily).

:class:`Core` is what most use cases read: settings, the database (a session factory for use cases
that write, one for reads), Redis, the PII vault and the event bus attached to both factories.
:class:`Runtime` adds the services that features own (SMS, tokens, passwords, channel clients, the
push pipeline, metrics): the container of cosmicpython's bootstrap, frozen once built. Tests build
theirs with typed overrides (``bootstrap(settings, dispatcher=..., channels=...)``).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING

from redis import Redis
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from backend.cache import Keys, make_redis
from backend.db import make_engine, make_session_factory
from backend.events import Event, EventBus
from backend.pii import PiiVault
from backend.settings import Settings

if TYPE_CHECKING:  # the container names what features own; it never imports their code
    from adapters.sms import SmsSender
    from backend.channels.clients import ChannelClients
    from backend.identity.passwords import Passwords
    from backend.identity.smscodes import SmsCodes
    from backend.identity.tokens import TokenStore
    from backend.loans.plans import PlanCache
    from backend.ops.metrics import Metrics
    from backend.outages import Dependencies
    from backend.push.delivery import Senders
    from backend.push.dispatch import Dispatcher
    from backend.push.stats import PushCollector
    from backend.push.templates import Templates

logger = logging.getLogger(__name__)


def _after_commit_failed(kind: type[Event], error: BaseException) -> None:
    # Committed already: the rows stay, the sweeper picks up what was not handed on.
    logger.error(
        "after-commit handler failed",
        extra={"event": kind.__name__, "error": type(error).__name__},
        exc_info=error,
    )


@dataclass(frozen=True)
class Core:
    settings: Settings
    engine: Engine
    session_factory: sessionmaker[Session]
    read_session_factory: sessionmaker[Session]
    redis: Redis
    keys: Keys
    pii: PiiVault
    bus: EventBus

    @classmethod
    def build(
        cls,
        settings: Settings,
        *,
        engine: Engine | None = None,
        redis_client: Redis | None = None,
    ) -> Core:
        """Engine, session factories (the bus attached to both), Redis, keys and the vault.
        The bus has no handler yet: the bootstrap subscribes the features' handlers."""
        if engine is None:
            url = settings.effective_database_url
            if url.startswith("sqlite:///") and not settings.database_url:
                settings.instance_path.mkdir(parents=True, exist_ok=True)
            engine = make_engine(url)
        bus = EventBus(on_error=_after_commit_failed)
        sessions = make_session_factory(engine)
        # Reads (member GETs): the driver runs in autocommit, so a request that only selects sends
        # no BEGIN and no ROLLBACK, just its selects. Each select sees committed data, as under
        # READ COMMITTED; a use case that writes takes :meth:`session`.
        reads = make_session_factory(engine.execution_options(isolation_level="AUTOCOMMIT"))
        bus.attach(sessions)
        bus.attach(reads)
        return cls(
            settings=settings,
            engine=engine,
            session_factory=sessions,
            read_session_factory=reads,
            redis=redis_client if redis_client is not None else make_redis(settings.redis_url),
            keys=Keys(settings.redis_prefix),
            pii=PiiVault(settings.effective_pii_key, settings.effective_lookup_key),
            bus=bus,
        )

    def session(self) -> Session:
        return self.session_factory()

    def read_session(self) -> Session:
        """A session for reads (see :meth:`build`)."""
        return self.read_session_factory()

    def close(self) -> None:
        self.engine.dispose()


@dataclass(frozen=True)
class Runtime(Core):
    """:class:`Core` and every service of the process, built by :func:`backend.bootstrap.bootstrap`."""

    sms_sender: SmsSender
    sms_codes: SmsCodes
    tokens: TokenStore
    passwords: Passwords
    channels: ChannelClients
    dependencies: Dependencies
    loan_plans: PlanCache
    push_templates: Templates
    push_senders: Senders
    dispatcher: Dispatcher
    metrics: Metrics
    push_collector: PushCollector
