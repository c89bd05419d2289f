"""Operations endpoints: liveness, readiness, metrics."""

from __future__ import annotations

import ipaddress
import logging
from typing import Any

import marshmallow as ma
from flask import Response, request
from flask.views import MethodView

from backend.api import Blueprint, runtime
from backend.errors import NotFound
from backend.outages import unavailable

logger = logging.getLogger(__name__)

blp = Blueprint("ops", __name__, description="运维：存活、就绪与指标")


class HealthSchema(ma.Schema):
    status = ma.fields.String(required=True)


class ReadinessSchema(ma.Schema):
    status = ma.fields.String(required=True)
    checks = ma.fields.Dict(keys=ma.fields.String(), values=ma.fields.String(), required=True)


@blp.route("/healthz")
class Health(MethodView):
    @blp.response(200, HealthSchema)
    def get(self) -> dict[str, Any]:
        """Liveness: the process answers"""
        return {"status": "ok"}


@blp.route("/readyz")
class Ready(MethodView):
    @blp.response(200, ReadinessSchema)
    @blp.alt_response(503, description="The database or Redis is unreachable")
    def get(self) -> dict[str, Any]:
        """Readiness: the database and Redis both answer"""
        # Each check records a change of state (logged once per outage, not per probe).
        checks = {
            name: "ok" if up else "down" for name, up in runtime().dependencies.check_all().items()
        }
        if "down" in checks.values():
            raise unavailable("service.not_ready", checks=checks)
        return {"status": "ready", "checks": checks}


@blp.route("/metrics")
class MetricsView(MethodView):
    @blp.response(200, content_type="text/plain")
    @blp.alt_response(404, description="The client is not on an ops network (GJJ_METRICS_NETWORKS)")
    def get(self) -> Response:
        """Prometheus metrics (ops networks only)"""
        rt = runtime()
        if not _from_ops_network(request.remote_addr, rt.settings.metrics_networks):
            raise NotFound()
        body = rt.metrics.render()
        return Response(body, mimetype="text/plain; version=0.0.4")


def _from_ops_network(address: str | None, networks: tuple[str, ...]) -> bool:
    try:
        client = ipaddress.ip_address(address or "")
    except ValueError:
        return False
    return any(client in ipaddress.ip_network(network) for network in networks)
