"""Prometheus metrics.

One registry per app (so several apps in one test process don't clash). Under gunicorn with
several workers, each worker is its own process: ``PROMETHEUS_MULTIPROC_DIR`` (set by
``backend.gunicorn_conf`` before any worker imports prometheus_client) makes every counter and
histogram write to files there, and a scrape sums the files of every worker, so the figures no
longer jump with the worker that happens to answer.

The push metrics (``backend.push.metrics``: send latency per channel, errors per channel and code,
finished deliveries) are module-level: the process that sends (the Celery worker, or the API in
inline mode) records them; every registry here includes them.
"""

from __future__ import annotations

import os
from collections.abc import Iterable

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest, multiprocess
from prometheus_client.registry import Collector

from backend.push.metrics import PUSH_METRICS

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"


def multiprocess_dir() -> str | None:
    """The directory shared by the worker processes, when gunicorn runs several."""
    return os.environ.get(MULTIPROC_ENV) or None


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "gjj_http_requests_total",
            "HTTP requests by endpoint, method and status",
            ["endpoint", "method", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "gjj_http_request_seconds",
            "HTTP request latency by endpoint",
            ["endpoint"],
            registry=self.registry,
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
        )
        # Read at scrape time (the push backlog): not per process, registered on both paths.
        self.live: list[Collector] = []
        for collector in PUSH_METRICS:
            self.registry.register(collector)

    def add_live(self, collector: Collector) -> None:
        """A collector that reads shared state (the database) when scraped."""
        self.live.append(collector)
        self.registry.register(collector)

    def render(self) -> bytes:
        directory = multiprocess_dir()
        if directory is None:
            return generate_latest(self.registry)
        # Every process's files, summed; the live collectors read once, by the scraped worker.
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry, path=directory)
        for collector in self.live:
            registry.register(collector)
        return generate_latest(registry)


def serve_metrics(port: int, host: str, collectors: Iterable[Collector]) -> None:
    """An ops listener for a process without a web app (``gjj worker --metrics-port``)."""
    from prometheus_client import start_http_server

    registry = CollectorRegistry()
    directory = multiprocess_dir()
    if directory is not None:
        multiprocess.MultiProcessCollector(registry, path=directory)
    else:
        for collector in collectors:
            registry.register(collector)
    start_http_server(port, addr=host, registry=registry)
