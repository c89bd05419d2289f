"""A tiny loopback HTTP server (stdlib, one thread per request) that the fakes build on."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, str]
    body: bytes
    headers: dict[str, str]

    def json(self) -> Any:
        if not self.body:
            return {}
        return json.loads(self.body.decode("utf-8"))

    def form(self) -> dict[str, str]:
        return dict(parse_qsl(self.body.decode("utf-8"), keep_blank_values=True))


@dataclass
class Response:
    status: int = 200
    body: bytes = b""
    content_type: str = "application/json; charset=utf-8"
    # A reply that never completes: the headers announce the body, then one byte trickles out
    # now and then until the client gives up or the server stops (defeats a read timeout alone).
    trickle: bool = False


HANG = Response(status=0)  # marker: accept the request and never answer it


def json_response(obj: Any, status: int = 200) -> Response:
    return Response(status, json.dumps(obj, ensure_ascii=False).encode("utf-8"))


class AdminError(Exception):
    """Bad admin request: answered 400 with the message."""


Handler = Callable[[Request], Response]


@dataclass
class FaultQueue:
    """Injected faults per target ("*" matches every target), each used ``times`` times."""

    _faults: list[dict[str, Any]] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, target: str, fault: dict[str, Any], times: int = 1) -> None:
        with self._lock:
            self._faults.append({"target": target, "times": times, **fault})

    def take(self, target: str) -> dict[str, Any] | None:
        with self._lock:
            for fault in self._faults:
                if fault["target"] in (target, "*"):
                    fault["times"] -= 1
                    if fault["times"] <= 0:
                        self._faults.remove(fault)
                    return dict(fault)
        return None

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()


class LoopbackServer:
    """Routes by (method, path); ``/__admin/*`` routes are JSON in, JSON out."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self._routes: dict[tuple[str, str], Handler] = {}
        self._host = host
        self._port = port
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.lock = threading.RLock()
        self.faults = FaultQueue()
        # TCP connections accepted so far: a client that pools connections opens one for many calls.
        self.connections = 0
        self._stopping = threading.Event()
        self.admin("GET", "health", lambda body: {"ok": True})

    def route(self, method: str, path: str, handler: Handler) -> None:
        self._routes[(method.upper(), path)] = handler

    def admin(self, method: str, name: str, handler: Callable[[Any], Any]) -> None:
        def wrapped(request: Request) -> Response:
            try:
                payload = request.json() if request.method == "POST" else dict(request.query)
                return json_response(handler(payload))
            except (AdminError, ValueError, KeyError, TypeError) as exc:
                return json_response({"error": f"{type(exc).__name__}: {exc}"}, 400)

        self.route(method, f"/__admin/{name}", wrapped)

    @property
    def url(self) -> str:
        if self._httpd is None:
            raise RuntimeError("server not started")
        port = self._httpd.server_address[1]
        return f"http://{self._host}:{port}"

    def start(self) -> LoopbackServer:
        server = self

        class _Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # Answer like a real server: the status line, headers and body leave in one write
            # (a buffered wfile, flushed once per request by BaseHTTPRequestHandler) with Nagle
            # off. Unbuffered, the body went out as a second small segment that Nagle held until
            # the client's delayed ACK: a 40 ms stall on every keep-alive reply.
            wbufsize = 64 * 1024
            disable_nagle_algorithm = True

            def log_message(self, format: str, *args: Any) -> None:
                # Silent: request lines carry tokens and codes.
                return

            def setup(self) -> None:
                super().setup()
                with server.lock:
                    server.connections += 1

            def _handle(self) -> None:
                parts = urlsplit(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                request = Request(
                    method=self.command,
                    path=parts.path,
                    query=dict(parse_qsl(parts.query, keep_blank_values=True)),
                    body=body,
                    headers={k.lower(): v for k, v in self.headers.items()},
                )
                handler = server._routes.get((self.command, parts.path))
                if handler is None:
                    response = json_response({"error": "not found"}, 404)
                else:
                    response = handler(request)
                if response is HANG:
                    server._stopping.wait()
                    self.close_connection = True
                    return
                try:
                    self.send_response(response.status)
                    self.send_header("Content-Type", response.content_type)
                    length = len(response.body) + (4096 if response.trickle else 0)
                    self.send_header("Content-Length", str(length))
                    self.end_headers()
                    self.wfile.write(response.body)
                    while response.trickle and not server._stopping.wait(0.05):
                        self.wfile.write(b" ")
                        self.wfile.flush()
                except (BrokenPipeError, ConnectionResetError):
                    return  # the client gave up (e.g. its timeout fired during an injected delay)
                if response.trickle:
                    self.close_connection = True

            do_GET = _handle  # noqa: N815 - BaseHTTPRequestHandler's naming
            do_POST = _handle  # noqa: N815

        self._stopping.clear()
        httpd = ThreadingHTTPServer((self._host, self._port), _Handler)
        httpd.daemon_threads = True
        self._httpd = httpd
        self._thread = threading.Thread(
            target=httpd.serve_forever, args=(0.05,), name=type(self).__name__, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()  # releases hung and trickling replies
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None

    def __enter__(self) -> LoopbackServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def apply_delay(fault: dict[str, Any] | None) -> None:
    if fault and fault.get("delay"):
        time.sleep(float(fault["delay"]))


def stalled_response(fault: dict[str, Any] | None) -> Response | None:
    """The reply of a ``hang`` (never answers) or ``trickle`` (never finishes) fault, if any."""
    if fault and fault.get("hang"):
        return HANG
    if fault and fault.get("trickle"):
        return Response(200, b"{", "application/json; charset=utf-8", trickle=True)
    return None
