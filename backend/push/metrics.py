"""The push metrics, recorded by the process that sends (the Celery worker, or the API in inline
mode) and exposed by ``backend.ops.metrics`` (per process, or summed over gunicorn's workers)."""

from __future__ import annotations

from prometheus_client import Counter, Histogram
from prometheus_client.registry import Collector

PUSH_SEND_SECONDS = Histogram(
    "gjj_push_send_seconds",
    "Time of one platform call of a push, by channel",
    ["channel"],
    registry=None,
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
PUSH_SEND_ERRORS = Counter(
    "gjj_push_send_errors_total",
    "Failed platform calls of pushes, by channel and error code",
    ["channel", "code"],
    registry=None,
)
PUSH_FINISHED = Counter(
    "gjj_push_deliveries_finished_total",
    "Delivery attempts that ended, by channel, status (sent, rejected, failed, pending = retry)"
    " and error code",
    ["channel", "status", "code"],
    registry=None,
)
PUSH_METRICS: tuple[Collector, ...] = (PUSH_SEND_SECONDS, PUSH_SEND_ERRORS, PUSH_FINISHED)
