"""Alipay and WeChat login and binding, against the loopback fakes over real HTTP."""

from __future__ import annotations

from sqlalchemy import select

from backend.audit.models import AuditEvent
from backend.channels.models import ChannelIdentity
from tests.channels import alipay_user, wechat_user

ALIPAY = "/api/v1/channels/alipay/sessions"
WECHAT = "/api/v1/channels/wechat/sessions"
BIND = "/api/v1/channels/wechat/bindings"


def _actions(session, member_id=None):
    stmt = select(AuditEvent).order_by(AuditEvent.id)
    if member_id is not None:
        stmt = stmt.where(AuditEvent.member_id == member_id)
    return [
        (e.action, e.detail.get("via") or e.detail.get("channel")) for e in session.scalars(stmt)
    ]


def _identity(session, member_id, channel):
    return session.scalars(
        select(ChannelIdentity).where(
            ChannelIdentity.member_id == member_id, ChannelIdentity.channel == channel
        )
    ).one_or_none()


def _assert_session(r, member):
    assert r.status_code == 201, r.json
    body = r.json
    assert body["token_type"] == "Bearer"
    assert body["access_token"] and body["refresh_token"] and body["expires_in"] > 0
    assert body["member"]["id"] == member.id
    assert body["member"]["masked_id_number"] == member.id_number_masked
    assert "*" in body["member"]["masked_id_number"]


# --- Alipay ----------------------------------------------------------------------------------


def test_alipay_login_binds_and_opens_session_when_certified_member(
    api, alipay_fake, make, session
):
    member = make.member(name="李四")
    user = alipay_fake.add_user(alipay_user(member))
    r = api.post(ALIPAY, json={"auth_code": alipay_fake.mint_auth_code(user.user_id)})
    _assert_session(r, member)
    identity = _identity(session, member.id, "alipay")
    assert (identity.open_id, identity.user_id) == (user.open_id, user.user_id)
    assert ("channel.bind", "alipay") in _actions(session, member.id)
    assert ("auth.login", "alipay") in _actions(session, member.id)
    me = api.get("/api/v1/me/channel-bindings", headers=_bearer(r))
    assert me.status_code == 200
    assert [b["channel"] for b in me.json["items"]] == ["alipay"]
    assert user.open_id not in me.json["items"][0]["account"]


def test_alipay_login_uses_binding_when_already_bound(api, alipay_fake, make, session):
    member = make.member()
    user = alipay_fake.add_user(alipay_user(member))
    api.post(ALIPAY, json={"auth_code": alipay_fake.mint_auth_code(user.user_id)})
    alipay_fake.grant_cert_no = False  # a bound account no longer needs the ID number
    r = api.post(ALIPAY, json={"auth_code": alipay_fake.mint_auth_code(user.user_id)})
    _assert_session(r, member)


def test_alipay_login_binds_when_identity_returned_without_is_certified(
    api, alipay_fake, make, session
):
    # Apps live after 2019-12-24 never get is_certified: name and cert_no decide.
    assert alipay_fake.legacy_app is False
    member = make.member(name="周九")
    user = alipay_fake.add_user(alipay_user(member))
    r = api.post(ALIPAY, json={"auth_code": alipay_fake.mint_auth_code(user.user_id)})
    _assert_session(r, member)
    assert _identity(session, member.id, "alipay").user_id == user.user_id


def test_alipay_login_goes_to_face_verification_when_not_certified(api, alipay_fake, make, session):
    alipay_fake.legacy_app = True  # an older app that still receives is_certified=F
    member = make.member()
    user = alipay_fake.add_user(alipay_user(member, is_certified="F"))
    r = api.post(ALIPAY, json={"auth_code": alipay_fake.mint_auth_code(user.user_id)})
    assert r.status_code == 403
    assert r.json["error_code"] == "alipay.certification_required"
    assert r.json["certification_token"]
    assert _identity(session, member.id, "alipay") is None
    assert ("auth.login_failed", "alipay") in _actions(session)


def test_alipay_login_goes_to_face_verification_when_identity_fields_are_absent(
    api, alipay_fake, make, session
):
    # Member info granted without the sensitive fields: a success reply without user_name and
    # cert_no (even an older app that is told is_certified=T).
    alipay_fake.legacy_app = True
    member = make.member(name="吴十")
    token = _certification_required(api, alipay_fake, member)  # sensitive fields not granted
    started = _start_certification(api, token, member)
    assert started.status_code == 201, started.json


def test_alipay_login_goes_to_face_verification_whatever_the_user_info_error(
    api, alipay_fake, make
):
    member = make.member()
    user = alipay_fake.add_user(alipay_user(member))
    alipay_fake.inject_error("alipay.user.info.share", code="40004", sub_code="isv.any-refusal")
    r = api.post(ALIPAY, json={"auth_code": alipay_fake.mint_auth_code(user.user_id)})
    assert r.status_code == 403
    assert r.json["error_code"] == "alipay.certification_required"


def test_alipay_login_refused_when_name_differs(api, alipay_fake, make, session):
    member = make.member(name="王五")
    user = alipay_fake.add_user(alipay_user(member, user_name="王六"))
    r = api.post(ALIPAY, json={"auth_code": alipay_fake.mint_auth_code(user.user_id)})
    assert r.status_code == 403
    assert r.json["error_code"] == "alipay.member_not_found"
    assert _identity(session, member.id, "alipay") is None


def test_alipay_login_refused_when_code_replayed(api, alipay_fake, make):
    member = make.member()
    user = alipay_fake.add_user(alipay_user(member))
    code = alipay_fake.mint_auth_code(user.user_id)
    assert api.post(ALIPAY, json={"auth_code": code}).status_code == 201
    r = api.post(ALIPAY, json={"auth_code": code})
    assert r.status_code == 401
    assert r.json["error_code"] == "alipay.code_used"


def test_alipay_login_refused_when_code_unknown(api):
    r = api.post(ALIPAY, json={"auth_code": "not-a-code"})
    assert r.status_code == 401
    assert r.json["error_code"] == "alipay.code_invalid"


def test_alipay_face_verification_opens_session_when_member_info_product_missing(
    api, alipay_fake, make, session
):
    member = make.member(name="赵六")
    user = alipay_fake.add_user(alipay_user(member))
    alipay_fake.member_info_granted = False  # 40006 isv.insufficient-isv-permissions
    r = api.post(ALIPAY, json={"auth_code": alipay_fake.mint_auth_code(user.user_id)})
    assert r.status_code == 403
    assert r.json["error_code"] == "alipay.certification_required"
    token = r.json["certification_token"]

    started = _start_certification(api, token, member)
    assert started.status_code == 201, started.json
    certify_id = started.json["certify_id"]
    assert started.json["certify_url"].startswith(alipay_fake.url)
    result = f"/api/v1/channels/alipay/certifications/{certify_id}/result"

    pending = api.post(result)
    assert pending.status_code == 409
    assert pending.json["error_code"] == "alipay.certification_pending"

    alipay_fake.complete_certification(certify_id, passed=True)
    done = api.post(result)
    _assert_session(done, member)
    assert _identity(session, member.id, "alipay").user_id == user.user_id
    # The certification completes one login only.
    assert api.post(result).status_code == 404


def _certification_required(api, alipay_fake, member):
    """An Alipay login of ``member`` that Alipay answers without the ID number."""
    user = alipay_fake.add_user(alipay_user(member))
    alipay_fake.grant_cert_no = False
    r = api.post(ALIPAY, json={"auth_code": alipay_fake.mint_auth_code(user.user_id)})
    assert r.status_code == 403
    assert r.json["error_code"] == "alipay.certification_required"
    return r.json["certification_token"]


def _start_certification(api, token, member):
    return api.post(
        "/api/v1/channels/alipay/certifications",
        json={
            "certification_token": token,
            "name": member.name,
            "id_number": member.plain_id_number,
        },
    )


def test_alipay_face_verification_stays_open_when_an_attempt_failed(
    api, alipay_fake, make, session
):
    # passed=F (with a fail_reason) is "not passed or not yet": the member may try again on the
    # same certify_id, so it is no dead end.
    member = make.member(name="钱七")
    token = _certification_required(api, alipay_fake, member)
    certify_id = _start_certification(api, token, member).json["certify_id"]
    alipay_fake.complete_certification(certify_id, passed=False, fail_reason="Z1147")
    result = f"/api/v1/channels/alipay/certifications/{certify_id}/result"
    r = api.post(result)
    assert r.status_code == 409
    assert r.json["error_code"] == "alipay.certification_pending"
    assert _identity(session, member.id, "alipay") is None
    alipay_fake.complete_certification(certify_id, passed=True)
    _assert_session(api.post(result), member)


def test_alipay_face_verification_refused_when_certify_id_expired(api, alipay_fake, make, session):
    member = make.member(name="郑一")
    token = _certification_required(api, alipay_fake, member)
    certify_id = _start_certification(api, token, member).json["certify_id"]
    alipay_fake.certifications[certify_id]["expires_at"] = alipay_fake.clock() - 1
    r = api.post(f"/api/v1/channels/alipay/certifications/{certify_id}/result")
    assert r.status_code == 403
    assert r.json["error_code"] == "alipay.certification_failed"
    assert _identity(session, member.id, "alipay") is None
    assert (
        api.post(f"/api/v1/channels/alipay/certifications/{certify_id}/result").status_code == 404
    )


def test_alipay_certification_refused_when_not_a_member(api, alipay_fake, make):
    member = make.member(name="孙八")
    token = _certification_required(api, alipay_fake, member)
    r = api.post(
        "/api/v1/channels/alipay/certifications",
        json={"certification_token": token, "name": "别人", "id_number": member.plain_id_number},
    )
    assert r.status_code == 403
    assert r.json["error_code"] == "alipay.member_not_found"
    assert alipay_fake.certifications == {}


def test_alipay_certification_refused_when_token_unknown(api, make):
    member = make.member()
    r = api.post(
        "/api/v1/channels/alipay/certifications",
        json={
            "certification_token": "nope",
            "name": member.name,
            "id_number": member.plain_id_number,
        },
    )
    assert r.status_code == 401
    assert r.json["error_code"] == "alipay.certification_expired"


# --- WeChat ----------------------------------------------------------------------------------


def _binding_required(api, wechat_fake, openid):
    r = api.post(WECHAT, json={"code": wechat_fake.mint_js_code(openid)})
    assert r.status_code == 403
    assert r.json["error_code"] == "wechat.binding_required"
    return r.json["binding_token"]


def test_wechat_binding_by_phone_then_login_by_code_when_reserved_phone(
    api, wechat_fake, make, session, runtime
):
    member = make.member()
    user = wechat_fake.add_user(wechat_user(phone=member.plain_phone))
    token = _binding_required(api, wechat_fake, user.openid)
    # The ticket lives in Redis under the prefix, with a TTL, and not in clear.
    ticket_keys = list(runtime.redis.scan_iter(match=runtime.keys("chan", "wechat-bind", "*")))
    assert len(ticket_keys) == 1 and token not in ticket_keys[0]
    assert 0 < runtime.redis.ttl(ticket_keys[0]) <= runtime.settings.channel_ticket_ttl

    r = api.post(
        BIND, json={"binding_token": token, "phone_code": wechat_fake.mint_phone_code(user.openid)}
    )
    _assert_session(r, member)
    assert _identity(session, member.id, "wechat").open_id == user.openid
    # The binding ticket is spent.
    again = api.post(
        BIND, json={"binding_token": token, "phone_code": wechat_fake.mint_phone_code(user.openid)}
    )
    assert again.status_code == 401

    later = api.post(WECHAT, json={"code": wechat_fake.mint_js_code(user.openid)})
    _assert_session(later, member)
    actions = _actions(session, member.id)
    assert ("channel.bind", "wechat") in actions
    assert actions.count(("auth.login", "wechat")) == 2


def test_wechat_binding_refused_when_phone_not_reserved(api, wechat_fake, make, session):
    member = make.member()
    user = wechat_fake.add_user(wechat_user(phone="13700000099"))
    token = _binding_required(api, wechat_fake, user.openid)
    r = api.post(
        BIND, json={"binding_token": token, "phone_code": wechat_fake.mint_phone_code(user.openid)}
    )
    assert r.status_code == 403
    assert r.json["error_code"] == "wechat.phone_not_reserved"
    assert _identity(session, member.id, "wechat") is None


def test_wechat_binding_by_password_when_registered(api, wechat_fake, make, session):
    member = make.member(password="abc12345")
    user = wechat_fake.add_user(wechat_user())
    token = _binding_required(api, wechat_fake, user.openid)
    wrong = api.post(
        BIND,
        json={"binding_token": token, "id_number": member.plain_id_number, "password": "zzz99999"},
    )
    assert wrong.status_code == 401
    assert wrong.json["error_code"] == "auth.invalid_credentials"
    r = api.post(
        BIND,
        json={"binding_token": token, "id_number": member.plain_id_number, "password": "abc12345"},
    )
    _assert_session(r, member)
    assert _identity(session, member.id, "wechat").open_id == user.openid


def test_wechat_binding_ticket_spent_when_passwords_keep_failing(api, wechat_fake, make):
    member = make.member(password="abc12345")
    user = wechat_fake.add_user(wechat_user())
    token = _binding_required(api, wechat_fake, user.openid)
    body = {"binding_token": token, "id_number": member.plain_id_number, "password": "wrong1234"}
    for _ in range(3):
        assert api.post(BIND, json=body).status_code == 401
    body["password"] = "abc12345"
    r = api.post(BIND, json=body)
    assert r.status_code == 401
    assert r.json["error_code"] == "wechat.binding_expired"


def test_wechat_binding_refused_when_proof_missing(api, wechat_fake):
    user = wechat_fake.add_user(wechat_user())
    token = _binding_required(api, wechat_fake, user.openid)
    r = api.post(BIND, json={"binding_token": token})
    assert r.status_code == 422
    assert r.json["error_code"] == "request.validation_failed"


def test_wechat_login_unavailable_when_platform_fails(api, wechat_fake):
    user = wechat_fake.add_user(wechat_user())
    wechat_fake.inject_error("/sns/jscode2session", status=502)
    r = api.post(WECHAT, json={"code": wechat_fake.mint_js_code(user.openid)})
    assert r.status_code == 503
    assert r.json["error_code"] == "wechat.unavailable"


def test_unbind_removes_binding_when_member_asks(api, wechat_fake, make, session, login):
    member = make.member()
    user = wechat_fake.add_user(wechat_user(phone=member.plain_phone))
    token = _binding_required(api, wechat_fake, user.openid)
    api.post(
        BIND, json={"binding_token": token, "phone_code": wechat_fake.mint_phone_code(user.openid)}
    )
    headers = login(member)
    assert api.delete("/api/v1/me/channel-bindings/wechat", headers=headers).status_code == 204
    assert api.get("/api/v1/me/channel-bindings", headers=headers).json["items"] == []
    assert ("channel.unbind", "wechat") in _actions(session, member.id)
    assert api.delete("/api/v1/me/channel-bindings/wechat", headers=headers).status_code == 404
    # Unbound: the next WeChat login asks for a binding again.
    _binding_required(api, wechat_fake, user.openid)


def test_channel_bindings_need_login_when_anonymous(api):
    assert api.get("/api/v1/me/channel-bindings").status_code == 401


def _bearer(r):
    return {"Authorization": f"Bearer {r.json['access_token']}"}


def test_wechat_password_binding_locks_credential_when_wrong_five_times(api, wechat_fake, make):
    member = make.member(password="abc12345")
    user = wechat_fake.add_user(wechat_user())
    body = {"id_number": member.plain_id_number, "password": "wrong1234"}
    answers = []
    for _ in range(5):
        token = _binding_required(api, wechat_fake, user.openid)
        answers.append(api.post(BIND, json={**body, "binding_token": token}).json["error_code"])
    assert answers == ["auth.invalid_credentials"] * 4 + ["auth.account_locked"]
    token = _binding_required(api, wechat_fake, user.openid)
    right = api.post(BIND, json={**body, "password": "abc12345", "binding_token": token})
    # The lock-out is the web hall's own: the right password waits it out too.
    assert right.status_code == 403
    assert right.json["error_code"] == "auth.account_locked"
