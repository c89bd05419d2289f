"""OPTIONS (and a 405's Allow) list the methods a route really has: the H5 catch-all route that
serves the mini-program must not add GET/HEAD to every API path."""

import pytest

from backend import app as app_module


@pytest.fixture
def h5_app(make_runtime, runtime, tmp_path):
    """The app with an H5 build present, so its catch-all route serves files."""
    (tmp_path / "index.html").write_text("<!doctype html><title>网厅</title>", encoding="utf-8")
    runtime = make_runtime(settings=runtime.settings.with_(h5_dir=str(tmp_path)))
    return app_module.create_app(runtime=runtime)


def _allowed(response):
    return {m.strip() for m in response.headers.get("Allow", "").split(",") if m.strip()}


@pytest.mark.parametrize(
    "path",
    ["/api/v1/sessions", "/internal/v1/messages", "/internal/v1/fund/transactions"],
)
def test_options_lists_only_post_when_route_is_post_only(h5_app, path):
    r = h5_app.test_client().options(path)

    assert r.status_code == 200
    assert _allowed(r) == {"POST", "OPTIONS"}


def test_get_on_post_only_route_answers_405_with_allow_when_h5_is_served(h5_app):
    r = h5_app.test_client().get("/api/v1/sessions")

    assert r.status_code == 405, r.status_code
    assert r.json["error_code"] == "request.method_not_allowed"
    assert _allowed(r) == {"POST", "OPTIONS"}


def test_h5_pages_still_served_when_path_is_not_the_api(h5_app):
    client = h5_app.test_client()

    assert client.get("/").status_code == 200
    assert "网厅" in client.get("/pages/index/index").get_data(as_text=True)
    assert client.get("/api/v1/no-such-thing").status_code == 404
