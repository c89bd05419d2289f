"""Alibaba Cloud SMS (dysms) ``SendSms`` over the RPC-style API with signature version 1.0.

Signature (Alibaba Cloud RPC spec): percent-encode every key and value (RFC 3986: only
``A-Z a-z 0-9 - _ . ~`` stay literal, space is ``%20``), sort by key, join ``k=v`` with ``&``;
StringToSign = ``METHOD & %2F & percent_encode(canonical_query)``; Signature =
base64(HMAC-SHA1(AccessKeySecret + "&", StringToSign)).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from urllib.parse import quote

import requests

from adapters.base import BeforeSend, mask_phone
from adapters.errors import (
    SMS,
    PermanentChannelError,
    RateLimitedError,
    TransportError,
    http_status_error,
)
from adapters.http import pinned_session

logger = logging.getLogger(__name__)

DEFAULT_ENDPOINT = "https://dysmsapi.aliyuncs.com/"
# Flow control answers: wait and retry later.
RATE_CODES = frozenset({"isv.BUSINESS_LIMIT_CONTROL", "Throttling", "Throttling.User"})
RETRYABLE_CODES = frozenset({"isp.SYSTEM_ERROR", "ServiceUnavailable", "InternalError"})


def percent_encode(value: str) -> str:
    return quote(value, safe="-_.~")


def canonical_query(params: Mapping[str, str]) -> str:
    return "&".join(f"{percent_encode(k)}={percent_encode(v)}" for k, v in sorted(params.items()))


def rpc_signature(method: str, params: Mapping[str, str], access_key_secret: str) -> str:
    string_to_sign = f"{method}&{percent_encode('/')}&{percent_encode(canonical_query(params))}"
    digest = hmac.new(
        f"{access_key_secret}&".encode(), string_to_sign.encode(), hashlib.sha1
    ).digest()
    return base64.b64encode(digest).decode("ascii")


class DysmsSender:
    """Sends the code through a template; ``template_codes`` maps scene → template, with a default."""

    def __init__(
        self,
        *,
        access_key_id: str,
        access_key_secret: str,
        sign_name: str,
        template_code: str,
        template_codes: Mapping[str, str] | None = None,
        endpoint: str = DEFAULT_ENDPOINT,
        region_id: str = "cn-hangzhou",
        timeout: float = 5.0,
        session: requests.Session | None = None,
    ) -> None:
        self.access_key_id = access_key_id
        self._secret = access_key_secret
        self.sign_name = sign_name
        self.template_code = template_code
        self.template_codes = dict(template_codes or {})
        self.endpoint = endpoint
        self.region_id = region_id
        self.timeout = timeout
        # A session passed in is the caller's as it is; our own reads the environment once.
        self._http = session if session is not None else pinned_session(endpoint)

    def __repr__(self) -> str:
        return f"DysmsSender(access_key_id={self.access_key_id!r}, endpoint={self.endpoint!r})"

    def signed_params(self, phone: str, scene: str, code: str, text: str = "") -> dict[str, str]:
        # Verification templates take ${code}; a notification (no code, e.g. a push fallback) goes
        # through its scene's template with ${content}, which dysms caps at 35 characters a variable.
        template_param = {"code": code} if code else {"content": text[:35]}
        params = {
            "AccessKeyId": self.access_key_id,
            "Action": "SendSms",
            "Format": "JSON",
            "RegionId": self.region_id,
            "SignatureMethod": "HMAC-SHA1",
            "SignatureNonce": uuid.uuid4().hex,
            "SignatureVersion": "1.0",
            "Timestamp": datetime.now(tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "Version": "2017-05-25",
            "PhoneNumbers": phone,
            "SignName": self.sign_name,
            "TemplateCode": self.template_codes.get(scene, self.template_code),
            "TemplateParam": json.dumps(template_param, ensure_ascii=False),
            "OutId": scene,
        }
        params["Signature"] = rpc_signature("POST", params, self._secret)
        return params

    def send(
        self, phone: str, scene: str, code: str, text: str, *, before_send: BeforeSend | None = None
    ) -> None:
        # `text` is the hall's rendering for the outbox; dysms renders its approved template.
        params = self.signed_params(phone, scene, code, text)
        if before_send is not None:
            before_send()
        try:
            response = self._http.post(
                self.endpoint,
                data=canonical_query(params),
                headers={"Content-Type": "application/x-www-form-urlencoded"},
                timeout=self.timeout,
            )
        except requests.Timeout:
            raise TransportError(SMS, "timeout", "dysms timed out") from None
        except requests.RequestException as exc:
            raise TransportError(SMS, "connection", type(exc).__name__) from None
        try:
            body = response.json()
        except ValueError:
            body = None
        if not isinstance(body, dict):
            raise http_status_error(SMS, response.status_code, "dysms reply is not JSON")
        result_code = str(body.get("Code", ""))
        if result_code == "OK":
            logger.info("sms sent", extra={"phone": mask_phone(phone), "scene": scene})
            return
        message = str(body.get("Message", ""))
        if result_code in RATE_CODES:
            raise RateLimitedError(SMS, result_code, message)
        if result_code in RETRYABLE_CODES or response.status_code >= 500:
            raise TransportError(SMS, result_code or f"http-{response.status_code}", message)
        raise PermanentChannelError(SMS, result_code or f"http-{response.status_code}", message)
