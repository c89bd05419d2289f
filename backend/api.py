"""flask-smorest glue: the Api with our error envelope, the Blueprint, and request-scoped access to
the runtime and the database session."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

import flask_smorest
import marshmallow as ma
from apispec.ext.marshmallow import MarshmallowPlugin
from flask import Response, current_app, g, jsonify, request
from flask_smorest.utils import resolve_schema_instance
from marshmallow import fields as ma_fields
from sqlalchemy.orm import Session
from werkzeug.exceptions import HTTPException

from backend.dumping import compiled_dump
from backend.errors import ErrorSchema, http_envelope, translate_field_errors
from backend.loading import compiled_load
from backend.runtime import Runtime

if TYPE_CHECKING:
    from backend.idempotency.services import StoredAnswer

logger = logging.getLogger(__name__)

F = TypeVar("F", bound=Callable[..., Any])


def decimal_pattern2properties(self: Any, field: Any, **kwargs: Any) -> dict[str, Any]:
    if isinstance(field, ma_fields.Decimal):
        # An input Amount documents its own (stricter, bounded) pattern.
        return {"pattern": getattr(field, "pattern", r"^-?\d+(\.\d+)?$")}
    return {}


class Api(flask_smorest.Api):
    ERROR_SCHEMA = ErrorSchema

    def init_app(self, app: Any, *, spec_kwargs: Any = None) -> None:
        super().init_app(app, spec_kwargs=spec_kwargs)
        # Decimals reach the client as JSON strings ("1234.50": as_string fields, and Flask's JSON
        # provider for the rest); apispec would document a number the responses contradict.
        self.register_field(ma_fields.Decimal, "string", "decimal")
        self.ma_plugin.converter.add_attribute_function(decimal_pattern2properties)

    def handle_http_exception(self, error: HTTPException) -> Any:
        code = error.code or 500
        data = getattr(error, "data", None) or {}
        errors = data.get("errors") or data.get("messages")
        if isinstance(errors, dict) and code == 422:
            errors = translate_field_errors(_flatten_locations(errors))
        payload = http_envelope(code, errors if isinstance(errors, dict) else None)
        headers = dict(data.get("headers") or {})
        if code == 405 and hasattr(error, "valid_methods") and error.valid_methods:
            headers["Allow"] = ", ".join(error.valid_methods)
        return payload, code, headers


def _flatten_locations(errors: dict[str, Any]) -> dict[str, Any]:
    """webargs nests field errors under their location (json/query/headers); members don't care."""
    flat: dict[str, Any] = {}
    for location, fields in errors.items():
        if isinstance(fields, dict):
            flat.update(fields)
        else:
            flat[location] = fields
    return flat


def schema_name(schema: Any) -> str:
    """OpenAPI component name: features' schemas are prefixed with the feature
    (``backend.fund.schemas.EmployerSchema`` → ``FundEmployer``), so two features may both have
    an ``EmployerSchema`` without apispec renaming one behind our back."""
    cls = schema if isinstance(schema, type) else type(schema)
    name = cls.__name__.removesuffix("Schema")
    parts = cls.__module__.split(".")
    if len(parts) == 3 and parts[0] == "backend" and parts[2] == "schemas":
        feature = "".join(p.capitalize() for p in parts[1].split("_"))
        # LoanPlan of loans stays LoanPlan; Employer of fund becomes FundEmployer.
        if not name.startswith(feature.removesuffix("s")):
            name = feature + name
    return name


def marshmallow_plugin() -> MarshmallowPlugin:
    return MarshmallowPlugin(schema_name_resolver=schema_name)


class Blueprint(flask_smorest.Blueprint):
    def arguments(self, schema: Any, **kwargs: Any) -> Any:
        """flask-smorest's, with a schema class instantiated once here: webargs would build an
        instance of it (a deep copy of every field) on every request; and its load precompiled
        for valid input (:mod:`backend.loading`): invalid input is loaded by marshmallow, which
        raises its own errors."""
        schema = resolve_schema_instance(schema)
        schema.load = compiled_load(schema)
        return super().arguments(schema, **kwargs)

    def response(self, status_code: int | str, schema: Any = None, **kwargs: Any) -> Any:
        """flask-smorest's, with the schema's dump precompiled (:mod:`backend.dumping`): the same
        fields and formatting, without marshmallow's per-value dispatch."""
        if isinstance(schema, ma.Schema | type):
            schema = resolve_schema_instance(schema)
            schema.dump = compiled_dump(schema)
        return super().response(status_code, schema, **kwargs)

    def alt_response(
        self,
        status_code: int | str,
        response: Any = None,
        *,
        schema: Any = None,
        **kwargs: Any,
    ) -> Any:
        """Document an alternative response. Every error answer is the envelope (the one error
        handler renders it), so an error's body is documented as ``ErrorSchema`` unless the view
        names another schema or a response reference."""
        if response is None and schema is None and int(status_code) >= 400:
            schema = ErrorSchema
        return super().alt_response(status_code, response, schema=schema, **kwargs)

    def secured(
        self, guard: Callable[[F], F], security: list[dict[str, list[str]]], refused: str
    ) -> Callable[[F], F]:
        """A view decorator: ``guard`` (which raises ``Unauthorized``) around the view, and its
        documentation, the security scheme and the 401 (described as ``refused``).

        Put it above the other ``blp`` decorators: the guard then runs before argument parsing,
        so an unauthenticated call is a 401, not a 422."""

        def decorate(view: F) -> F:
            view = self.alt_response(401, description=refused)(view)
            view = self.doc(security=security)(view)
            return guard(view)

        return decorate


def stored_answer(answer: StoredAnswer, *, replay_header: str) -> Response:
    """The answer of an ``Idempotency-Key`` request as stored by its first run, sent as is (a
    replay must be byte-for-byte the first answer, so no schema dumps it again); a replay carries
    ``replay_header: true``."""
    response = jsonify(answer.body)
    response.status_code = answer.status_code
    if answer.replayed:
        response.headers[replay_header] = "true"
    return response


READ_METHODS = frozenset({"GET", "HEAD"})


def runtime() -> Runtime:
    rt: Runtime = current_app.extensions["gjj"]
    return rt


def db() -> Session:
    """The request's database session, opened on first use and closed at teardown. GET and HEAD
    only read: their session sends no transaction bookkeeping (:meth:`Runtime.read_session`)."""
    if "db_session" not in g:
        rt = runtime()
        g.db_session = rt.read_session() if request.method in READ_METHODS else rt.session()
    session: Session = g.db_session
    return session


def close_db(_exc: BaseException | None = None) -> None:
    session = g.pop("db_session", None)
    if session is not None:
        session.close()
