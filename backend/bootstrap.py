"""The composition root: every entry point (``create_app``, ``gjj worker`` and the other commands,
the demo, ``scripts/bench_*``) calls :func:`bootstrap` once and gets the process's
:class:`~backend.runtime.Runtime`, every service built eagerly and wired.

Wiring done here and nowhere else:
- the event bus is attached to both session factories (:meth:`Core.build`);
- the push feature subscribes to it (:func:`backend.push.handlers.subscribe`): a message posted
  through any session of the runtime queues its deliveries and dispatches them after commit;
- the dispatcher is the one ``GJJ_PUSH_MODE`` names, unless a test or a command passes its own.

Tests override what they fake with typed keywords (``bootstrap(settings, dispatcher=...,
make_dispatcher=SyncDispatcher, channels=..., sms_sender=..., password_hasher=...)``); nothing is swapped in afterwards.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import fields

import redis
from argon2 import PasswordHasher
from sqlalchemy.engine import Engine

from adapters.sms import SmsSender
from backend.channels.clients import ChannelClients, build_channel_clients
from backend.identity.passwords import Passwords, make_hasher
from backend.identity.sms import make_sms_sender
from backend.identity.smscodes import SmsCodes
from backend.identity.tokens import TokenStore
from backend.inbox import handlers as inbox_handlers
from backend.loans.plans import PlanCache
from backend.ops.metrics import Metrics
from backend.outages import Dependencies
from backend.push import handlers as push_handlers
from backend.push.delivery import Senders
from backend.push.dispatch import Dispatcher, InlineDispatcher, SyncDispatcher
from backend.push.stats import PushCollector
from backend.push.templates import Templates, load_templates
from backend.runtime import Core, Runtime
from backend.settings import Settings

# A dispatcher made from the core and the senders (``SyncDispatcher`` is one): for tests and
# commands that deliver in the calling thread.
DispatcherFactory = Callable[[Core, Senders], Dispatcher]


def bootstrap(
    settings: Settings,
    *,
    engine: Engine | None = None,
    redis_client: redis.Redis | None = None,
    channels: ChannelClients | None = None,
    sms_sender: SmsSender | None = None,
    password_hasher: PasswordHasher | None = None,
    push_templates: Templates | None = None,
    dispatcher: Dispatcher | None = None,
    make_dispatcher: DispatcherFactory | None = None,
) -> Runtime:
    """Build the runtime of one process (see the module doc)."""
    core = Core.build(settings, engine=engine, redis_client=redis_client)
    sms = sms_sender if sms_sender is not None else make_sms_sender(settings)
    clients = channels if channels is not None else build_channel_clients(settings, core.redis)
    templates = (
        push_templates
        if push_templates is not None
        else load_templates(settings.push_templates_file)
    )
    senders = Senders(channels=clients, sms=sms, templates=templates)
    if dispatcher is not None:
        target = dispatcher
    elif make_dispatcher is not None:
        target = make_dispatcher(core, senders)
    else:
        target = default_dispatcher(core, senders)
    inbox_handlers.subscribe(core.bus)
    push_handlers.subscribe(
        core.bus, dispatcher=target, sms_fallback_kinds=settings.push_sms_fallback_kinds
    )
    metrics = Metrics()
    collector = PushCollector(core.session_factory)
    metrics.add_live(collector)
    return Runtime(
        **{field.name: getattr(core, field.name) for field in fields(Core)},
        sms_sender=sms,
        sms_codes=SmsCodes(core.redis, core.keys, sms, settings.centre_name, core.pii),
        tokens=TokenStore(
            core.redis, core.keys, settings.access_token_ttl, settings.refresh_token_ttl
        ),
        passwords=Passwords(
            password_hasher
            if password_hasher is not None
            else make_hasher(settings.argon2_time_cost, settings.argon2_memory_cost)
        ),
        channels=clients,
        dependencies=Dependencies(core),
        loan_plans=PlanCache(core.redis, core.keys, settings.plan_cache_ttl),
        push_templates=templates,
        push_senders=senders,
        dispatcher=target,
        metrics=metrics,
        push_collector=collector,
    )


def default_dispatcher(core: Core, senders: Senders) -> Dispatcher:
    """The one ``GJJ_PUSH_MODE`` names."""
    if core.settings.push_mode == "celery":
        from backend.push.celery import CeleryDispatcher, celery_app  # Celery only when asked

        return CeleryDispatcher(celery_app(core.settings))
    return InlineDispatcher(core, senders, core.settings.push_inline_threads)


def command_dispatcher(core: Core, senders: Senders) -> Dispatcher:
    """The dispatcher of a one-off command: in inline mode there is no worker to hand the ids
    to, so the command delivers them itself; in celery mode the worker does."""
    if core.settings.push_mode == "inline":
        return SyncDispatcher(core, senders)
    return default_dispatcher(core, senders)
