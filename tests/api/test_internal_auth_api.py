"""Authentication of the core system's calls: signature, clock skew, nonce, key rotation."""

import json

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from backend.audit.models import AuditEvent
from backend.clock import utcnow
from backend.inbox.models import Message

PATH = "/internal/v1/messages"


def _payload(member, key="k-1"):
    return {
        "id_number": member.plain_id_number,
        "business_name": "缴存通知",
        "content": "您的单位已为您汇缴。",
        "dedupe_key": key,
    }


def _now():
    return int(utcnow().timestamp())


def test_signed_call_is_accepted_and_audited_when_signature_valid(make, client, session):
    member = make.member()

    r = make.signed(client, "POST", PATH, _payload(member))

    assert r.status_code == 201, r.json
    events = session.scalars(
        select(AuditEvent).where(AuditEvent.action == "internal.message")
    ).all()
    assert [(e.actor, e.member_id) for e in events] == [("internal:core", member.id)]


@pytest.mark.parametrize("offset", [-301, 301])
def test_call_refused_when_clock_skew_exceeds_limit(make, client, offset):
    member = make.member()

    r = make.signed(client, "POST", PATH, _payload(member), timestamp=_now() + offset)

    assert r.status_code == 401
    assert r.json["error_code"] == "internal.clock_skew"
    assert make.session.scalars(select(Message)).all() == []


@pytest.mark.parametrize("offset", [-290, 290])
def test_call_accepted_when_skew_within_limit(make, client, offset):
    r = make.signed(client, "POST", PATH, _payload(make.member()), timestamp=_now() + offset)
    assert r.status_code == 201


def test_call_refused_when_nonce_reused(make, client):
    member = make.member()
    first = make.signed(client, "POST", PATH, _payload(member, "a"), nonce="nonce-0001")

    again = make.signed(client, "POST", PATH, _payload(member, "b"), nonce="nonce-0001")

    assert first.status_code == 201
    assert again.status_code == 401
    assert again.json["error_code"] == "internal.nonce_reused"
    assert len(make.session.scalars(select(Message)).all()) == 1


def test_call_refused_when_signature_made_with_wrong_secret(make, client):
    r = make.signed(client, "POST", PATH, _payload(make.member()), secret="not-the-secret")
    assert r.status_code == 401
    assert r.json["error_code"] == "internal.bad_signature"
    assert r.json["message"] == "签名校验失败"


def test_call_refused_when_key_id_unknown(make, client):
    r = make.signed(client, "POST", PATH, _payload(make.member()), key_id="intruder")
    assert r.status_code == 401 and r.json["error_code"] == "internal.unknown_key"


def test_call_refused_when_body_tampered_after_signing(make, client):
    member = make.member()
    from backend.integration import signing

    signed_body = signing.encode_body(_payload(member))
    headers = signing.signed_headers(
        "core", "core-test-secret", "POST", PATH, body=signed_body, timestamp=_now()
    )
    tampered = signed_body.replace("缴存通知".encode(), "中奖通知".encode())

    r = client.post(PATH, data=tampered, headers=headers, content_type="application/json")

    assert r.status_code == 401 and r.json["error_code"] == "internal.bad_signature"
    assert make.session.scalars(select(Message)).all() == []


def test_call_refused_when_path_or_query_differs_from_signed_one(make, client):
    from backend.integration import signing

    headers = signing.signed_headers(
        "core", "core-test-secret", "POST", PATH, query="a=1", body=b"{}", timestamp=_now()
    )

    r = client.post(PATH + "?a=2", data=b"{}", headers=headers, content_type="application/json")

    assert r.status_code == 401 and r.json["error_code"] == "internal.bad_signature"


def test_call_refused_when_headers_missing(make, client):
    r = client.post(PATH, json=_payload(make.member()))
    assert r.status_code == 401
    assert r.json["error_code"] == "internal.missing_headers"
    assert "X-Gjj-Signature" in r.json["errors"]


def test_nonce_not_burned_when_signature_bad(make, client):
    member = make.member()
    forged = make.signed(client, "POST", PATH, _payload(member), secret="guess", nonce="nonce-0002")

    genuine = make.signed(client, "POST", PATH, _payload(member), nonce="nonce-0002")

    assert forged.status_code == 401
    assert genuine.status_code == 201


def test_second_key_of_rotation_works_when_both_configured(make_runtime, runtime, make):
    from backend.app import create_app

    runtime = make_runtime(
        settings=runtime.settings.with_(
            internal_keys={"core": "old-secret", "core-2026": "new-secret"}
        )
    )
    client = create_app(runtime=runtime).test_client()
    member = make.member()

    old = make.signed(
        client, "POST", PATH, _payload(member, "x1"), key_id="core", secret="old-secret"
    )
    new = make.signed(
        client, "POST", PATH, _payload(member, "x2"), key_id="core-2026", secret="new-secret"
    )
    crossed = make.signed(
        client, "POST", PATH, _payload(member, "x3"), key_id="core-2026", secret="old-secret"
    )

    assert (old.status_code, new.status_code, crossed.status_code) == (201, 201, 401)
    actors = {e.actor for e in make.session.scalars(select(AuditEvent))}
    assert actors == {"internal:core", "internal:core-2026"}


def test_member_token_does_not_open_internal_api_when_presented(make, client, login):
    member = make.member()
    r = client.post(PATH, json=_payload(member), headers=login(member))
    assert r.status_code == 401 and r.json["error_code"] == "internal.missing_headers"


def test_cli_prints_curl_whose_signature_verifies_when_replayed(make, client, runtime, monkeypatch):
    from backend.cli import Context, cli

    member = make.member()
    monkeypatch.setenv("GJJ_INTERNAL_KEYS", "core:core-test-secret")
    body = json.dumps(_payload(member, "from-cli"), ensure_ascii=False)

    result = CliRunner().invoke(
        cli, ["internal", "curl", "POST", PATH, "--body", body], obj=Context()
    )

    assert result.exit_code == 0, result.output
    import shlex

    argv = shlex.split(result.output)
    headers = dict(argv[i + 1].split(": ", 1) for i, a in enumerate(argv) if a == "-H")
    data = argv[argv.index("--data-binary") + 1].encode()
    assert argv[argv.index("-X") + 1] == "POST" and argv[4].endswith(PATH)
    r = client.post(PATH, data=data, headers=headers)
    assert r.status_code == 201, r.json
    assert r.json["dedupe_key"] == "from-cli"


def test_cli_signs_as_the_demo_caller_when_no_keys_configured(
    make, make_runtime, runtime, monkeypatch
):
    """The demo banner's command carries no secret: `gjj internal curl` signs as the demo's own
    caller when GJJ_INTERNAL_KEYS names none (never in production)."""
    import shlex

    from backend.app import create_app
    from backend.cli import Context, cli
    from backend.integration.signing import DEMO_INTERNAL_KEY
    from devtools.demo import with_demo_internal_key

    member = make.member()
    monkeypatch.delenv("GJJ_INTERNAL_KEYS", raising=False)
    body = json.dumps(_payload(member, "from-demo-cli"), ensure_ascii=False)

    result = CliRunner().invoke(
        cli, ["internal", "curl", "POST", PATH, "--key", "demo", "--body", body], obj=Context()
    )

    assert result.exit_code == 0, result.output
    assert DEMO_INTERNAL_KEY[1] not in result.output
    argv = shlex.split(result.output)
    headers = dict(argv[i + 1].split(": ", 1) for i, a in enumerate(argv) if a == "-H")
    data = argv[argv.index("--data-binary") + 1].encode()
    runtime = make_runtime(
        settings=with_demo_internal_key(runtime.settings.with_(internal_keys={}))
    )
    r = create_app(runtime=runtime).test_client().post(PATH, data=data, headers=headers)
    assert r.status_code == 201, r.json
