import json
from pathlib import Path

from sqlalchemy import select

from backend.audit.models import AuditEvent
from backend.members.models import Credential
from tests.api.identity import (
    PASSWORD,
    bearer,
    captcha,
    last_code,
    log_in,
)

NEW = "newpass99"


def change(client, headers, old=PASSWORD, new=NEW):
    body = {"old_password": old, "new_password": new}
    return client.put("/api/v1/me/password", json=body, headers=headers)


def test_password_change_keeps_current_and_ends_other_sessions_when_old_password_right(
    client, runtime, make, session
):
    member = make.member(password=PASSWORD)
    here = log_in(client, runtime, member.plain_id_number)
    elsewhere = log_in(client, runtime, member.plain_phone)
    assert change(client, bearer(here)).status_code == 204
    assert client.get("/api/v1/me", headers=bearer(here)).status_code == 200
    assert client.get("/api/v1/me", headers=bearer(elsewhere)).status_code == 401
    other_refresh = {"refresh_token": elsewhere.json["refresh_token"]}
    assert client.post("/api/v1/sessions/refresh", json=other_refresh).status_code == 401
    assert log_in(client, runtime, member.plain_id_number).status_code == 401
    assert log_in(client, runtime, member.plain_id_number, NEW).status_code == 201
    actions = session.scalars(select(AuditEvent.action)).all()
    assert "auth.password_changed" in actions


def test_password_change_refused_when_old_password_wrong(client, runtime, make):
    member = make.member(password=PASSWORD)
    r = change(client, bearer(log_in(client, runtime, member.plain_id_number)), old="wrong1234")
    assert r.status_code == 422
    assert r.json["error_code"] == "password.old_incorrect"
    assert log_in(client, runtime, member.plain_id_number).status_code == 201


def test_password_change_refused_when_new_equals_old(client, runtime, make):
    member = make.member(password=PASSWORD)
    r = change(client, bearer(log_in(client, runtime, member.plain_id_number)), new=PASSWORD)
    assert r.status_code == 422
    assert r.json["error_code"] == "password.unchanged"


def test_password_change_refused_when_new_password_weak(client, runtime, make):
    member = make.member(password=PASSWORD)
    r = change(client, bearer(log_in(client, runtime, member.plain_id_number)), new="123456")
    assert r.status_code == 422
    assert r.json["errors"]["new_password"] == ["登录密码为6-18位数字和字母组合"]


def test_password_change_needs_login_when_no_token(client):
    r = client.put("/api/v1/me/password", json={"old_password": PASSWORD, "new_password": NEW})
    assert r.status_code == 401


# --- forgotten password -------------------------------------------------------------------


def start(client, runtime, member, **overrides):
    body = {"name": member.name, "id_number": member.plain_id_number, **captcha(client, runtime)}
    body.update(overrides)
    return client.post("/api/v1/password-resets", json=body)


def reset_url(reset_id, step):
    return f"/api/v1/password-resets/{reset_id}/{step}"


def full_reset(client, runtime, member, new=NEW):
    reset_id = start(client, runtime, member).json["reset_id"]
    assert client.post(reset_url(reset_id, "sms-codes")).status_code == 202
    code = last_code(runtime, member.plain_phone, "reset")
    assert (
        client.post(reset_url(reset_id, "verification"), json={"sms_code": code}).status_code == 200
    )
    return client.put(reset_url(reset_id, "password"), json={"new_password": new})


def test_reset_sets_new_password_and_ends_sessions_when_all_steps_done(
    client, runtime, make, session
):
    member = make.member(password=PASSWORD)
    before = log_in(client, runtime, member.plain_id_number)
    started = start(client, runtime, member)
    assert started.status_code == 201
    assert started.json["masked_phone"] == member.phone_masked
    reset_id = started.json["reset_id"]
    sent = client.post(reset_url(reset_id, "sms-codes"))
    assert sent.status_code == 202
    assert sent.json["masked_phone"] == member.phone_masked
    code = last_code(runtime, member.plain_phone, "reset")
    verified = client.post(reset_url(reset_id, "verification"), json={"sms_code": code})
    assert verified.status_code == 200
    done = client.put(reset_url(reset_id, "password"), json={"new_password": NEW})
    assert done.status_code == 204
    assert client.get("/api/v1/me", headers=bearer(before)).status_code == 401
    assert log_in(client, runtime, member.plain_id_number, NEW).status_code == 201
    actions = session.scalars(select(AuditEvent.action)).all()
    assert {"auth.password_reset_started", "auth.password_reset"} <= set(actions)
    for r in (started, sent):
        text = r.get_data(as_text=True)
        assert member.plain_id_number not in text and member.plain_phone not in text


def test_reset_ticket_single_use_when_password_already_set(client, runtime, make):
    member = make.member(password=PASSWORD)
    reset_id = start(client, runtime, member).json["reset_id"]
    client.post(reset_url(reset_id, "sms-codes"))
    code = last_code(runtime, member.plain_phone, "reset")
    client.post(reset_url(reset_id, "verification"), json={"sms_code": code})
    assert (
        client.put(reset_url(reset_id, "password"), json={"new_password": NEW}).status_code == 204
    )
    again = client.put(reset_url(reset_id, "password"), json={"new_password": "other123"})
    assert again.status_code == 404
    assert again.json["error_code"] == "reset.expired"


def test_reset_refuses_password_when_code_not_verified(client, runtime, make, session):
    member = make.member(password=PASSWORD)
    reset_id = start(client, runtime, member).json["reset_id"]
    skipped = client.put(reset_url(reset_id, "password"), json={"new_password": NEW})
    assert skipped.status_code == 409
    assert skipped.json["error_code"] == "reset.step_skipped"
    client.post(reset_url(reset_id, "sms-codes"))
    still = client.put(reset_url(reset_id, "password"), json={"new_password": NEW})
    assert still.status_code == 409
    assert log_in(client, runtime, member.plain_id_number).status_code == 201


def test_reset_refuses_verification_when_no_code_sent(client, runtime, make):
    member = make.member(password=PASSWORD)
    reset_id = start(client, runtime, member).json["reset_id"]
    r = client.post(reset_url(reset_id, "verification"), json={"sms_code": "123456"})
    assert r.status_code == 409
    assert r.json["error_code"] == "reset.step_skipped"


def test_reset_refuses_verification_when_code_wrong(client, runtime, make):
    member = make.member(password=PASSWORD)
    reset_id = start(client, runtime, member).json["reset_id"]
    client.post(reset_url(reset_id, "sms-codes"))
    real = last_code(runtime, member.plain_phone, "reset")
    wrong = f"{(int(real) + 1) % 10**6:06d}"
    r = client.post(reset_url(reset_id, "verification"), json={"sms_code": wrong})
    assert r.status_code == 422
    assert r.json["error_code"] == "sms.code_invalid"
    skipped = client.put(reset_url(reset_id, "password"), json={"new_password": NEW})
    assert skipped.status_code == 409


def test_reset_expires_when_fifteen_minutes_passed(client, runtime, make, clock):
    member = make.member(password=PASSWORD)
    reset_id = start(client, runtime, member).json["reset_id"]
    clock.advance(minutes=16)
    r = client.post(reset_url(reset_id, "sms-codes"))
    assert r.status_code == 404
    assert r.json["error_code"] == "reset.expired"


def test_reset_unknown_id_answers_not_found_when_never_started(client):
    r = client.post(reset_url("nope", "sms-codes"))
    assert r.status_code == 404
    assert r.json["error_code"] == "reset.expired"


def test_reset_same_message_when_name_or_id_number_wrong(client, runtime, make):
    member = make.member(password=PASSWORD, name="赵六")
    wrong_name = start(client, runtime, member, name="钱七")
    wrong_id = start(client, runtime, member, id_number=make.id_number())
    assert wrong_name.status_code == wrong_id.status_code == 422
    assert wrong_name.json == wrong_id.json
    assert wrong_name.json["error_code"] == "reset.identity_mismatch"
    assert "姓名" in wrong_name.json["message"] and "证件号码" in wrong_name.json["message"]


def test_reset_refused_with_alipay_hint_when_no_reserved_phone(client, runtime, make):
    member = make.member(password=PASSWORD, phone=None)
    r = start(client, runtime, member)
    assert r.status_code == 422
    assert r.json["error_code"] == "reset.identity_mismatch"
    assert "支付宝" in r.json["message"] and "柜台" in r.json["message"]


def test_reset_refused_when_captcha_wrong(client, runtime, make):
    member = make.member(password=PASSWORD)
    r = start(client, runtime, member, captcha_code="0000")
    assert r.status_code == 422
    assert r.json["error_code"] == "captcha.invalid"


def test_reset_lifts_lock_when_password_reset(client, runtime, make, session):
    member = make.member(password=PASSWORD)
    for _ in range(5):
        log_in(client, runtime, member.plain_id_number, "wrong1234")
    assert full_reset(client, runtime, member).status_code == 204
    assert log_in(client, runtime, member.plain_id_number, NEW).status_code == 201
    session.expire_all()
    assert session.get(Credential, member.id).locked_until is None


def test_reset_openapi_says_reset_complete_when_documented(client):
    spec = client.get("/openapi.json").json
    op = spec["paths"]["/api/v1/password-resets/{reset_id}/password"]["put"]
    assert "重置完成" in op["summary"] + op.get("description", "")
    assert "204" in op["responses"]


def test_reset_code_replaced_by_reason_when_online_access_disabled(client, runtime, make):
    member = make.member(password=PASSWORD, online_access=False)
    r = start(client, runtime, member)
    assert r.status_code == 201
    assert client.post(reset_url(r.json["reset_id"], "sms-codes")).status_code == 202
    sent = [json.loads(line) for line in Path(runtime.settings.sms_outbox).read_text().splitlines()]
    assert [(s["scene"], s["code"]) for s in sent] == [("notice", "")]
    assert "停用" in sent[0]["text"]
