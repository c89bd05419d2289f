"""gunicorn's own answers (request line or headers over its limits) are the JSON envelope, not an
HTML page (issue 11). ``gjj serve`` runs on a loopback port of this test; the raw requests go
through a socket because no HTTP client sends lines this long on purpose."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator

import pytest

PORT = 18310
POLLS = 600


def _exchange(raw: bytes) -> tuple[int, dict[str, str], bytes]:
    with socket.create_connection(("127.0.0.1", PORT), timeout=30) as conn:
        conn.sendall(raw)
        chunks = []
        while chunk := conn.recv(65536):
            chunks.append(chunk)
    head, _, body = b"".join(chunks).partition(b"\r\n\r\n")
    status_line, *lines = head.decode("latin1").split("\r\n")
    headers = {k.lower(): v.strip() for k, _, v in (line.partition(":") for line in lines)}
    return int(status_line.split()[1]), headers, body


@pytest.fixture(scope="module")
def served(tmp_path_factory) -> Iterator[None]:
    instance = tmp_path_factory.mktemp("instance")
    env = {
        **os.environ,
        "GJJ_ENV": "test",
        "GJJ_DATABASE_URL": f"sqlite:///{instance / 'gjj.sqlite3'}",
        "GJJ_INSTANCE_DIR": str(instance),
        "GJJ_REDIS_URL": "",
        "GJJ_SMS_BACKEND": "log",
        "GJJ_PORT": str(PORT),
    }
    process = subprocess.Popen(  # noqa: S603 - this interpreter, our own CLI
        [sys.executable, "-c", "from backend.cli import main; main()", "serve"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        for _ in range(POLLS):  # bounded poll on the server's readiness
            assert process.poll() is None, "gjj serve exited"
            try:
                if (
                    _exchange(b"GET /healthz HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")[0]
                    == 200
                ):
                    break
            except OSError:
                time.sleep(0.05)
        else:
            raise AssertionError("gjj serve never answered")
        yield
    finally:
        process.terminate()
        process.wait(timeout=60)


def _assert_envelope(
    status: int, headers: dict[str, str], body: bytes, code: int, slug: str
) -> None:
    assert status == code
    assert headers["content-type"] == "application/json"
    payload = json.loads(body)
    assert payload["code"] == code and payload["error_code"] == slug
    assert payload["message"] and not payload["message"].isascii()  # the Chinese text
    assert headers["x-content-type-options"] == "nosniff"


def test_overlong_request_line_answers_json_414_when_gunicorn_refuses_it(served):
    answer = _exchange(b"GET /" + b"a" * 9000 + b" HTTP/1.1\r\nHost: t\r\n\r\n")
    _assert_envelope(*answer, 414, "request.uri_too_long")


def test_overlarge_header_answers_json_431_when_gunicorn_refuses_it(served):
    answer = _exchange(b"GET /healthz HTTP/1.1\r\nHost: t\r\nX-Big: " + b"a" * 9000 + b"\r\n\r\n")
    _assert_envelope(*answer, 431, "request.headers_too_large")


def test_too_many_headers_answer_json_431_when_gunicorn_refuses_them(served):
    many = b"".join(b"X-H%d: v\r\n" % i for i in range(120))
    answer = _exchange(b"GET /healthz HTTP/1.1\r\nHost: t\r\n" + many + b"\r\n")
    _assert_envelope(*answer, 431, "request.headers_too_large")
