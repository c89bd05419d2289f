"""The application factory: builds everything from settings; nothing happens at import time."""

from __future__ import annotations

import logging
import time
import uuid
from pathlib import Path
from typing import Any

from flask import Flask, Response, g, request, send_from_directory
from werkzeug.exceptions import HTTPException, NotFound
from werkzeug.middleware.proxy_fix import ProxyFix
from werkzeug.routing import IntegerConverter, Map, PathConverter

import backend.models  # noqa: F401  (entry point: every mapper registered before a session)
from backend.announcements.routes import blp as announcements_blp
from backend.api import Api, close_db, marshmallow_plugin
from backend.applications.routes import blp as applications_blp
from backend.appointments.routes import blp as appointments_blp
from backend.bootstrap import bootstrap
from backend.certificates.pages import blp as certificate_pages_blp
from backend.channels.routes import blp as channels_blp
from backend.errors import AppError, http_envelope
from backend.fund.routes import blp as fund_blp
from backend.guards import install_input_guards
from backend.identity.routes import blp as identity_blp
from backend.inbox.routes import blp as inbox_blp
from backend.integration.routes import blp as integration_blp
from backend.json_provider import OrjsonProvider
from backend.loans.routes import blp as loans_blp
from backend.logs import configure_logging, request_id_var
from backend.members.routes import blp as members_blp
from backend.ops.routes import blp as ops_blp
from backend.outages import dependency_of, unavailable
from backend.push.routes import blp as push_blp
from backend.runtime import Runtime
from backend.security_headers import apply_security_headers
from backend.settings import PROJECT_ROOT, Settings
from backend.transfers.routes import blp as transfers_blp
from backend.withdrawals.routes import blp as withdrawals_blp

logger = logging.getLogger(__name__)

H5_DIR = PROJECT_ROOT / "miniapp" / "dist" / "build" / "h5"

MEMBER_BLUEPRINTS = (
    identity_blp,
    members_blp,
    inbox_blp,
    applications_blp,
    fund_blp,
    withdrawals_blp,
    transfers_blp,
    loans_blp,
    channels_blp,
    push_blp,
    announcements_blp,
    appointments_blp,
)


# The largest id an INTEGER primary key holds (PostgreSQL int4, and what SQLite's driver takes).
MAX_ROW_ID = 2**31 - 1


class RowIdConverter(IntegerConverter):
    """``<int:…>`` path ids, bounded to what a primary key can hold: a larger number names no row,
    so it is a 404 (and documented as the maximum) instead of an overflow in the database driver."""

    def __init__(
        self,
        map: Map,
        fixed_digits: int = 0,
        min: int | None = None,
        max: int | None = None,
        signed: bool = False,
    ) -> None:
        super().__init__(map, fixed_digits, min, MAX_ROW_ID if max is None else max, signed)


class H5PathConverter(PathConverter):
    """A path of the H5 build: anything but the API's own prefixes, so the catch-all route never
    matches an API path. (Matching them would add GET/HEAD to every API route's OPTIONS/Allow and
    turn a wrong method into a 404 instead of a 405.)"""

    regex = r"(?!(?:api|internal)(?:/|$))[^/].*?"


def create_app(settings: Settings | None = None, *, runtime: Runtime | None = None) -> Flask:
    """Build the app over ``runtime`` (tests, ``gjj serve``), or over one bootstrapped from
    ``settings`` (default: the environment)."""
    settings = settings or (runtime.settings if runtime else Settings.from_env())
    configure_logging(settings.log_level, settings.log_json)
    rt = runtime or bootstrap(settings)

    app = Flask(__name__, static_folder=None)
    app.url_map.converters["int"] = RowIdConverter  # before any rule is added
    app.url_map.converters["h5path"] = H5PathConverter
    app.config.update(
        API_TITLE="住房公积金个人网厅 API",
        API_VERSION="1.0",
        OPENAPI_VERSION="3.0.3",
        OPENAPI_URL_PREFIX="/",
        OPENAPI_JSON_PATH="openapi.json",
        OPENAPI_SWAGGER_UI_PATH="docs",
        # Swagger UI's files are served from the installed flask-swagger-ui package, so /docs
        # works on a machine without internet access.
        OPENAPI_SWAGGER_UI_URL="/docs-assets/",
        JSON_SORT_KEYS=False,
    )
    app.json = OrjsonProvider(app)
    app.extensions["gjj"] = rt
    app.wsgi_app = MethodOverride(app.wsgi_app)  # type: ignore[method-assign]
    if settings.trusted_proxies:
        # Only the last N addresses of X-Forwarded-For were written by our proxies; with 0 the
        # header is ignored and the peer address counts (per-IP limits, audit).
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=settings.trusted_proxies)  # type: ignore[method-assign]

    api = Api(
        app,
        spec_kwargs={
            "marshmallow_plugin": marshmallow_plugin(),
            "info": {"description": "个人网厅：缴存职工自助服务与核心业务系统集成接口"},
        },
    )
    api.spec.components.security_scheme(
        "bearerAuth", {"type": "http", "scheme": "bearer", "description": "登录返回的 access_token"}
    )
    api.spec.components.security_scheme(
        "gjjSignature",
        {
            "type": "apiKey",
            "in": "header",
            "name": "X-Gjj-Signature",
            "description": "HMAC-SHA256 signature with X-Gjj-Key, X-Gjj-Timestamp, X-Gjj-Nonce",
        },
    )
    api.register_blueprint(ops_blp)
    for blp in MEMBER_BLUEPRINTS:
        api.register_blueprint(blp)
    api.register_blueprint(integration_blp)
    app.register_blueprint(certificate_pages_blp)  # HTML, outside the API and its OpenAPI

    _install_request_hooks(app, rt)
    install_input_guards(app)
    _install_error_handlers(app, rt)
    _install_docs_assets(app)
    _install_h5(app, Path(settings.h5_dir) if settings.h5_dir else H5_DIR)
    app.teardown_appcontext(close_db)
    return app


class MethodOverride:
    """``POST`` + ``X-HTTP-Method-Override: PATCH|PUT|DELETE`` → that method.

    The mini-program request APIs can't send PATCH (wx.request) or only GET/POST (older
    my.request), so their builds tunnel those methods through POST.
    """

    ALLOWED = frozenset({"PATCH", "PUT", "DELETE"})

    def __init__(self, wsgi_app: Any) -> None:
        self.wsgi_app = wsgi_app

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        override = environ.get("HTTP_X_HTTP_METHOD_OVERRIDE", "").upper()
        if environ.get("REQUEST_METHOD") == "POST" and override in self.ALLOWED:
            environ["REQUEST_METHOD"] = override
        return self.wsgi_app(environ, start_response)


def _install_request_hooks(app: Flask, rt: Runtime) -> None:
    metrics = rt.metrics
    tracker = rt.dependencies

    @app.before_request
    def _start() -> None:
        incoming = request.headers.get("X-Request-Id", "")
        rid = incoming if 0 < len(incoming) <= 64 and incoming.isprintable() else uuid.uuid4().hex
        g.request_id = rid
        g.request_token = request_id_var.set(rid)
        g.started = time.perf_counter()
        tracker.recheck_down()  # notices (and logs once) the recovery of a dependency

    @app.after_request
    def _finish(response: Response) -> Response:
        elapsed = time.perf_counter() - g.get("started", time.perf_counter())
        endpoint = request.url_rule.rule if request.url_rule else "unmatched"
        metrics.requests.labels(endpoint, request.method, str(response.status_code)).inc()
        metrics.latency.labels(endpoint).observe(elapsed)
        response.headers["X-Request-Id"] = g.get("request_id", "")
        apply_security_headers(response)
        logger.info(
            "request",
            extra={
                "method": request.method,
                # The route, not the path: paths carry short-lived secrets (password-reset ids).
                "route": endpoint,
                "status": response.status_code,
                "ms": round(elapsed * 1000, 1),
            },
        )
        return response

    @app.teardown_request
    def _reset(_exc: BaseException | None) -> None:
        token = g.pop("request_token", None)
        if token is not None:
            request_id_var.reset(token)


def _install_error_handlers(app: Flask, rt: Runtime) -> None:
    tracker = rt.dependencies

    @app.errorhandler(AppError)
    def _app_error(error: AppError) -> Any:
        return error.to_payload(), error.status_code, error.headers

    @app.errorhandler(Exception)
    def _unexpected(error: Exception) -> Any:
        if isinstance(error, HTTPException):
            return http_envelope(error.code or 500), error.code or 500
        dependency = dependency_of(error)
        if dependency is not None:
            # An outage: logged once when it starts (not a traceback per request), told as 503.
            tracker.mark_down(dependency, error)
            return _app_error(unavailable())
        logger.exception("unhandled error")
        return http_envelope(500), 500


def _install_docs_assets(app: Flask) -> None:
    import flask_swagger_ui

    assets = Path(flask_swagger_ui.__file__).resolve().parent / "dist"

    @app.get("/docs-assets/<path:path>")
    def docs_assets(path: str) -> Any:
        return send_from_directory(assets, path, max_age=86400)


def _install_h5(app: Flask, root: Path) -> None:
    """Serve the H5 build of the mini-program at / when it has been built."""

    @app.get("/")
    @app.get("/<h5path:path>")
    def h5(path: str = "index.html") -> Any:
        if not (root / "index.html").is_file():
            raise NotFound()
        if not (root / path).is_file():
            path = "index.html"
        # Pages are sent whole (never a 304): their policy is computed from the page itself.
        return send_from_directory(root, path, conditional=not path.endswith(".html"))
