from sqlalchemy import select

from backend.audit.models import AuditEvent
from backend.members.models import Credential
from tests.api.identity import PASSWORD, captcha, last_code, log_in, sms_count


def send_code(client, runtime, phone, **extra):
    body = {"phone": phone, "scene": "register", **captcha(client, runtime), **extra}
    return client.post("/api/v1/sms-codes", json=body)


def registration(client, runtime, member, **overrides):
    phone = overrides.get("phone", member.plain_phone)
    assert send_code(client, runtime, phone).status_code == 202
    body = {
        "id_number": member.plain_id_number,
        "name": member.name,
        "phone": phone,
        "sms_code": last_code(runtime, phone, "register"),
        "password": PASSWORD,
        "agree_terms": True,
    }
    body.update(overrides)
    return client.post("/api/v1/registrations", json=body)


def test_registration_succeeds_and_login_works_when_member_known_and_phone_reserved(
    client, runtime, make, session
):
    member = make.member()
    r = registration(client, runtime, member)
    assert r.status_code == 201
    assert r.json == {"message": "注册成功"}
    assert session.get(Credential, member.id) is not None
    assert log_in(client, runtime, member.plain_id_number).status_code == 201
    assert log_in(client, runtime, member.plain_phone).status_code == 201
    event = session.scalars(select(AuditEvent).where(AuditEvent.action == "auth.register")).one()
    assert event.detail == {"id_number": member.id_number_masked}


def test_sms_code_sent_when_captcha_answered(client, runtime, make):
    r = send_code(client, runtime, "13912345678")
    assert r.status_code == 202
    assert r.json == {"resend_after": 60, "expires_in": 300}
    assert len(last_code(runtime, "13912345678", "register")) == 6


def test_sms_code_refused_when_captcha_wrong(client, runtime):
    r = send_code(client, runtime, "13912345678", captcha_code="0000")
    assert r.status_code == 422
    assert r.json["error_code"] == "captcha.invalid"
    assert sms_count(runtime) == 0


def test_sms_code_refused_when_captcha_missing(client, runtime):
    r = client.post("/api/v1/sms-codes", json={"phone": "13912345678", "scene": "register"})
    assert r.status_code == 422
    assert set(r.json["errors"]) == {"captcha_id", "captcha_code"}
    assert sms_count(runtime) == 0


def test_sms_code_refused_when_scene_not_register(client, runtime):
    r = send_code(client, runtime, "13912345678", scene="transaction")
    assert r.status_code == 422
    assert r.json["errors"]["scene"] == ["不支持的验证码用途"]


def test_sms_resend_refused_when_within_sixty_seconds(client, runtime):
    assert send_code(client, runtime, "13912345678").status_code == 202
    r = send_code(client, runtime, "13912345678")
    assert r.status_code == 429
    assert r.json["error_code"] == "sms.resend_too_soon"
    assert sms_count(runtime) == 1


def test_sms_daily_quota_enforced_when_phone_asked_eleven_times(client, runtime, clock):
    phone = "13912345678"
    for _ in range(10):
        assert send_code(client, runtime, phone).status_code == 202
        clock.advance(seconds=61)  # past the resend gate
    r = send_code(client, runtime, phone)
    assert r.status_code == 429
    assert r.json["error_code"] == "sms.daily_quota"


def test_sms_daily_quota_enforced_when_one_address_asks_for_many_phones(client, runtime):
    for n in range(20):
        assert send_code(client, runtime, f"1391234{n:04d}").status_code == 202
    r = send_code(client, runtime, "13912349999")
    assert r.status_code == 429
    assert r.json["error_code"] == "sms.daily_quota"


def test_registration_refused_when_phone_differs_from_reserved(client, runtime, make, session):
    member = make.member()
    r = registration(client, runtime, member, phone="13700000001")
    assert r.status_code == 422
    assert r.json["error_code"] == "register.refused"
    assert "预留的手机号码" in r.json["message"]
    assert session.get(Credential, member.id) is None


def test_registration_refused_when_already_registered(client, runtime, make):
    member = make.member(password=PASSWORD)
    r = registration(client, runtime, member)
    assert r.status_code == 422
    assert r.json["error_code"] == "register.refused"
    assert "已注册" in r.json["message"]


def test_registration_refused_when_id_number_checksum_wrong(client, runtime, make):
    member = make.member()
    bad = member.plain_id_number[:17] + ("0" if member.plain_id_number[17] != "0" else "1")
    r = registration(client, runtime, member, id_number=bad)
    assert r.status_code == 422
    assert r.json["errors"]["id_number"] == ["证件号码不正确，请核对"]


def test_registration_refused_when_password_weak(client, runtime, make, clock):
    member = make.member()
    for weak in ("12345678", "abcdefgh", "ab1", "abc123456789012345678", "abc 12345"):
        r = registration(client, runtime, member, password=weak)
        assert r.status_code == 422, weak
        assert r.json["errors"]["password"] == ["登录密码为6-18位数字和字母组合"]
        clock.advance(seconds=61)  # past the resend gate


def test_registration_refused_when_terms_not_accepted(client, runtime, make):
    member = make.member()
    r = registration(client, runtime, member, agree_terms=False)
    assert r.status_code == 422
    assert r.json["errors"]["agree_terms"] == ["请阅读并同意《网上服务条款》"]


def test_registration_refused_when_member_unknown_or_name_differs(
    client, runtime, make, session, clock
):
    member = make.member(name="李四")
    wrong_name = registration(client, runtime, member, name="王五")
    assert wrong_name.status_code == 422
    assert wrong_name.json["error_code"] == "register.refused"
    clock.advance(seconds=61)  # past the resend gate
    unknown = registration(client, runtime, member, id_number=make.id_number())
    assert unknown.json == wrong_name.json
    assert session.get(Credential, member.id) is None


def test_registration_refused_when_sms_code_wrong(client, runtime, make, session):
    member = make.member()
    assert send_code(client, runtime, member.plain_phone).status_code == 202
    real = last_code(runtime, member.plain_phone, "register")
    body = {
        "id_number": member.plain_id_number,
        "name": member.name,
        "phone": member.plain_phone,
        "sms_code": f"{(int(real) + 1) % 10**6:06d}",
        "password": PASSWORD,
        "agree_terms": True,
    }
    r = client.post("/api/v1/registrations", json=body)
    assert r.status_code == 422
    assert r.json["error_code"] == "sms.code_invalid"
    assert session.get(Credential, member.id) is None


def test_registration_refused_when_member_has_no_reserved_phone(client, runtime, make):
    member = make.member(phone=None)
    r = registration(client, runtime, member, phone="13700000002")
    assert r.status_code == 422
    assert r.json["error_code"] == "register.refused"
    assert "支付宝" in r.json["message"]


def test_registration_response_never_contains_full_identity_when_refused(client, runtime, make):
    member = make.member()
    r = registration(client, runtime, member, phone="13700000003")
    text = r.get_data(as_text=True)
    assert member.plain_id_number not in text and member.plain_phone not in text


def test_registration_refused_when_online_access_disabled(client, runtime, make, session):
    member = make.member(online_access=False)
    r = registration(client, runtime, member)
    assert r.status_code == 422
    assert r.json["error_code"] == "register.refused"
    assert session.get(Credential, member.id) is None
