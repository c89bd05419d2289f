"""The mini-program's TypeScript API types are generated from its copy of the member API's
OpenAPI document (``make miniapp-types``); its jest suite checks that the committed types are what
the generator makes of that copy. This checks the copy against what the backend serves now, so a
changed schema fails here until the types are generated again."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from backend.apidoc import member_api_spec, render

COPY = Path(__file__).resolve().parents[2] / "miniapp" / "src" / "api" / "openapi.json"


def test_the_miniapps_openapi_copy_is_the_served_member_api(app: Any) -> None:
    current = render(member_api_spec(app))
    assert COPY.read_text(encoding="utf-8") == current, (
        "miniapp/src/api/openapi.json is out of date: run `make miniapp-types` and commit the result"
    )


def test_the_copy_holds_the_member_api_only(app: Any) -> None:
    spec = member_api_spec(app)
    assert "/me" in spec["paths"] and "/loan-applications/quota" in spec["paths"]
    assert not [p for p in spec["paths"] if p.startswith(("/internal", "/api/"))]
