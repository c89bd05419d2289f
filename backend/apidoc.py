"""The member API's OpenAPI document as the mini-program's API client sees it.

The mini-program keeps a copy (``miniapp/src/api/openapi.json``) from which its TypeScript types
are generated (``make miniapp-types``); a test holds the copy to what the backend serves, so a
changed schema fails there until the types are generated again. Paths are relative to
``/api/v1``, the API base of the client; the signed internal API and the server list are left out.
"""

from __future__ import annotations

import json
from typing import Any

from flask import Flask

MEMBER_API_PREFIX = "/api/v1"


def member_api_spec(app: Flask) -> dict[str, Any]:
    served = app.test_client().get("/openapi.json").get_json()
    paths = {
        path[len(MEMBER_API_PREFIX) :]: item
        for path, item in served["paths"].items()
        if path.startswith(MEMBER_API_PREFIX + "/")
    }
    return {
        "openapi": served["openapi"],
        "info": served["info"],
        "paths": paths,
        "components": served.get("components", {}),
    }


def render(spec: dict[str, Any]) -> str:
    """Stable text: sorted keys, so a regenerated copy differs only where the API did."""
    return json.dumps(spec, ensure_ascii=False, indent=2, sort_keys=True) + "\n"
