"""The runtime: everything a request, a CLI command or a worker job needs, built once per process
from :class:`Settings` and injected (no module-level singletons, no Flask)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import redis
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from backend.cache import Keys, make_redis
from backend.db import make_engine, make_session_factory
from backend.pii import PiiVault
from backend.settings import Settings


@dataclass
class Runtime:
    settings: Settings
    engine: Engine
    session_factory: sessionmaker[Session]
    redis: redis.Redis
    keys: Keys
    pii: PiiVault
    # Filled by the features that own them (SMS sender, channel clients, push dispatcher).
    extras: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def build(cls, settings: Settings, **extras: Any) -> Runtime:
        url = settings.effective_database_url
        if url.startswith("sqlite:///") and not settings.database_url:
            settings.instance_path.mkdir(parents=True, exist_ok=True)
        engine = make_engine(url)
        return cls(
            settings=settings,
            engine=engine,
            session_factory=make_session_factory(engine),
            redis=make_redis(settings.redis_url),
            keys=Keys(settings.redis_prefix),
            pii=PiiVault(settings.effective_pii_key, settings.effective_lookup_key),
            extras=dict(extras),
        )

    def session(self) -> Session:
        return self.session_factory()

    def read_session(self) -> Session:
        """A session for reads (member GETs): the driver runs in autocommit, so a request that only
        selects sends no BEGIN and no ROLLBACK, just its selects. Each select sees committed data,
        as under READ COMMITTED; a use case that writes takes :meth:`session`."""
        factory = self.extras.get("read_session_factory")
        if factory is None:
            factory = make_session_factory(
                self.engine.execution_options(isolation_level="AUTOCOMMIT")
            )
            self.extras["read_session_factory"] = factory
        return factory()

    def close(self) -> None:
        self.engine.dispose()
