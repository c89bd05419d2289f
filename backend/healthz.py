"""The API container's liveness check: ``python -m backend.healthz`` (or ``gjj healthz``).

Kept to the standard library and the settings module: a healthcheck that spends seconds importing
the whole app times out on a busy host and marks a healthy API unhealthy.
"""

from __future__ import annotations

import sys
import urllib.request

from backend.settings import Settings


def check(settings: Settings, timeout: float = 3.0) -> str | None:
    """None when ``/healthz`` answers 200 on this host's API port, else the reason."""
    host = settings.host if settings.host not in {"0.0.0.0", "::", ""} else "127.0.0.1"  # noqa: S104
    url = f"http://{host}:{settings.port}/healthz"
    try:
        with urllib.request.urlopen(url, timeout=timeout) as answer:  # noqa: S310 - this host
            status = answer.status
    except OSError as exc:
        return f"{url}: {exc}"
    return None if status == 200 else f"{url}: HTTP {status}"


def main() -> int:
    problem = check(Settings.from_env())
    if problem:
        sys.stderr.write(problem + "\n")
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
