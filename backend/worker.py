"""The Celery worker process (``GJJ_PUSH_MODE=celery``): ``gjj worker`` and ``gjj beat``, an entry
point like the app and the CLI. The app's broker settings and the dispatcher are the push
feature's (:mod:`backend.push.celery`); this module adds the tasks and the beat schedule.

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
from backend.appointments.services import send_reminders
from backend.clock import today
from backend.logs import request_id_var
from backend.ops.retention import prune
from backend.push.celery import DELIVER_MANY_TASK, DELIVER_TASK, CeleryDispatcher, celery_app
from backend.push.dispatch import run_deliveries, run_delivery, sweep_once
from backend.push.fanout import fanout_due
from backend.runtime import Runtime
from backend.settings import Settings

logger = logging.getLogger(__name__)

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
    app = celery_app(settings)
    app.conf.update(
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
        register_tasks(app, rt)
    return app


def register_tasks(app: Celery, rt: Runtime) -> None:
    """The tasks of the worker process, run with ``rt``'s services."""
    # Retries and fallbacks go back through this app; new deliveries of the worker's own
    # transactions (reminders, fan-outs) go through the runtime's dispatcher, the same broker.
    dispatcher = CeleryDispatcher(app)

    # shared=False: the task belongs to this app (and this runtime) only, not to every app made
    # later in the process (tests make several).
    @app.task(name=DELIVER_TASK, shared=False)  # type: ignore[untyped-decorator]
    def deliver_task(delivery_id: int, request_id: str | None = None) -> str:
        return run_delivery(rt, rt.push_senders, int(delivery_id), dispatcher).status

    @app.task(name=DELIVER_MANY_TASK, shared=False)  # type: ignore[untyped-decorator]
    def deliver_many_task(delivery_ids: list[int], request_id: str | None = None) -> int:
        outcomes = run_deliveries(rt, rt.push_senders, [int(i) for i in delivery_ids], dispatcher)
        return sum(1 for outcome in outcomes.values() if outcome.status == "sent")

    @app.task(name=SWEEP_TASK, shared=False)  # type: ignore[untyped-decorator]
    def sweep_task(request_id: str | None = None) -> dict[str, Any]:
        result = sweep_once(rt, dispatcher, stale_after=rt.settings.push_sweep_interval)
        return {
            "requeued": len(result.requeued),
            "given_back": result.given_back,
            "lost": result.lost,
        }

    @app.task(name=ANNOUNCEMENTS_TASK, shared=False)  # type: ignore[untyped-decorator]
    def announcements_task(request_id: str | None = None) -> int:
        return fanout_due(
            rt.session_factory,
            rt.push_templates,
            batch_size=rt.settings.announcement_fanout_batch,
        )

    @app.task(name=REMINDERS_TASK, shared=False)  # type: ignore[untyped-decorator]
    def reminders_task(request_id: str | None = None) -> int:
        return send_reminders(rt.session_factory, today())

    @app.task(name=PRUNE_TASK, shared=False)  # type: ignore[untyped-decorator]
    def prune_task(request_id: str | None = None) -> dict[str, int]:
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
