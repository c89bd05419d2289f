"""The Celery client of the push pipeline (``GJJ_PUSH_MODE=celery``): the app configured for the
broker, and the dispatcher that hands delivery ids to the worker (:mod:`backend.worker`).

Broker and result backend come from settings (``GJJ_BROKER_URL``, default ``GJJ_REDIS_URL``; an
``amqp://`` RabbitMQ URL works as well). Tasks carry delivery ids only (one, or the chunk of a
commit's new deliveries) and re-read the rows, so a
redelivered task (acks_late, a Redis visibility timeout) is harmless: the claim lets one through.
"""

from __future__ import annotations

from celery import Celery

from backend.logs import request_id_var
from backend.push.dispatch import chunks
from backend.settings import Settings, SettingsError

DELIVER_TASK = "gjj.push.deliver"
DELIVER_MANY_TASK = "gjj.push.deliver_many"


def celery_app(settings: Settings) -> Celery:
    """The Celery app as the web process needs it (sending tasks); the worker adds its tasks and
    the beat schedule (:func:`backend.worker.make_celery`)."""
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
    )
    return app


class CeleryDispatcher:
    """Sends delivery ids to the Celery worker (``GJJ_PUSH_MODE=celery``)."""

    def __init__(self, celery_app: Celery) -> None:
        self.celery = celery_app

    def dispatch(self, delivery_id: int, countdown: float = 0) -> None:
        # The request id travels with the task: the worker's log lines carry it too.
        self.celery.send_task(
            DELIVER_TASK,
            args=[delivery_id],
            kwargs={"request_id": request_id_var.get()},
            countdown=countdown or None,
        )

    def dispatch_many(self, delivery_ids: list[int]) -> None:
        """A task a chunk: the worker claims and finishes each chunk in a few transactions."""
        for chunk in chunks(delivery_ids):
            self.celery.send_task(
                DELIVER_MANY_TASK, args=[chunk], kwargs={"request_id": request_id_var.get()}
            )
