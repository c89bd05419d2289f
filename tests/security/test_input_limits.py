"""Input that used to reach the code as a 500: too deep JSON (RecursionError), dates at the ends
of the calendar (OverflowError), NUL bytes (PostgreSQL DataError). Each is a 4xx in the envelope,
refused centrally (request hooks, shared fields), not field by field."""

import pytest
from sqlalchemy import func, select

from backend.inbox.models import Message
from tests.security.internal import message_payload

ENVELOPE = {"code", "status", "message", "error_code"}


def _nested(depth):
    return "[" * depth + "]" * depth


def _is_envelope(r, status):
    assert r.status_code == status, (r.status_code, r.get_data(as_text=True)[:300])
    body = r.get_json()
    assert ENVELOPE <= set(body) and body["code"] == status
    assert any("\u4e00" <= ch <= "\u9fff" for ch in body["message"])
    return body


@pytest.mark.parametrize("depth", [100_000, 64])
def test_deeply_nested_json_refused_422_when_posted_to_a_member_endpoint(client, depth):
    body = '{"id_number": ' + _nested(depth) + "}"
    r = client.post("/api/v1/sessions", data=body, content_type="application/json")

    assert _is_envelope(r, 422)["error_code"] == "request.too_deep"


def test_deeply_nested_json_refused_422_when_posted_to_the_internal_api(make, client):
    raw = ('{"content": ' + _nested(100_000) + "}").encode()

    r = make.signed(client, "POST", "/internal/v1/messages", body=raw)

    assert _is_envelope(r, 422)["error_code"] == "request.too_deep"


def test_nesting_of_strings_is_not_counted_when_brackets_are_text(make, client, session):
    payload = message_payload(make.member(), content="[[[[" * 200 + '\\"{{{{' * 100)

    r = make.signed(client, "POST", "/internal/v1/messages", payload)

    assert r.status_code == 201, r.json


def test_body_over_the_size_limit_refused_413_in_the_envelope(client):
    body = '{"id_number": "' + "1" * (2 * 1024 * 1024) + '"}'

    r = client.post("/api/v1/sessions", data=body, content_type="application/json")

    assert _is_envelope(r, 413)["error_code"] == "request.too_large"


@pytest.mark.parametrize(
    "sent_at", ["0001-01-01T00:00:00+08:00", "9999-12-31T23:59:59-08:00", "1899-12-31T12:00:00"]
)
def test_message_time_out_of_bounds_refused_422_when_posted(make, client, sent_at):
    payload = message_payload(make.member(), sent_at=sent_at)

    r = make.signed(client, "POST", "/internal/v1/messages", payload)

    assert "sent_at" in _is_envelope(r, 422)["errors"]


@pytest.mark.parametrize("txn_date", ["0001-01-01", "9999-12-31"])
def test_entry_date_out_of_bounds_refused_422_when_booked(make, client, session, txn_date):
    member = make.member(balance="10.00")
    body = {
        "id_number": member.plain_id_number,
        "external_id": "d",
        "kind": "deposit",
        "amount": "1.00",
        "txn_date": txn_date,
    }

    r = make.signed(client, "POST", "/internal/v1/fund/transactions", body)

    assert "txn_date" in _is_envelope(r, 422)["errors"]


@pytest.mark.parametrize("start", ["0001-01-01", "9999-12-31"])
def test_member_date_query_out_of_bounds_refused_422(client, make, login, start):
    member = make.member(balance="10.00")

    r = client.get(f"/api/v1/fund/transactions?start={start}", headers=login(member))

    assert "start" in _is_envelope(r, 422)["errors"]


def test_nul_in_json_string_refused_422_when_posted(make, client, session):
    payload = message_payload(make.member(), content="内\u0000容")

    r = make.signed(client, "POST", "/internal/v1/messages", payload)

    assert _is_envelope(r, 422)["error_code"] == "request.nul_character"
    assert session.scalar(select(func.count(Message.id))) == 0


def test_nul_in_json_key_refused_422_when_posted(client):
    r = client.post("/api/v1/sessions", json={"id_\u0000number": "x", "password": "y"})

    assert _is_envelope(r, 422)["error_code"] == "request.nul_character"


def test_nul_in_path_id_refused_422_when_requested(make, client):
    path = "/internal/v1/applications/WD%0001/events"

    r = make.signed(client, "POST", path, {"event_id": "e", "type": "approved"})

    assert _is_envelope(r, 422)["error_code"] == "request.nul_character"


def test_nul_in_member_path_id_refused_422_when_requested(client, make, login):
    member = make.member()

    r = client.get("/api/v1/loans/JK%00001", headers=login(member))

    assert _is_envelope(r, 422)["error_code"] == "request.nul_character"


def test_nul_in_query_arg_refused_422_when_requested(client, make, login):
    member = make.member()

    r = client.get("/api/v1/messages?status=un%00read", headers=login(member))

    assert _is_envelope(r, 422)["error_code"] == "request.nul_character"
