import json
import time
from urllib.parse import parse_qs, urlsplit

import pytest

from adapters.alipay import keys
from adapters.alipay.envelope import aes_encrypt
from adapters.errors import (
    CertNoWithheldError,
    ConsentRequiredError,
    InvalidCodeError,
    PermanentChannelError,
    ResponseSignatureError,
    RetryableChannelError,
    SignatureError,
    TransportError,
)

APP_ID = "2021000000000001"
USER_ID = "2088000000000001"
OPEN_ID = "open-ali-0001"
CERT_NO = "110101199003074519"

TEMPLATE = "tmpl-ali-1"


def test_auth_code_exchange_returns_ids_when_code_is_fresh(alipay, alipay_fake):
    code = alipay_fake.mint_auth_code(USER_ID)
    token = alipay.exchange_auth_code(code)
    assert token.user_id == USER_ID
    assert token.open_id == OPEN_ID
    assert token.access_token.startswith("authusr")
    assert token.access_token not in repr(token)


def test_auth_code_is_refused_when_used_twice(alipay, alipay_fake):
    code = alipay_fake.mint_auth_code(USER_ID)
    alipay.exchange_auth_code(code)
    with pytest.raises(InvalidCodeError) as exc:
        alipay.exchange_auth_code(code)
    assert exc.value.code == "40002"
    assert exc.value.sub_code == "isv.code-invalid"
    assert exc.value.retryable is False


def test_user_info_reads_real_name_when_app_is_granted_cert_no(alipay, alipay_fake):
    token = alipay.exchange_auth_code(alipay_fake.mint_auth_code(USER_ID))
    info = alipay.user_info(token.access_token)
    assert info.user_name == "张三"
    assert info.cert_no == CERT_NO
    assert info.cert_type == "0"
    assert info.mobile == "13812345678"
    assert info.has_verified_identity
    assert CERT_NO not in repr(info)
    assert "13812345678" not in repr(info)


def test_user_info_raises_cert_no_withheld_when_member_info_product_is_missing(alipay, alipay_fake):
    alipay_fake.member_info_granted = False
    token = alipay.exchange_auth_code(alipay_fake.mint_auth_code(USER_ID))
    with pytest.raises(CertNoWithheldError) as exc:
        alipay.user_info(token.access_token)
    assert (exc.value.code, exc.value.sub_code) == ("40006", "isv.insufficient-isv-permissions")
    assert not exc.value.retryable


def test_user_info_is_not_trusted_when_member_is_not_certified(alipay, alipay_fake, ali_user):
    alipay_fake.legacy_app = True  # only apps live before 2019-12-24 still get is_certified
    alipay_fake.add_user({**ali_user, "is_certified": "F"})
    token = alipay.exchange_auth_code(alipay_fake.mint_auth_code(USER_ID))
    info = alipay.user_info(token.access_token)
    assert info.is_certified is False
    assert info.has_verified_identity is False


def test_user_info_trusts_returned_identity_when_is_certified_is_not_returned(alipay, alipay_fake):
    # Apps live after 2019-12-24 never receive is_certified; name and cert_no still come back
    # (Alipay releases them only for a member it certified).
    token = alipay.exchange_auth_code(alipay_fake.mint_auth_code(USER_ID))
    info = alipay.user_info(token.access_token)
    assert info.is_certified is None
    assert info.has_verified_identity is True


def test_user_info_has_no_identity_when_sensitive_fields_are_not_granted(alipay, alipay_fake):
    alipay_fake.grant_cert_no = False  # the fields are simply absent from a success reply
    token = alipay.exchange_auth_code(alipay_fake.mint_auth_code(USER_ID))
    info = alipay.user_info(token.access_token)
    assert (info.user_name, info.cert_no) == (None, None)
    assert info.has_verified_identity is False


def test_user_info_raises_permanent_when_auth_token_is_invalid(alipay):
    with pytest.raises(PermanentChannelError) as exc:
        alipay.user_info("authusrBnonsense")
    assert exc.value.code == "20001"
    assert exc.value.sub_code == "aop.invalid-auth-token"


def test_gateway_rejects_request_when_app_signs_with_another_key(
    alipay_fake, gateway_key, aes_key, make_alipay
):
    stranger = keys.generate_private_key_pem(2048)
    client = make_alipay(alipay_fake, stranger, gateway_key, aes_key)
    with pytest.raises(SignatureError) as exc:
        client.exchange_auth_code(alipay_fake.mint_auth_code(USER_ID))
    assert (exc.value.code, exc.value.sub_code) == ("40002", "isv.invalid-signature")
    assert not isinstance(exc.value, ResponseSignatureError)
    assert not exc.value.retryable


def test_client_refuses_reply_when_gateway_response_is_tampered(alipay, alipay_fake):
    alipay_fake.inject_error("alipay.system.oauth.token", tamper=True)
    with pytest.raises(ResponseSignatureError) as exc:
        alipay.exchange_auth_code(alipay_fake.mint_auth_code(USER_ID))
    assert exc.value.retryable is False


def test_client_refuses_reply_when_signed_by_unknown_gateway_key(
    alipay_fake, app_key, aes_key, make_alipay
):
    other_gateway = keys.generate_private_key_pem(2048)
    client = make_alipay(alipay_fake, app_key, other_gateway, aes_key)
    with pytest.raises(ResponseSignatureError):
        client.exchange_auth_code(alipay_fake.mint_auth_code(USER_ID))


@pytest.mark.parametrize("form", ["pkcs1", "pkcs8", "pkcs8-bare", "pkcs1-bare"])
def test_client_signs_correctly_when_private_key_is_given_as(
    form, alipay_fake, app_key, gateway_key, aes_key, make_alipay
):
    pem = keys.private_key_pkcs8_pem(app_key) if form.startswith("pkcs8") else app_key
    if form.endswith("bare"):
        pem = "".join(line for line in pem.splitlines() if not line.startswith("-----"))
    gateway_public_bare = "".join(
        line
        for line in keys.public_key_pem(gateway_key).splitlines()
        if not line.startswith("-----")
    )
    client = make_alipay(
        alipay_fake, pem, gateway_key, aes_key, alipay_public_key=gateway_public_bare
    )
    token = client.exchange_auth_code(alipay_fake.mint_auth_code(USER_ID))
    assert token.user_id == USER_ID


def test_timestamp_is_beijing_time_when_host_timezone_is_not(monkeypatch, alipay, alipay_fake):
    monkeypatch.setenv("TZ", "America/Los_Angeles")
    time.tzset()
    try:
        code = alipay_fake.mint_auth_code(USER_ID)
        assert alipay.exchange_auth_code(code).user_id == USER_ID
    finally:
        monkeypatch.undo()
        time.tzset()


def test_gateway_rejects_request_when_timestamp_is_hours_off(alipay, alipay_fake):
    # The gateway's clock 8 h ahead: what a UTC-stamped request looks like to real Alipay.
    alipay_fake.clock = lambda: time.time() + 8 * 3600
    with pytest.raises(PermanentChannelError) as exc:
        alipay.query_certification("x")
    assert (exc.value.code, exc.value.sub_code) == ("40002", "isv.invalid-timestamp")


def test_error_maps_to_retryable_when_gateway_answers_20000(alipay, alipay_fake):
    alipay_fake.inject_error(
        "alipay.user.certify.open.query",
        code="20000",
        msg="Service Currently Unavailable",
        sub_code="isp.unknow-error",
    )
    with pytest.raises(RetryableChannelError) as exc:
        alipay.query_certification("whatever")
    assert exc.value.code == "20000"
    assert exc.value.sub_code == "isp.unknow-error"


@pytest.mark.parametrize("code", ["40001", "40002", "40004", "40006"])
def test_error_is_permanent_with_sub_code_when_gateway_answers(code, alipay, alipay_fake):
    alipay_fake.inject_error(
        "alipay.user.certify.open.query", code=code, sub_code=f"isv.sub-{code}"
    )
    with pytest.raises(PermanentChannelError) as exc:
        alipay.query_certification("whatever")
    assert exc.value.retryable is False
    assert (exc.value.code, exc.value.sub_code) == (code, f"isv.sub-{code}")


@pytest.mark.parametrize("status", [500, 502, 503])
def test_error_is_retryable_when_gateway_answers_http(status, alipay, alipay_fake):
    alipay_fake.inject_error("*", status=status)
    with pytest.raises(TransportError) as exc:
        alipay.query_certification("x")
    assert exc.value.retryable and exc.value.code == f"http-{status}"


def test_socket_waits_are_cut_to_the_whole_call_when_longer(
    alipay_fake, app_key, gateway_key, aes_key, make_alipay
):
    client = make_alipay(alipay_fake, app_key, gateway_key, aes_key, timeout=2.0, read_timeout=5.0)
    assert client.timeouts == (2.0, 2.0)  # (connect, each read): neither outlasts the call
    client = make_alipay(alipay_fake, app_key, gateway_key, aes_key, connect_timeout=1.0)
    assert client.timeouts == (1.0, 2.0)


def test_timeout_is_honoured_when_gateway_never_answers(
    alipay_fake, app_key, gateway_key, aes_key, make_alipay
):
    client = make_alipay(alipay_fake, app_key, gateway_key, aes_key, timeout=0.3)
    alipay_fake.inject_error("*", hang=True)
    with pytest.raises(TransportError) as exc:
        client.query_certification("x")
    assert exc.value.code == "timeout" and exc.value.retryable


class TickingClock:
    """A monotonic clock that moves one second each time it is read."""

    def __init__(self):
        self.reads = 0

    def __call__(self):
        self.reads += 1
        return float(self.reads)


def test_whole_call_deadline_ends_a_reply_that_never_finishes(
    alipay_fake, app_key, gateway_key, aes_key, make_alipay
):
    # Each byte arrives well inside the read timeout: only the whole-call deadline ends the call,
    # and it is kept on the client's clock. Read 1 sets it at 1 + 3 = 4; reads 2, 3 and 4 each let
    # a piece of the reply in; read 5 is past it.
    clock = TickingClock()
    client = make_alipay(
        alipay_fake, app_key, gateway_key, aes_key, timeout=3.0, read_timeout=30.0, monotonic=clock
    )
    alipay_fake.inject_error("*", trickle=True)
    with pytest.raises(TransportError) as exc:
        client.query_certification("x")
    assert exc.value.code == "timeout" and exc.value.retryable
    assert clock.reads == 5


def test_calls_reuse_one_connection_when_made_in_turn(alipay, alipay_fake):
    before = alipay_fake.connections
    for _ in range(3):
        alipay.exchange_auth_code(alipay_fake.mint_auth_code(USER_ID))
    assert alipay_fake.connections - before == 1


def test_unsigned_error_reply_keeps_code_and_sub_code_when_gateway_omits_sign(alipay, alipay_fake):
    alipay_fake.inject_error(
        "alipay.user.info.share", code="40004", sub_code="USER_NOT_EXIST", unsigned=True
    )
    with pytest.raises(PermanentChannelError) as exc:
        alipay.user_info("not-a-token")
    assert not isinstance(exc.value, TransportError)
    assert (exc.value.code, exc.value.sub_code, exc.value.retryable) == (
        "40004",
        "USER_NOT_EXIST",
        False,
    )


def test_unsigned_error_response_keeps_its_code_when_app_id_is_unknown(
    alipay_fake, app_key, gateway_key, aes_key, make_alipay
):
    client = make_alipay(alipay_fake, app_key, gateway_key, aes_key, app_id="2021009999999999")
    with pytest.raises(PermanentChannelError) as exc:
        client.query_certification("x")
    assert (exc.value.code, exc.value.sub_code) == ("40002", "isv.invalid-app-id")


def test_unsigned_success_reply_is_refused(alipay, alipay_fake):
    alipay_fake.inject_error("alipay.user.certify.open.query", code="10000", unsigned=True)
    with pytest.raises(ResponseSignatureError):
        alipay.query_certification("x")


def test_connection_error_is_retryable_when_gateway_is_down(
    alipay_fake, app_key, gateway_key, aes_key, make_alipay
):
    client = make_alipay(alipay_fake, app_key, gateway_key, aes_key)
    alipay_fake.stop()
    with pytest.raises(TransportError) as exc:
        client.query_certification("x")
    assert exc.value.code == "connection"


def test_face_certification_passes_when_member_completes_it(alipay, alipay_fake):
    certify_id = alipay.start_certification(
        outer_order_no="ord-1", cert_name="张三", cert_no=CERT_NO, return_url="alipays://x"
    )
    assert alipay.query_certification(certify_id).passed is False
    url = alipay.certification_url(certify_id)
    parts = urlsplit(url)
    assert parts.port == urlsplit(alipay_fake.gateway_url).port
    query = {k: v[0] for k, v in parse_qs(parts.query).items()}
    assert query["method"] == "alipay.user.certify.open.certify"
    assert json.loads(query["biz_content"]) == {"certify_id": certify_id}
    import requests

    assert requests.get(url, timeout=2).status_code == 200  # the fake verified its signature
    assert alipay_fake.certifications[certify_id]["opened"] is True
    alipay_fake.complete_certification(certify_id, passed=True)
    assert alipay.query_certification(certify_id).passed is True


def test_face_certification_stays_pending_when_an_attempt_fails(alipay, alipay_fake):
    # passed=F means "not passed or not yet": a failed attempt may be followed by a pass on the
    # same certify_id, and fail_reason is no verdict (it stays next to a later T).
    certify_id = alipay.start_certification(
        outer_order_no="ord-2", cert_name="张三", cert_no=CERT_NO, return_url="alipays://x"
    )
    alipay_fake.complete_certification(certify_id, passed=False, fail_reason="Z1147")
    result = alipay.query_certification(certify_id)
    assert (result.status, result.fail_reason) == ("pending", "Z1147")
    alipay_fake.complete_certification(certify_id, passed=True)
    assert alipay.query_certification(certify_id).status == "passed"


def test_face_certification_is_expired_when_certify_id_is_past_23_hours(alipay, alipay_fake):
    certify_id = alipay.start_certification(
        outer_order_no="ord-4", cert_name="张三", cert_no=CERT_NO, return_url="alipays://x"
    )
    alipay_fake.certifications[certify_id]["expires_at"] = alipay_fake.clock() - 1
    assert alipay.query_certification(certify_id).status == "expired"


def test_certify_page_is_refused_when_url_signature_is_altered(alipay, alipay_fake):
    import requests

    certify_id = alipay.start_certification(
        outer_order_no="ord-3", cert_name="张三", cert_no=CERT_NO, return_url="alipays://x"
    )
    url = alipay.certification_url(certify_id).replace("version=1.0", "version=1.1")
    assert requests.get(url, timeout=2).status_code == 400


def test_phone_payload_decrypts_when_signature_is_valid(alipay, alipay_fake):
    payload = alipay_fake.phone_payload(USER_ID, APP_ID)
    phone = alipay.decrypt_phone(payload)
    assert phone.mobile == "13812345678"
    assert "13812345678" not in repr(phone)
    assert alipay.decrypt_phone(json.loads(payload)).mobile == "13812345678"


def test_phone_payload_is_refused_when_ciphertext_is_swapped(alipay, alipay_fake, aes_key):
    payload = json.loads(alipay_fake.phone_payload(USER_ID, APP_ID))
    payload["response"] = aes_encrypt('{"code":"10000","mobile":"13900000000"}', aes_key)
    with pytest.raises(SignatureError):
        alipay.decrypt_phone(payload)


def test_phone_payload_error_is_typed_when_platform_reports_one_inside(
    alipay, alipay_fake, aes_key, gateway_key
):
    ciphertext = aes_encrypt(
        '{"code":"40003","msg":"Insufficient Conditions","subCode":"isv.invalid-auth"}', aes_key
    )
    payload = {
        "response": ciphertext,
        "sign": keys.sign(gateway_key, f'"{ciphertext}"'.encode()),
        "sign_type": "RSA2",
        "encrypt_type": "AES",
        "charset": "UTF-8",
    }
    with pytest.raises(PermanentChannelError) as exc:
        alipay.decrypt_phone(payload)
    assert (exc.value.code, exc.value.sub_code) == ("40003", "isv.invalid-auth")


def test_template_send_spends_one_time_consent_when_message_goes_out(alipay, alipay_fake):
    alipay_fake.grant_consent(USER_ID, TEMPLATE, count=1)
    result = alipay.send_subscription(
        OPEN_ID, TEMPLATE, {"keyword1": "到账 1234.50 元"}, "pages/inbox/index?id=1"
    )
    assert result.channel == "alipay"
    assert alipay_fake.remaining_consent(USER_ID, TEMPLATE) == 0
    sent = alipay_fake.sent_messages[-1]
    assert sent["data"] == {"keyword1": "到账 1234.50 元"}
    assert sent["page"] == "pages/inbox/index?id=1"
    with pytest.raises(ConsentRequiredError) as exc:
        alipay.send_subscription(USER_ID, TEMPLATE, {"keyword1": "x"})
    assert exc.value.retryable is False
    assert len(alipay_fake.sent_messages) == 1


def test_template_send_url_encodes_page_query_and_allows_50_characters(alipay, alipay_fake):
    alipay_fake.grant_consent(USER_ID, TEMPLATE, count=1)
    value = "住房公积金" * 10  # 50 characters: Alipay's limit per value, not WeChat's 20
    alipay.send_subscription(
        OPEN_ID, TEMPLATE, {"keyword1": value}, "pages/inbox/index?id=1&from=推送 消息"
    )
    sent = alipay_fake.sent_messages[-1]
    assert sent["data"] == {"keyword1": value}
    assert sent["page"] == "pages/inbox/index?id=1&from=%E6%8E%A8%E9%80%81%20%E6%B6%88%E6%81%AF"


def test_template_send_is_refused_when_value_exceeds_50_characters(alipay, alipay_fake):
    alipay_fake.grant_consent(USER_ID, TEMPLATE, count=1)
    with pytest.raises(PermanentChannelError) as exc:
        alipay.send_subscription(OPEN_ID, TEMPLATE, {"keyword1": "长" * 51})
    assert (exc.value.code, exc.value.sub_code) == ("40002", "isv.invalid-parameter")
    assert exc.value.consent_unused
    assert alipay_fake.remaining_consent(USER_ID, TEMPLATE) == 1


def test_subscription_query_reflects_consent_when_granted_and_spent(alipay, alipay_fake):
    alipay_fake.grant_consent(USER_ID, TEMPLATE, count=1)
    alipay_fake.grant_consent(USER_ID, "tmpl-long", longterm=True)
    subs = {
        s.template_id: s
        for s in alipay.query_subscriptions(USER_ID, [TEMPLATE, "tmpl-long", "tmpl-none"])
    }
    assert subs[TEMPLATE].subscribed and subs["tmpl-long"].subscribed
    assert subs["tmpl-long"].subscribe_type == "longterm"
    assert not subs["tmpl-none"].subscribed
    alipay.send_subscription(USER_ID, TEMPLATE, {"keyword1": "x"})
    assert not alipay.query_subscriptions(OPEN_ID, [TEMPLATE])[0].subscribed


def test_notification_verifies_when_signed_by_gateway_and_fails_when_altered(alipay, alipay_fake):
    params = alipay_fake.sign_notification(
        {"notify_id": "n1", "app_id": APP_ID, "trade_status": "OK"}
    )
    assert alipay.verify_notification(params)
    assert not alipay.verify_notification({**params, "trade_status": "FAIL"})
    assert not alipay.verify_notification({k: v for k, v in params.items() if k != "sign"})


def test_debug_logs_carry_no_auth_token_or_identity_when_calls_go_out(caplog, alipay, alipay_fake):
    import logging

    with caplog.at_level(logging.DEBUG):
        token = alipay.exchange_auth_code(alipay_fake.mint_auth_code(USER_ID))
        alipay.user_info(token.access_token)
    text = "\n".join(r.getMessage() for r in caplog.records)
    assert "urllib3" in {r.name.split(".")[0] for r in caplog.records}
    assert token.access_token not in text
    assert CERT_NO not in text


class Abort(Exception):
    pass


def test_template_send_sends_nothing_when_before_send_raises(alipay, alipay_fake):
    alipay_fake.grant_consent(USER_ID, TEMPLATE, count=2)
    calls = []

    def abort():
        calls.append(len(alipay_fake.sent_messages))
        raise Abort

    with pytest.raises(Abort):
        alipay.send_subscription(OPEN_ID, TEMPLATE, {"keyword1": "x"}, before_send=abort)
    assert calls == [0] and alipay_fake.sent_messages == []
    alipay.send_subscription(OPEN_ID, TEMPLATE, {"keyword1": "x"}, before_send=lambda: None)
    assert len(alipay_fake.sent_messages) == 1
