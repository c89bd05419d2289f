"""The strict dysms fake (``adapters.fakes.dysms``) accepts what the sender sends and refuses what
Alibaba Cloud refuses: it is what the production check points ``GJJ_DYSMS_ENDPOINT`` at."""

from __future__ import annotations

import pytest

from adapters.errors import PermanentChannelError
from adapters.fakes.dysms import FakeDysms
from adapters.sms import DysmsSender


@pytest.fixture
def fake():
    server = FakeDysms(
        access_key_id="LTAIcheck",
        access_key_secret="check-secret",
        sign_name="示范公积金",
        template_codes=["SMS_1", "SMS_9"],
    )
    with server:
        yield server


def _sender(fake, secret="check-secret", **overrides):
    options = {
        "access_key_id": "LTAIcheck",
        "access_key_secret": secret,
        "sign_name": "示范公积金",
        "template_code": "SMS_1",
        "template_codes": {"push": "SMS_9"},
        "endpoint": fake.url + "/",
    }
    options.update(overrides)
    return DysmsSender(**options)


def test_fake_dysms_records_message_when_request_signed_by_sender(fake):
    _sender(fake).send("13800138000", "register", "246810", "")
    _sender(fake).send("13800138000", "push", "", "您的提取款已到账")
    assert [(m["template_code"], m["template_param"]) for m in fake.sent_messages] == [
        ("SMS_1", {"code": "246810"}),
        ("SMS_9", {"content": "您的提取款已到账"}),
    ]


def test_fake_dysms_refuses_signature_when_secret_is_wrong(fake):
    with pytest.raises(PermanentChannelError) as caught:
        _sender(fake, secret="not-the-secret").send("13800138000", "register", "1", "")
    assert caught.value.code == "SignatureDoesNotMatch"
    assert fake.sent_messages == []


def test_fake_dysms_refuses_replayed_nonce_when_request_sent_twice(fake):
    import requests

    from adapters.sms.dysms import canonical_query

    params = _sender(fake).signed_params("13800138000", "register", "1")
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    first = requests.post(fake.url + "/", data=canonical_query(params), headers=headers, timeout=5)
    again = requests.post(fake.url + "/", data=canonical_query(params), headers=headers, timeout=5)
    assert first.json()["Code"] == "OK"
    assert (again.status_code, again.json()["Code"]) == (400, "SignatureNonceUsed")


@pytest.mark.parametrize(
    ("overrides", "phone", "code"),
    [
        ({"sign_name": "别的签名"}, "13800138000", "isv.SMS_SIGNATURE_ILLEGAL"),
        ({"template_code": "SMS_404"}, "13800138000", "isv.SMS_TEMPLATE_ILLEGAL"),
        ({}, "12345", "isv.MOBILE_NUMBER_ILLEGAL"),
        ({"access_key_id": "LTAIother"}, "13800138000", "InvalidAccessKeyId.NotFound"),
    ],
)
def test_fake_dysms_refuses_business_parameters_when_not_registered(fake, overrides, phone, code):
    with pytest.raises(PermanentChannelError) as caught:
        _sender(fake, **overrides).send(phone, "register", "1", "")
    assert caught.value.code == code
