import datetime as dt

from sqlalchemy import select

from backend.audit.models import AuditEvent
from backend.identity.lockout import IP_FAILURES
from tests.api.identity import PASSWORD, bearer, captcha, log_in


def test_login_answers_token_pair_and_masked_member_when_id_number_and_password_match(
    client, runtime, make
):
    member = make.member(password=PASSWORD)
    r = log_in(client, runtime, member.plain_id_number)
    assert r.status_code == 201
    body = r.json
    assert body["token_type"] == "Bearer"
    assert body["access_token"] and body["refresh_token"]
    assert body["expires_in"] == runtime.settings.access_token_ttl
    assert body["member"]["masked_id_number"] == member.id_number_masked
    assert body["member"]["masked_phone"] == member.phone_masked
    assert member.plain_id_number not in r.get_data(as_text=True)
    assert member.plain_phone not in r.get_data(as_text=True)
    assert client.get("/api/v1/me", headers=bearer(r)).status_code == 200


def test_login_succeeds_when_username_is_reserved_phone(client, runtime, make):
    member = make.member(password=PASSWORD)
    r = log_in(client, runtime, member.plain_phone)
    assert r.status_code == 201
    assert r.json["member"]["id"] == member.id


def test_login_same_answer_when_user_unknown_or_password_wrong(client, runtime, make):
    member = make.member(password=PASSWORD)
    unknown = log_in(client, runtime, make.id_number())
    wrong = log_in(client, runtime, member.plain_id_number, "wrong1234")
    unregistered = log_in(client, runtime, make.member().plain_id_number)
    assert unknown.status_code == wrong.status_code == unregistered.status_code == 401
    assert unknown.json == wrong.json == unregistered.json
    assert wrong.json["error_code"] == "auth.invalid_credentials"


def test_login_refused_when_captcha_wrong(client, runtime, make):
    member = make.member(password=PASSWORD)
    r = log_in(client, runtime, member.plain_id_number, captcha_code="zzzz")
    # log_in puts the right answer first; the explicit one overrides it
    assert r.status_code == 422
    assert r.json["error_code"] == "captcha.invalid"
    assert "captcha_code" in r.json["errors"]


def test_login_accepts_captcha_in_other_case_when_answer_matches(client, runtime, make):
    member = make.member(password=PASSWORD)
    c = captcha(client, runtime)
    body = {
        "username": member.plain_id_number,
        "password": PASSWORD,
        "captcha_id": c["captcha_id"],
        "captcha_code": c["captcha_code"].upper(),
    }
    assert client.post("/api/v1/sessions", json=body).status_code == 201


def test_login_refused_when_captcha_reused(client, runtime, make):
    member = make.member(password=PASSWORD)
    c = captcha(client, runtime)
    body = {"username": member.plain_id_number, "password": PASSWORD, **c}
    assert client.post("/api/v1/sessions", json=body).status_code == 201
    again = client.post("/api/v1/sessions", json=body)
    assert again.status_code == 422
    assert again.json["error_code"] == "captcha.expired"


def test_login_fields_validated_in_chinese_when_missing(client):
    r = client.post("/api/v1/sessions", json={"username": "x"})
    assert r.status_code == 422
    assert r.json["error_code"] == "request.validation_failed"
    assert r.json["errors"]["password"] == ["此项为必填项"]
    assert r.json["errors"]["captcha_id"] == ["请先获取图形验证码"]


def test_account_locked_after_five_wrong_passwords_when_within_fifteen_minutes(
    client, runtime, make, session
):
    member = make.member(password=PASSWORD)
    for _ in range(4):
        assert log_in(client, runtime, member.plain_id_number, "wrong1234").status_code == 401
    fifth = log_in(client, runtime, member.plain_id_number, "wrong1234")
    assert fifth.status_code == 403
    assert fifth.json["error_code"] == "auth.account_locked"
    assert "锁定" in fifth.json["message"] and fifth.json["locked_until"]
    assert fifth.json["locked_until"][11:16] in fifth.json["message"]
    assert int(fifth.headers["Retry-After"]) > 14 * 60
    # even the right password is refused while locked
    right = log_in(client, runtime, member.plain_id_number)
    assert right.status_code == 403
    assert right.json["error_code"] == "auth.account_locked"
    actions = session.scalars(select(AuditEvent.action).where(AuditEvent.member_id == member.id))
    assert {"auth.login_failed", "auth.locked", "auth.login_locked_out"} <= set(actions)


def test_lock_ends_when_fifteen_minutes_passed(client, runtime, make, clock):
    member = make.member(password=PASSWORD)
    for _ in range(5):
        log_in(client, runtime, member.plain_id_number, "wrong1234")
    clock.advance(minutes=14)
    assert log_in(client, runtime, member.plain_id_number).status_code == 403
    clock.advance(minutes=2)
    assert log_in(client, runtime, member.plain_id_number).status_code == 201


def test_failed_count_resets_when_login_succeeds(client, runtime, make):
    member = make.member(password=PASSWORD)
    for _ in range(4):
        log_in(client, runtime, member.plain_id_number, "wrong1234")
    assert log_in(client, runtime, member.plain_id_number).status_code == 201
    answers = [log_in(client, runtime, member.plain_id_number, "wrong1234") for _ in range(5)]
    assert [r.status_code for r in answers] == [401] * 4 + [403]


def test_ip_throttled_when_too_many_failures_from_one_address(client, runtime, make, clock):
    for _ in range(IP_FAILURES):
        assert log_in(client, runtime, make.id_number(), "wrong1234").status_code == 401
    r = log_in(client, runtime, make.member(password=PASSWORD).plain_id_number)
    assert r.status_code == 429
    assert r.json["error_code"] == "auth.ip_throttled"
    assert "Retry-After" in r.headers
    clock.advance(minutes=31)
    member = make.member(password=PASSWORD)
    assert log_in(client, runtime, member.plain_id_number).status_code == 201


def test_login_refused_like_wrong_password_when_centre_disabled_online_access(
    client, runtime, make
):
    # The right password must not be testable: the member learns the reason by SMS.
    member = make.member(password=PASSWORD, online_access=False)
    r = log_in(client, runtime, member.plain_id_number)
    assert r.status_code == 401
    assert r.json["error_code"] == "auth.invalid_credentials"


def test_login_allowed_when_fund_account_sealed_or_frozen(client, runtime, make):
    for status in ("sealed", "frozen"):
        member = make.member(password=PASSWORD, status=status)
        r = log_in(client, runtime, member.plain_id_number)
        assert r.status_code == 201
        me = client.get("/api/v1/me", headers=bearer(r))
        assert me.json["account"]["status"] == status


def test_login_and_failure_audited_with_masked_values_when_attempted(
    client, runtime, make, session
):
    member = make.member(password=PASSWORD)
    log_in(client, runtime, member.plain_id_number, "wrong1234")
    log_in(client, runtime, member.plain_phone)
    events = session.scalars(select(AuditEvent).order_by(AuditEvent.id)).all()
    assert [e.action for e in events] == ["auth.login_failed", "auth.login"]
    assert events[0].detail["username"] == member.id_number_masked
    assert events[1].detail["username"] == member.phone_masked
    assert events[1].ip == "10.0.0.1"
    for event in events:
        assert member.plain_id_number not in str(event.detail)
        assert member.plain_phone not in str(event.detail)


def test_refresh_rotates_pair_when_refresh_token_fresh(client, runtime, make):
    member = make.member(password=PASSWORD)
    first = log_in(client, runtime, member.plain_id_number)
    r = client.post("/api/v1/sessions/refresh", json={"refresh_token": first.json["refresh_token"]})
    assert r.status_code == 201
    assert r.json["refresh_token"] != first.json["refresh_token"]
    assert client.get("/api/v1/me", headers=bearer(r)).status_code == 200
    # the old access token died with the rotation
    assert client.get("/api/v1/me", headers=bearer(first)).status_code == 401


def test_refresh_reuse_revokes_family_when_spent_token_presented(client, runtime, make):
    member = make.member(password=PASSWORD)
    first = log_in(client, runtime, member.plain_id_number)
    old = {"refresh_token": first.json["refresh_token"]}
    second = client.post("/api/v1/sessions/refresh", json=old)
    reused = client.post("/api/v1/sessions/refresh", json=old)
    assert reused.status_code == 401
    assert reused.json["error_code"] == "auth.refresh_reused"
    assert client.get("/api/v1/me", headers=bearer(second)).status_code == 401
    newer = {"refresh_token": second.json["refresh_token"]}
    assert client.post("/api/v1/sessions/refresh", json=newer).status_code == 401


def test_refresh_refused_when_token_unknown(client):
    r = client.post("/api/v1/sessions/refresh", json={"refresh_token": "nope"})
    assert r.status_code == 401
    assert r.json["error_code"] == "auth.refresh_invalid"


def test_logout_revokes_session_when_current_deleted(client, runtime, make):
    member = make.member(password=PASSWORD)
    r = log_in(client, runtime, member.plain_id_number)
    assert client.delete("/api/v1/sessions/current", headers=bearer(r)).status_code == 204
    assert client.get("/api/v1/me", headers=bearer(r)).status_code == 401
    refresh = {"refresh_token": r.json["refresh_token"]}
    assert client.post("/api/v1/sessions/refresh", json=refresh).status_code == 401


def test_lock_time_shown_in_shanghai_time_when_locked(client, runtime, make, clock):
    member = make.member(password=PASSWORD)
    clock.set(dt.datetime(2026, 3, 2, 1, 0, tzinfo=dt.UTC))
    for _ in range(5):
        r = log_in(client, runtime, member.plain_id_number, "wrong1234")
    assert r.json["locked_until"] == "2026-03-02T09:15:00+08:00"
    assert "09:15" in r.json["message"]


def test_unknown_user_costs_a_password_verification_when_login_fails(client, runtime, make):
    # The dummy hash exists only once a login for an unknown user has verified against it, so
    # unknown users pay the same argon2 cost as registered ones with a wrong password.
    assert "password_dummy_hash" not in runtime.extras
    log_in(client, runtime, make.id_number(), "wrong1234")
    assert runtime.extras["password_dummy_hash"].startswith("$argon2id$")
