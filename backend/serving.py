"""gunicorn, as the project runs it: the worker class and its settings.

gunicorn answers some requests itself, before the app sees them (a request line or headers over
its limits: 414, 431; a malformed request: 400) and writes an HTML page for them. Our worker class
writes the JSON error envelope instead, so every answer a client gets has the documented shape.
Use it as ``gjj serve`` does, or ``gunicorn -c python:backend.serving backend.wsgi:app``.
"""

from __future__ import annotations

import json
from typing import Any

from gunicorn import util
from gunicorn.workers.gthread import ThreadWorker

from backend.errors import http_envelope
from backend.security_headers import DATA_POLICY, HEADERS

# gunicorn settings (``-c python:backend.serving``); `gjj serve` applies the same ones.
worker_class = "backend.serving.JsonErrorWorker"
threads = 8
timeout = 60
accesslog = None
# Each worker listens on its own SO_REUSEPORT socket and the kernel spreads new connections over
# them. On one shared socket the first worker to wake took every keep-alive connection of a burst
# while the others idled (gthread accepts up to worker_connections; capping that at the thread
# count would disable keep-alive).
reuse_port = True
keepalive = 5

SETTINGS: dict[str, Any] = {
    "worker_class": worker_class,
    "threads": threads,
    "timeout": timeout,
    "accesslog": accesslog,
    "reuse_port": reuse_port,
    "keepalive": keepalive,
}


def write_json_error(sock: Any, status_int: int, reason: str, mesg: str) -> None:
    """gunicorn's ``util.write_error`` with the JSON envelope as the body. ``mesg`` (gunicorn's
    detail, which echoes the request) is left out, as it is from the app's own errors."""
    body = json.dumps(http_envelope(status_int), ensure_ascii=False).encode()
    head = [
        f"HTTP/1.1 {status_int} {reason}",
        "Connection: close",
        "Content-Type: application/json",
        f"Content-Length: {len(body)}",
        *(f"{name}: {value}" for name, value in HEADERS.items()),
        f"Content-Security-Policy: {DATA_POLICY}",
    ]
    util.write_nonblock(sock, ("\r\n".join(head) + "\r\n\r\n").encode("latin1") + body)


class JsonErrorWorker(ThreadWorker):  # type: ignore[misc]
    """gthread, with gunicorn's own error answers in the JSON envelope."""

    def init_process(self) -> None:
        # The worker's error path calls ``util.write_error``; this process answers in JSON.
        util.write_error = write_json_error
        super().init_process()
