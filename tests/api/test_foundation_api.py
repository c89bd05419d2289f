from decimal import Decimal

from sqlalchemy import select

from backend.accounts.models import FundAccount


def test_unknown_path_answers_envelope_when_not_found(client):
    r = client.get("/api/v1/no-such-thing")
    assert r.status_code == 404
    assert r.json["error_code"] == "resource.not_found"
    assert r.json["code"] == 404 and r.json["status"] == "Not Found"
    assert r.json["message"]


def test_wrong_method_answers_envelope_when_not_allowed(client):
    r = client.post("/healthz")
    assert r.status_code == 405
    assert r.json["error_code"] == "request.method_not_allowed"


def test_readiness_ok_when_database_and_redis_answer(client):
    r = client.get("/readyz")
    assert r.status_code == 200
    assert r.json["checks"] == {"database": "ok", "redis": "ok"}


def test_readiness_reports_redis_down_when_redis_stopped(runtime, client):
    import redis

    # A client pointed at a port nothing listens on behaves as a stopped Redis.
    runtime.redis = redis.Redis(host="127.0.0.1", port=1, socket_connect_timeout=0.2)
    r = client.get("/readyz")
    assert r.status_code == 503
    assert r.json["error_code"] == "service.not_ready"
    assert r.json["checks"]["redis"] == "down"
    assert r.json["checks"]["database"] == "ok"


def test_money_survives_round_trip_to_the_fen_when_stored(make, session):
    member = make.member(balance="12345678.91")
    account = session.scalars(select(FundAccount).filter_by(member_id=member.id)).one()
    session.expire_all()
    assert account.balance == Decimal("12345678.91")


def test_metrics_count_each_request_by_route_method_and_status_when_scraped(client, scrape):
    # The family's HELP line is served even when nothing was counted: read the samples.
    client.get("/healthz")
    client.get("/healthz")
    client.get("/api/v1/no-such-thing")
    samples = scrape(client)
    healthz = (("endpoint", "/healthz"), ("method", "GET"), ("status", "200"))
    unmatched = (("endpoint", "unmatched"), ("method", "GET"), ("status", "404"))
    assert samples[("gjj_http_requests_total", healthz)] == 2
    assert samples[("gjj_http_requests_total", unmatched)] == 1
    assert samples[("gjj_http_request_seconds_count", (("endpoint", "/healthz"),))] == 2


def test_openapi_documents_error_envelope_when_served(client):
    spec = client.get("/openapi.json").json
    schema = spec["components"]["schemas"]["Error"]
    assert {"code", "status", "message", "error_code"} <= set(schema["properties"])


def test_post_with_method_override_reaches_patch_view_when_miniprogram_tunnels(client, make, login):
    member = make.member(password="abc12345")
    r = client.post(
        "/api/v1/me/preferences",
        json={"sound_enabled": False},
        headers={**login(member), "X-HTTP-Method-Override": "PATCH"},
    )
    assert r.status_code == 200
    assert r.json["sound_enabled"] is False


def test_request_log_names_the_route_not_the_path_when_path_carries_ids(client, caplog):
    import logging

    with caplog.at_level(logging.INFO, logger="backend.app"):
        client.put("/api/v1/password-resets/secret-reset-id/password", json={})
    logged = [r for r in caplog.records if r.getMessage() == "request"]
    assert logged and all("secret-reset-id" not in str(vars(r)) for r in logged)


def test_docs_page_loads_swagger_from_this_server_when_offline(client):
    page = client.get("/docs").get_data(as_text=True)
    assert "/docs-assets/swagger-ui-bundle.js" in page
    asset = client.get("/docs-assets/swagger-ui-bundle.js")
    assert asset.status_code == 200 and len(asset.data) > 100_000
