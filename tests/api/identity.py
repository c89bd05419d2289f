"""Helpers shared by the identity tests (a helper module: no tests, no fixtures).

The captcha answer is read from the store the way a person reads the image; SMS codes are read
from the file outbox the test settings configure, the way a person reads their phone.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

PASSWORD = "abc12345"


def captcha(client: Any, runtime: Any) -> dict[str, str]:
    body = client.post("/api/v1/captchas").json
    answer = json.loads(runtime.redis.get(runtime.keys("captcha", body["captcha_id"])))["a"]
    return {"captcha_id": body["captcha_id"], "captcha_code": answer}


def last_code(runtime: Any, phone: str, scene: str) -> str:
    lines = Path(runtime.settings.sms_outbox).read_text().splitlines()
    sent = [json.loads(line) for line in lines]
    return [s for s in sent if s["phone"] == phone and s["scene"] == scene][-1]["code"]


def sms_count(runtime: Any) -> int:
    path = Path(runtime.settings.sms_outbox)
    return len(path.read_text().splitlines()) if path.exists() else 0


def log_in(client: Any, runtime: Any, username: str, password: str = PASSWORD, **extra: Any) -> Any:
    body = {"username": username, "password": password, **captcha(client, runtime), **extra}
    return client.post("/api/v1/sessions", json=body, environ_base={"REMOTE_ADDR": "10.0.0.1"})


def bearer(response: Any) -> dict[str, str]:
    return {"Authorization": f"Bearer {response.json['access_token']}"}
