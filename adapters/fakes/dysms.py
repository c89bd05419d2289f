"""A strict loopback fake of Alibaba Cloud SMS (dysms) ``SendSms``, RPC style, signature 1.0.

It checks what the real endpoint checks, as :mod:`adapters.sms.dysms` calls it: a form-encoded
POST to ``/``; the common parameters (``Format=JSON``, ``SignatureMethod=HMAC-SHA1``,
``SignatureVersion=1.0``, ``Version=2017-05-25``, ``Action=SendSms``, an ISO 8601 UTC
``Timestamp`` within 15 minutes, a ``SignatureNonce`` never seen before); the access key and the
signature (HMAC-SHA1 of ``POST&%2F&percent_encode(canonical query)`` with ``secret + "&"``,
recomputed here independently of the client's code); then the business parameters (a mainland
mobile number, a registered sign name and template, ``TemplateParam`` a JSON object of strings).
Errors answer as Alibaba does: HTTP 400/404 for the request's shape and signature, HTTP 200 with a
``Code`` for business refusals. Accepted messages are kept for ``GET /__admin/messages``.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import json
import re
import uuid
from typing import Any
from urllib.parse import quote

from adapters.fakes.server import LoopbackServer, Request, Response, apply_delay, json_response

PHONE = re.compile(r"^1[3-9]\d{9}$")
MAX_SKEW = dt.timedelta(minutes=15)
COMMON = {
    "Format": "JSON",
    "SignatureMethod": "HMAC-SHA1",
    "SignatureVersion": "1.0",
    "Version": "2017-05-25",
    "Action": "SendSms",
}
REQUIRED = (
    "AccessKeyId",
    "Signature",
    "SignatureNonce",
    "Timestamp",
    "PhoneNumbers",
    "SignName",
    "TemplateCode",
    *COMMON,
)


def _encode(value: str) -> str:
    return quote(value, safe="-_.~")


def _expected_signature(params: dict[str, str], secret: str) -> str:
    query = "&".join(
        f"{_encode(k)}={_encode(v)}" for k, v in sorted(params.items()) if k != "Signature"
    )
    to_sign = "POST&%2F&" + _encode(query)
    digest = hmac.new((secret + "&").encode(), to_sign.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


class _Refusal(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(code)
        self.status, self.code, self.message = status, code, message


class FakeDysms(LoopbackServer):
    def __init__(
        self,
        *,
        access_key_id: str,
        access_key_secret: str,
        sign_name: str,
        template_codes: list[str],
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        super().__init__(host, port)
        self.keys = {access_key_id: access_key_secret}
        self.sign_names = {sign_name}
        self.templates = set(template_codes)
        self.nonces: set[str] = set()
        self.sent_messages: list[dict[str, Any]] = []
        self.refused: dict[str, int] = {}
        self.route("POST", "/", self._send)
        self.admin("GET", "messages", lambda q: {"messages": list(self.sent_messages)})
        self.admin("GET", "refused", lambda q: {"refused": dict(self.refused)})
        self.admin("POST", "errors", self._inject)

    def _inject(self, body: dict[str, Any]) -> dict[str, Any]:
        fault: dict[str, Any] = {k: body[k] for k in ("code", "status", "delay") if k in body}
        self.faults.add(str(body.get("phone", "*")), fault, int(body.get("times", 1)))
        return {"ok": True}

    def _send(self, request: Request) -> Response:
        request_id = str(uuid.uuid4()).upper()
        try:
            params = self._check(request)
        except _Refusal as refusal:
            with self.lock:
                self.refused[refusal.code] = self.refused.get(refusal.code, 0) + 1
            body = {"Code": refusal.code, "Message": refusal.message, "RequestId": request_id}
            return json_response(body, refusal.status)
        fault = self.faults.take(params["PhoneNumbers"])
        apply_delay(fault)
        if fault and fault.get("code"):
            body = {"Code": fault["code"], "Message": "injected", "RequestId": request_id}
            return json_response(body, int(fault.get("status", 200)))
        biz_id = f"{len(self.sent_messages) + 1:06d}^{uuid.uuid4().hex[:12]}"
        with self.lock:
            self.sent_messages.append(
                {
                    "phone": params["PhoneNumbers"],
                    "sign_name": params["SignName"],
                    "template_code": params["TemplateCode"],
                    "template_param": json.loads(params.get("TemplateParam") or "{}"),
                    "out_id": params.get("OutId", ""),
                    "biz_id": biz_id,
                }
            )
        return json_response(
            {"Code": "OK", "Message": "OK", "BizId": biz_id, "RequestId": request_id}
        )

    def _check(self, request: Request) -> dict[str, str]:
        if not request.headers.get("content-type", "").startswith(
            "application/x-www-form-urlencoded"
        ):
            raise _Refusal(400, "InvalidParameter", "Content-Type must be form-urlencoded")
        params = request.form()
        for name in REQUIRED:
            if not params.get(name):
                raise _Refusal(400, f"Missing{name}", f"{name} is mandatory for this action.")
        for name, value in COMMON.items():
            if params[name] != value:
                raise _Refusal(400, f"InvalidParameter.{name}", f"{name} must be {value}")
        try:
            stamp = dt.datetime.strptime(params["Timestamp"], "%Y-%m-%dT%H:%M:%SZ").replace(
                tzinfo=dt.UTC
            )
        except ValueError:
            raise _Refusal(
                400, "InvalidTimeStamp.Format", "Timestamp is not ISO 8601 UTC"
            ) from None
        if abs(dt.datetime.now(dt.UTC) - stamp) > MAX_SKEW:
            raise _Refusal(400, "InvalidTimeStamp.Expired", "Timestamp is out of range")
        secret = self.keys.get(params["AccessKeyId"])
        if secret is None:
            raise _Refusal(404, "InvalidAccessKeyId.NotFound", "Specified access key is not found.")
        expected = _expected_signature(params, secret)
        if not hmac.compare_digest(expected, params["Signature"]):
            raise _Refusal(400, "SignatureDoesNotMatch", "Specified signature is not matched.")
        with self.lock:
            if params["SignatureNonce"] in self.nonces:
                raise _Refusal(400, "SignatureNonceUsed", "Specified signature nonce was used.")
            self.nonces.add(params["SignatureNonce"])
        if not PHONE.match(params["PhoneNumbers"]):
            raise _Refusal(200, "isv.MOBILE_NUMBER_ILLEGAL", "非法手机号")
        if params["SignName"] not in self.sign_names:
            raise _Refusal(200, "isv.SMS_SIGNATURE_ILLEGAL", "签名不合法")
        if params["TemplateCode"] not in self.templates:
            raise _Refusal(200, "isv.SMS_TEMPLATE_ILLEGAL", "模板不合法")
        try:
            template_param = json.loads(params.get("TemplateParam") or "{}")
        except ValueError:
            raise _Refusal(200, "isv.INVALID_JSON_PARAM", "JSON参数不合法") from None
        if not isinstance(template_param, dict) or not all(
            isinstance(v, str) for v in template_param.values()
        ):
            raise _Refusal(200, "isv.INVALID_JSON_PARAM", "模板变量须为字符串")
        return params
