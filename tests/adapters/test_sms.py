import base64
import hashlib
import hmac
import json
import logging
from datetime import datetime
from urllib.parse import quote_plus

import pytest

from adapters.errors import PermanentChannelError, RateLimitedError, TransportError
from adapters.fakes.server import HANG, LoopbackServer, Request, json_response
from adapters.sms import DysmsSender, FileOutboxSender, LogSender, build_sms_sender

KEY_ID, KEY_SECRET = "LTAIfakeid", "fake-secret-value"


def _documented_encode(value: str) -> str:
    # Alibaba's RPC signature doc (Java): URLEncoder.encode(v, "UTF-8") then
    # replace "+" -> "%20", "*" -> "%2A", "%7E" -> "~".
    return quote_plus(value, safe="*").replace("+", "%20").replace("*", "%2A").replace("%7E", "~")


class FakeDysms(LoopbackServer):
    def __init__(self):
        super().__init__()
        self.received = []
        self.answer = {"Code": "OK", "Message": "OK", "RequestId": "r1", "BizId": "b1"}
        self.hang = False  # never answer (released when the fake stops)
        self.route("POST", "/", self._send)

    def _send(self, request: Request):
        if self.hang:
            return HANG
        params = request.form()
        signature = params.pop("Signature", "")
        canonical = "&".join(
            f"{_documented_encode(k)}={_documented_encode(v)}" for k, v in sorted(params.items())
        )
        string_to_sign = "POST&%2F&" + _documented_encode(canonical)
        expected = base64.b64encode(
            hmac.new((KEY_SECRET + "&").encode(), string_to_sign.encode(), hashlib.sha1).digest()
        ).decode()
        if signature != expected:
            return json_response(
                {"Code": "SignatureDoesNotMatch", "Message": "Specified signature is not matched"},
                400,
            )
        self.received.append(params)
        return json_response(self.answer)


@pytest.fixture
def dysms():
    with FakeDysms() as fake:
        yield fake


def _sender(fake, **overrides):
    options = {
        "access_key_id": KEY_ID,
        "access_key_secret": KEY_SECRET,
        "sign_name": "某市公积金",
        "template_code": "SMS_0001",
        "template_codes": {"register": "SMS_REG"},
        "endpoint": fake.url + "/",
        "timeout": 2.0,
    }
    options.update(overrides)
    return build_sms_sender("dysms", **options)


def test_dysms_request_is_accepted_when_signed_as_alibaba_documents(dysms):
    _sender(dysms).send("13812345678", "register", "482913", "验证码482913")
    params = dysms.received[0]
    assert params["Action"] == "SendSms" and params["Version"] == "2017-05-25"
    assert params["PhoneNumbers"] == "13812345678"
    assert params["TemplateCode"] == "SMS_REG"
    assert json.loads(params["TemplateParam"]) == {"code": "482913"}
    assert params["SignName"] == "某市公积金"
    datetime.strptime(params["Timestamp"], "%Y-%m-%dT%H:%M:%SZ")


def test_dysms_uses_default_template_when_scene_has_none(dysms):
    _sender(dysms).send("13812345678", "transaction", "111111", "t")
    assert dysms.received[0]["TemplateCode"] == "SMS_0001"


def test_dysms_sends_content_through_scene_template_when_notification_has_no_code(dysms):
    text = "您的住房公积金汇缴 2026年11月 1019.76 元已到账，账户余额 39578.15 元。"
    _sender(dysms, template_codes={"push": "SMS_PUSH"}).send("13812345678", "push", "", text)
    params = dysms.received[0]
    assert params["TemplateCode"] == "SMS_PUSH"
    assert json.loads(params["TemplateParam"]) == {"content": text[:35]}


def test_dysms_raises_permanent_when_secret_is_wrong(dysms):
    with pytest.raises(PermanentChannelError) as exc:
        _sender(dysms, access_key_secret="not-the-secret").send("13812345678", "register", "1", "t")
    assert exc.value.code == "SignatureDoesNotMatch"
    assert dysms.received == []


def test_dysms_raises_rate_limited_when_flow_control_answers(dysms):
    dysms.answer = {"Code": "isv.BUSINESS_LIMIT_CONTROL", "Message": "触发分钟级流控"}
    with pytest.raises(RateLimitedError) as exc:
        _sender(dysms).send("13812345678", "register", "1", "t")
    assert exc.value.retryable


def test_dysms_raises_permanent_when_number_is_illegal(dysms):
    dysms.answer = {"Code": "isv.MOBILE_NUMBER_ILLEGAL", "Message": "非法手机号"}
    with pytest.raises(PermanentChannelError):
        _sender(dysms).send("1381234", "register", "1", "t")


def test_dysms_times_out_when_provider_never_answers(dysms):
    dysms.hang = True
    with pytest.raises(TransportError) as exc:
        _sender(dysms, timeout=0.3).send("13812345678", "register", "1", "t")
    assert exc.value.code == "timeout"


def test_file_outbox_appends_exact_fields_when_sending(tmp_path):
    path = tmp_path / "out" / "sms.jsonl"
    sender = build_sms_sender("file", path=str(path))
    assert isinstance(sender, FileOutboxSender)
    sender.send("13812345678", "register", "123456", "您的验证码为123456")
    sender.send("13900000000", "reset", "654321", "t2")
    lines = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    assert [set(line) for line in lines] == [{"phone", "scene", "code", "text", "sent_at"}] * 2
    assert lines[0]["code"] == "123456" and lines[1]["scene"] == "reset"
    assert datetime.fromisoformat(lines[0]["sent_at"]).tzinfo is not None


def test_log_sender_masks_phone_and_omits_code_when_logging(caplog):
    caplog.set_level(logging.INFO)
    sender = build_sms_sender("log")
    assert isinstance(sender, LogSender)
    sender.send("13812345678", "register", "987654", "您的验证码为987654")
    record = caplog.records[-1]
    dumped = json.dumps({**record.__dict__, "msg": record.getMessage()}, default=str)
    assert "138****5678" in dumped
    assert "13812345678" not in dumped and "987654" not in dumped


def test_factory_refuses_backend_when_unknown():
    with pytest.raises(ValueError):
        build_sms_sender("carrier-pigeon")


def test_dysms_repr_hides_secret_when_printed():
    assert KEY_SECRET not in repr(
        DysmsSender(
            access_key_id=KEY_ID, access_key_secret=KEY_SECRET, sign_name="s", template_code="t"
        )
    )


class Abort(Exception):
    pass


def _abort():
    raise Abort


def test_dysms_sends_nothing_when_before_send_raises(dysms):
    with pytest.raises(Abort):
        _sender(dysms).send("13812345678", "push", "", "t", before_send=_abort)
    assert dysms.received == []
    _sender(dysms).send("13812345678", "push", "", "t", before_send=lambda: None)
    assert len(dysms.received) == 1


def test_file_outbox_writes_nothing_when_before_send_raises(tmp_path):
    outbox = tmp_path / "outbox.jsonl"
    with pytest.raises(Abort):
        build_sms_sender("file", path=outbox).send(
            "13812345678", "push", "", "t", before_send=_abort
        )
    assert not outbox.exists()
