"""Not telling strangers who is a member (issue 11, OWASP ASVS V2/V3): one answer and the same
work for every case a stranger can provoke; a lock-out that slows a guesser without letting
anyone lock a member out; the real reason told only to the member's reserved phone."""

from __future__ import annotations

from backend.identity.lockout import ACCOUNT_FAILURES, PAIR_FAILURES
from backend.identity.notices import NOTICES_PER_DAY, notify
from tests.api.identity import PASSWORD, captcha, last_code
from tests.api.test_identity_password import NEW, full_reset, reset_url, start
from tests.api.test_identity_register import registration
from tests.security.parallel import CountingHasher, outbox


def attempt(client, runtime, username, password, ip="10.0.0.1"):  # noqa: ANN001, ANN201
    body = {"username": username, "password": password, **captcha(client, runtime)}
    return client.post("/api/v1/sessions", json=body, environ_base={"REMOTE_ADDR": ip})


# --- login and lock-out --------------------------------------------------------------------


def test_lockout_answers_alike_when_name_known_or_unknown(client, runtime, make, clock):
    runtime.extras["password_hasher"] = hasher = CountingHasher()
    member = make.member(password=PASSWORD)
    stranger = make.id_number()
    known = [attempt(client, runtime, member.plain_id_number, "wrong1234") for _ in range(6)]
    checked_known = hasher.verified
    unknown = [attempt(client, runtime, stranger, "wrong1234") for _ in range(6)]
    expected = [401] * (PAIR_FAILURES - 1) + [403, 403]
    assert [r.status_code for r in known] == [r.status_code for r in unknown] == expected
    for k, u in zip(known, unknown, strict=True):  # the clock stands still: even times match
        assert k.json == u.json
        assert k.headers.get("Retry-After") == u.headers.get("Retry-After")
    # the same work: five password checks each (the dummy hash for the unknown name), none
    # once locked
    assert checked_known == hasher.verified - checked_known == PAIR_FAILURES


def test_member_logs_in_from_own_address_when_stranger_failed_five_times(client, runtime, make):
    member = make.member(password=PASSWORD)
    for _ in range(PAIR_FAILURES):
        attempt(client, runtime, member.plain_id_number, "wrong1234", ip="10.9.9.9")
    assert (
        attempt(client, runtime, member.plain_id_number, "wrong1234", ip="10.9.9.9").json[
            "error_code"
        ]
        == "auth.account_locked"
    )
    assert attempt(client, runtime, member.plain_id_number, PASSWORD).status_code == 201


def test_name_paused_everywhere_and_member_told_when_many_addresses_fail(client, runtime, make):
    member = make.member(password=PASSWORD)
    for i in range(ACCOUNT_FAILURES):
        ip = f"10.1.{i // PAIR_FAILURES}.1"
        assert attempt(client, runtime, member.plain_phone, "wrong1234", ip=ip).status_code in (
            401,
            403,
        )
    r = attempt(client, runtime, member.plain_phone, PASSWORD, ip="10.2.0.1")
    assert r.status_code == 403 and r.json["error_code"] == "auth.account_locked"
    assert int(r.headers["Retry-After"]) > 23 * 3600
    notices = outbox(runtime, member.plain_phone, "notice")
    assert len(notices) == 1 and "暂停密码登录" in notices[0]["text"]
    # The member lifts it with the forgotten-password flow.
    assert full_reset(client, runtime, member).status_code == 204
    assert attempt(client, runtime, member.plain_phone, NEW, ip="10.2.0.1").status_code == 201


def test_disabled_member_right_password_answers_like_wrong_one_when_tried(client, runtime, make):
    member = make.member(password=PASSWORD, online_access=False)
    right = attempt(client, runtime, member.plain_id_number, PASSWORD)
    wrong = attempt(client, runtime, member.plain_id_number, "wrong1234")
    assert right.status_code == wrong.status_code == 401
    assert right.json == wrong.json
    notices = outbox(runtime, member.plain_phone, "notice")
    assert len(notices) == 1 and "停用" in notices[0]["text"]


def test_notices_capped_per_day_when_refusals_repeat(runtime, make, clock):
    member = make.member(password=PASSWORD)
    for _ in range(NOTICES_PER_DAY + 2):
        notify(runtime, member, "access_disabled")
    assert len(outbox(runtime, member.plain_phone, "notice")) == NOTICES_PER_DAY
    clock.advance(days=1)
    notify(runtime, member, "access_disabled")
    assert len(outbox(runtime, member.plain_phone, "notice")) == NOTICES_PER_DAY + 1


# --- registration --------------------------------------------------------------------------


def test_registration_refusals_answer_alike_and_cost_alike_when_causes_differ(
    client, runtime, make
):
    runtime.extras["password_hasher"] = hasher = CountingHasher()
    registered = make.member(password=PASSWORD)
    member = make.member(name="李四")
    disabled = make.member(online_access=False)
    no_phone = make.member(phone=None)
    hashed = hasher.hashed
    answers = [
        registration(client, runtime, registered),
        registration(client, runtime, member, phone="13700000001"),
        registration(client, runtime, member, phone="13700000002", name="王五"),
        registration(client, runtime, member, phone="13700000003", id_number=make.id_number()),
        registration(client, runtime, disabled),
        registration(client, runtime, no_phone, phone="13700000004"),
    ]
    assert [r.status_code for r in answers] == [422] * 6
    assert all(r.json == answers[0].json for r in answers)
    assert answers[0].json["error_code"] == "register.refused"
    assert hasher.hashed - hashed == 6  # one argon2 hash each, as a registration costs
    assert registration(client, runtime, member).status_code == 201
    assert hasher.hashed - hashed == 7


def test_member_told_real_reason_by_sms_when_registration_refused(client, runtime, make):
    registered = make.member(password=PASSWORD)
    member = make.member()
    registration(client, runtime, registered)
    registration(client, runtime, member, phone="13700000001")
    assert "已注册" in outbox(runtime, registered.plain_phone, "notice")[0]["text"]
    assert "其他手机号" in outbox(runtime, member.plain_phone, "notice")[0]["text"]
    assert outbox(runtime, "13700000001", "notice") == []


# --- forgotten password --------------------------------------------------------------------


def test_reset_answers_alike_when_member_registered_or_not_or_disabled(client, runtime, make):
    registered = make.member(password=PASSWORD)
    unregistered = make.member()
    disabled = make.member(password=PASSWORD, online_access=False)
    people = (registered, unregistered, disabled)
    started = [start(client, runtime, m) for m in people]
    assert [r.status_code for r in started] == [201] * 3
    assert [r.json["masked_phone"] for r in started] == [m.phone_masked for m in people]
    sent = [client.post(reset_url(r.json["reset_id"], "sms-codes")) for r in started]
    assert [r.status_code for r in sent] == [202] * 3
    assert [set(r.json) for r in sent] == [set(sent[0].json)] * 3
    # a code for the member who may reset; the reason, and no code, for the others
    assert last_code(runtime, registered.plain_phone, "reset")
    assert outbox(runtime, unregistered.plain_phone, "reset") == []
    assert "尚未注册" in outbox(runtime, unregistered.plain_phone, "notice")[0]["text"]
    assert "停用" in outbox(runtime, disabled.plain_phone, "notice")[0]["text"]
    guessed = [
        client.post(reset_url(r.json["reset_id"], "verification"), json={"sms_code": "000000"})
        for r in started[1:]
    ]
    assert [g.json["error_code"] for g in guessed] == ["sms.code_invalid"] * 2


def test_reset_refusal_same_when_no_reserved_phone_or_identity_wrong(client, runtime, make):
    no_phone = make.member(password=PASSWORD, phone=None)
    member = make.member(password=PASSWORD, name="赵六")
    answers = [
        start(client, runtime, no_phone),
        start(client, runtime, member, name="钱七"),
        start(client, runtime, member, id_number=make.id_number()),
    ]
    assert [r.status_code for r in answers] == [422] * 3
    assert all(r.json == answers[0].json for r in answers)
    assert "支付宝" in answers[0].json["message"] and "柜台" in answers[0].json["message"]
