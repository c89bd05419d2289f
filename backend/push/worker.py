"""The Celery side of the push pipeline (``GJJ_PUSH_MODE=celery``): ``gjj worker``.

Broker and result backend come from settings (``GJJ_BROKER_URL``, default ``GJJ_REDIS_URL``; an
``amqp://`` RabbitMQ URL works as well). Tasks carry a delivery id only and re-read the rows, so a
redelivered task (acks_late, a Redis visibility timeout) is harmless: the claim lets one through.
The sweeper, the retention prune, the announcement fan-out (``gjj announcements fanout``) and the
appointment reminders (``gjj appointments remind``) run on the beat schedule of ONE separate
``gjj beat`` process (several schedulers would each fire every entry). Each task carries the
request id of the API request that queued it, so the worker's log lines join the request's.
"""

from __future__ import annotations

import logging
from typing import Any

from celery import Celery
from celery.schedules import crontab
from celery.signals import task_postrun, task_prerun

import backend.models  # noqa: F401 - every mapper, so relationships resolve in a worker process
from backend.logs import request_id_var
from backend.push.delivery import sweep
from backend.runtime import Runtime
from backend.settings import Settings, SettingsError

logger = logging.getLogger(__name__)

DELIVER_TASK = "gjj.push.deliver"
SWEEP_TASK = "gjj.push.sweep"
ANNOUNCEMENTS_TASK = "gjj.announcements.fanout"
REMINDERS_TASK = "gjj.appointments.remind"
# Hourly from 08:00 to 21:00 Beijing time (Celery's clock is UTC): a booking made in the evening
# for tomorrow is still reminded, and nobody is pushed at night.
REMINDER_HOURS = "0-13"
PRUNE_TASK = "gjj.ops.prune"
PRUNE_INTERVAL = 6 * 3600.0


def make_celery(settings: Settings, rt: Runtime | None = None) -> Celery:
    """The Celery app; with ``rt`` it also registers the tasks (the worker process)."""
    broker = settings.broker_url or settings.redis_url
    if not broker:
        raise SettingsError("GJJ_PUSH_MODE=celery needs GJJ_BROKER_URL or GJJ_REDIS_URL")
    app = Celery("gjj", broker=broker, backend=settings.result_backend or None)
    app.conf.update(
        task_serializer="json",
        accept_content=["json"],
        task_ignore_result=True,
        task_acks_late=True,
        worker_prefetch_multiplier=1,
        broker_connection_retry_on_startup=True,
        broker_connection_timeout=settings.channel_timeout,
        # Redis redelivers unacked tasks after this; a retry countdown may be as long as the cap.
        broker_transport_options={"visibility_timeout": max(3600, 2 * settings.push_backoff_cap)},
        worker_hijack_root_logger=False,
        beat_schedule_filename=str(settings.beat_schedule_path),
        beat_schedule={
            "push-sweep": {"task": SWEEP_TASK, "schedule": float(settings.push_sweep_interval)},
            # Scheduled announcements whose time came, and fan-outs a crash interrupted.
            "announcements-fanout": {
                "task": ANNOUNCEMENTS_TASK,
                "schedule": float(settings.push_sweep_interval),
            },
            "appointments-remind": {
                "task": REMINDERS_TASK,
                "schedule": crontab(minute=0, hour=REMINDER_HOURS),
            },
            "prune": {"task": PRUNE_TASK, "schedule": PRUNE_INTERVAL},
        },
    )
    if rt is not None:
        _register_tasks(app, rt)
    return app


def _register_tasks(app: Celery, rt: Runtime) -> None:
    # Imported here: dispatch imports this module for make_celery.
    from backend.appointments.services import send_reminders
    from backend.clock import today
    from backend.push.dispatch import CeleryDispatcher, install, push_templates, run_delivery
    from backend.push.fanout import fanout_due

    dispatcher = CeleryDispatcher(app)
    rt.extras["push_dispatcher"] = dispatcher
    install(rt)

    # shared=False: the task belongs to this app (and this runtime) only, not to every app made
    # later in the process (tests make several).
    @app.task(name=DELIVER_TASK, shared=False)  # type: ignore[untyped-decorator]
    def deliver_task(delivery_id: int, request_id: str | None = None) -> str:
        return run_delivery(rt, int(delivery_id), dispatcher).status

    @app.task(name=SWEEP_TASK, shared=False)  # type: ignore[untyped-decorator]
    def sweep_task(request_id: str | None = None) -> dict[str, Any]:
        result = sweep(rt, stale_after=rt.settings.push_sweep_interval)
        for delivery_id in result.requeued:
            dispatcher.dispatch(delivery_id)
        return {"requeued": len(result.requeued), "lost": result.lost}

    @app.task(name=ANNOUNCEMENTS_TASK, shared=False)  # type: ignore[untyped-decorator]
    def announcements_task(request_id: str | None = None) -> int:
        return fanout_due(
            rt.session_factory,
            push_templates(rt),
            batch_size=rt.settings.announcement_fanout_batch,
        )

    @app.task(name=REMINDERS_TASK, shared=False)  # type: ignore[untyped-decorator]
    def reminders_task(request_id: str | None = None) -> int:
        return send_reminders(rt.session_factory, today())

    @app.task(name=PRUNE_TASK, shared=False)  # type: ignore[untyped-decorator]
    def prune_task(request_id: str | None = None) -> dict[str, int]:
        from backend.ops.retention import prune

        result = prune(rt, rt.settings.retention_days)
        return {"deliveries": result.deliveries, "idempotency_records": result.idempotency_records}


_TOKENS: dict[str, Any] = {}


@task_prerun.connect
def _bind_request_id(
    task_id: str | None = None, kwargs: dict[str, Any] | None = None, **_: Any
) -> None:
    """The queuing request's id (or the task's own) on every log line of the task."""
    rid = (kwargs or {}).get("request_id") or task_id
    if task_id is not None and rid:
        _TOKENS[task_id] = request_id_var.set(str(rid))


@task_postrun.connect
def _unbind_request_id(task_id: str | None = None, **_: Any) -> None:
    token = _TOKENS.pop(task_id, None) if task_id is not None else None
    if token is not None:
        request_id_var.reset(token)
