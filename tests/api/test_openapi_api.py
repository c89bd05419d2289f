"""The served OpenAPI document tells clients which operations need a login and what errors look
like: every secured operation declares its security scheme and a 401 with the error envelope,
every operation that takes arguments a 422 with it."""

from typing import Any

METHODS = {"get", "put", "post", "patch", "delete"}

# Operations a member calls before logging in (DESIGN.md, API contract).
PUBLIC = {
    ("post", "/api/v1/captchas"),
    ("post", "/api/v1/sms-codes"),
    ("post", "/api/v1/registrations"),
    ("post", "/api/v1/sessions"),
    ("post", "/api/v1/sessions/refresh"),
    ("post", "/api/v1/password-resets"),
    ("post", "/api/v1/password-resets/{reset_id}/sms-codes"),
    ("post", "/api/v1/password-resets/{reset_id}/verification"),
    ("put", "/api/v1/password-resets/{reset_id}/password"),
    ("get", "/api/v1/loan-calculator"),
    ("get", "/api/v1/public/certificates/{serial_no}"),
}
# Alipay and WeChat log-in steps (sessions, face verification, binding) are public by path; the
# member's own channel bindings live under /me.
CHANNEL_LOGIN_PREFIX = "/api/v1/channels/"
CHANNEL_LOGINS = {
    ("post", "/api/v1/channels/alipay/sessions"),
    ("post", "/api/v1/channels/wechat/sessions"),
    ("post", "/api/v1/channels/wechat/bindings"),
}
ERROR_REF = "#/components/schemas/Error"


def _operations(spec: dict[str, Any], prefix: str) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (method, path, op)
        for path, item in spec["paths"].items()
        if path.startswith(prefix)
        for method, op in item.items()
        if method in METHODS
    ]


def _response_schema_ref(spec: dict[str, Any], response: dict[str, Any]) -> str | None:
    if "$ref" in response:
        response = spec["components"]["responses"][response["$ref"].rsplit("/", 1)[-1]]
    schema = response.get("content", {}).get("application/json", {}).get("schema", {})
    ref: str | None = schema.get("$ref")
    return ref


def _documents_error(spec: dict[str, Any], op: dict[str, Any], status: str) -> bool:
    response = op.get("responses", {}).get(status)
    return response is not None and _response_schema_ref(spec, response) == ERROR_REF


def _not_secured_by(
    spec: dict[str, Any], operations: list[tuple[str, str, dict[str, Any]]], scheme: str
) -> list[str]:
    """The operations that do not declare ``scheme`` alone, or no 401 with the error envelope."""
    return [
        f"{method.upper()} {path}"
        for method, path, op in operations
        if op.get("security") != [{scheme: []}] or not _documents_error(spec, op, "401")
    ]


def _is_public(method: str, path: str) -> bool:
    return (method, path) in PUBLIC or path.startswith(CHANNEL_LOGIN_PREFIX)


def _takes_arguments(op: dict[str, Any]) -> bool:
    return "requestBody" in op or any(p["in"] != "path" for p in op.get("parameters", []))


def test_openapi_lists_every_public_operation_when_served(client):
    spec = client.get("/openapi.json").json
    served = {(method, path) for method, path, _ in _operations(spec, "/api/v1/")}
    # A renamed public path would otherwise silently turn the list below into dead entries.
    assert PUBLIC | CHANNEL_LOGINS <= served


def test_openapi_declares_bearer_and_401_when_operation_needs_login(client):
    spec = client.get("/openapi.json").json
    secured = [
        (method, path, op)
        for method, path, op in _operations(spec, "/api/v1/")
        if not _is_public(method, path)
    ]
    assert ("get", "/api/v1/me") in {(m, p) for m, p, _ in secured}
    assert _not_secured_by(spec, secured, "bearerAuth") == []


def test_openapi_declares_no_bearer_when_operation_is_public(client):
    spec = client.get("/openapi.json").json
    public = [
        (method, path, op)
        for method, path, op in _operations(spec, "/api/v1/")
        if _is_public(method, path)
    ]
    assert [f"{m.upper()} {p}" for m, p, op in public if "security" in op] == []


def test_openapi_declares_signature_and_401_when_operation_is_internal(client):
    spec = client.get("/openapi.json").json
    internal = _operations(spec, "/internal/v1/")
    assert internal
    assert _not_secured_by(spec, internal, "gjjSignature") == []


def test_openapi_declares_422_when_operation_takes_arguments(client):
    spec = client.get("/openapi.json").json
    with_arguments = [
        (method, path, op) for method, path, op in _operations(spec, "/") if _takes_arguments(op)
    ]
    assert ("get", "/api/v1/messages") in {(m, p) for m, p, _ in with_arguments}
    undocumented = [
        f"{method.upper()} {path}"
        for method, path, op in with_arguments
        if not _documents_error(spec, op, "422")
    ]
    assert undocumented == []
