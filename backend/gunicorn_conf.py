"""Gunicorn configuration of the production API: ``gunicorn -c python:backend.gunicorn_conf``.

Several worker processes: Prometheus multiprocess mode. The master points
``PROMETHEUS_MULTIPROC_DIR`` at ``<instance dir>/prometheus``, empties it when it starts (files of
a previous run would be summed in), and tells prometheus_client when a worker exits so its gauges
go with it. The workers import the app (and prometheus_client) after that, so their metrics write
to the shared files.

Where and how wide: ``GJJ_HOST``/``GJJ_PORT``, ``GJJ_WEB_WORKERS``, ``GJJ_WEB_THREADS``. The
settings are read (and validated) once here, in the master, before any worker starts.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

from backend import serving
from backend.settings import Settings

_settings = Settings.from_env()
bind = f"{_settings.host}:{_settings.port}"
workers = _settings.web_workers
threads = _settings.web_threads
# The project's own worker class and server settings (JSON answers for gunicorn's own refusals,
# one SO_REUSEPORT socket per worker), as `gjj serve` runs them.
worker_class = serving.worker_class
timeout = serving.timeout
keepalive = serving.keepalive
reuse_port = serving.reuse_port
graceful_timeout = 20
accesslog = None
# The app logs every request as JSON with its request id.
errorlog = "-"


def metrics_dir(settings: Settings) -> Path:
    return settings.instance_path / "prometheus"


def prepare_metrics_dir(directory: Path) -> None:
    """An empty directory, and the variable every worker inherits."""
    shutil.rmtree(directory, ignore_errors=True)
    directory.mkdir(parents=True, exist_ok=True)
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(directory)


def on_starting(server: Any) -> None:
    prepare_metrics_dir(metrics_dir(Settings.from_env()))


def child_exit(server: Any, worker: Any) -> None:
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)
