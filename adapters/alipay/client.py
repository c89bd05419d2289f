"""Alipay open-platform client on alipay-sdk-python 3.7.1411, with its quirks worked around.

Public surface: :class:`AlipayConfig`, :class:`AlipayClient` and the small result dataclasses.
Every failure surfaces as an ``adapters.errors.ChannelError`` subclass.

This module holds the API calls (what each method asks and how its answer reads); the signed
envelope is in :mod:`adapters.alipay.envelope`, the way to the gateway (pooled session, deadline,
SDK errors mapped to channel errors) in :mod:`adapters.alipay.transport`. The names this module
has always answered to stay importable from it (the ``import X as X`` lines re-export them).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import parse_qsl, quote, urlencode

from alipay.aop.api.AlipayClientConfig import AlipayClientConfig
from alipay.aop.api.constant.ParamConstants import P_AUTH_TOKEN
from alipay.aop.api.request.AlipayOpenAppMessagetemplateSubscribeQueryRequest import (
    AlipayOpenAppMessagetemplateSubscribeQueryRequest,
)
from alipay.aop.api.request.AlipayOpenAppMiniTemplatemessageSendRequest import (
    AlipayOpenAppMiniTemplatemessageSendRequest,
)
from alipay.aop.api.request.AlipaySystemOauthTokenRequest import AlipaySystemOauthTokenRequest
from alipay.aop.api.request.AlipayUserCertifyOpenCertifyRequest import (
    AlipayUserCertifyOpenCertifyRequest,
)
from alipay.aop.api.request.AlipayUserCertifyOpenInitializeRequest import (
    AlipayUserCertifyOpenInitializeRequest,
)
from alipay.aop.api.request.AlipayUserCertifyOpenQueryRequest import (
    AlipayUserCertifyOpenQueryRequest,
)
from alipay.aop.api.request.AlipayUserInfoShareRequest import AlipayUserInfoShareRequest

from adapters.alipay import keys
from adapters.alipay.config import PRODUCTION_GATEWAY as PRODUCTION_GATEWAY
from adapters.alipay.config import SANDBOX_GATEWAY as SANDBOX_GATEWAY
from adapters.alipay.config import AlipayConfig
from adapters.alipay.envelope import BEIJING as BEIJING
from adapters.alipay.envelope import aes_decrypt as aes_decrypt
from adapters.alipay.envelope import aes_encrypt as aes_encrypt
from adapters.alipay.envelope import beijing_timestamp as beijing_timestamp
from adapters.alipay.envelope import notification_is_signed, open_phone_payload
from adapters.alipay.results import ID_CARD_CERT_TYPES as ID_CARD_CERT_TYPES
from adapters.alipay.results import (
    AlipayCertification,
    AlipayOAuthToken,
    AlipayPhone,
    AlipaySubscription,
    AlipayUserInfo,
)
from adapters.alipay.results import CertificationStatus as CertificationStatus
from adapters.alipay.transport import Gateway
from adapters.base import BeforeSend, SendResult
from adapters.errors import ALIPAY, ALIPAY_OK, PermanentChannelError, alipay_error
from adapters.redact import install_log_redaction

# The certify_id is unknown or past its 23 hours.
CERTIFY_GONE_SUB_CODES = frozenset({"OPEN_CERTIFY_BILL_NOT_EXIST"})


class AlipayClient:
    """What the backend calls for Alipay: login, real name, face check, phone, push.

    ``monotonic`` is the clock of each call's whole deadline (tests pass their own)."""

    channel = ALIPAY

    def __init__(
        self, config: AlipayConfig, *, monotonic: Callable[[], float] = time.monotonic
    ) -> None:
        self.config = config
        sdk_config = AlipayClientConfig()
        sdk_config.app_id = config.app_id
        sdk_config.sign_type = "RSA2"
        sdk_config.app_private_key = keys.private_key_pkcs1_pem(config.app_private_key)
        sdk_config.alipay_public_key = keys.public_key_pem(config.alipay_public_key)
        sdk_config.server_url = config.server_url
        sdk_config.timeout = config.timeout
        self._alipay_public_key = sdk_config.alipay_public_key
        self._gateway = Gateway(sdk_config, config, monotonic=monotonic)
        install_log_redaction()

    @property
    def timeouts(self) -> tuple[float, float]:
        """(connect, each read) seconds as handed to the socket."""
        return self._gateway.timeouts

    def close(self) -> None:
        """Close the pooled connections (the client stays usable: the pool reopens)."""
        self._gateway.close()

    # -- login and real name --------------------------------------------------------------------

    def exchange_auth_code(self, auth_code: str) -> AlipayOAuthToken:
        """``alipay.system.oauth.token``: a single-use ``my.getAuthCode`` code for the member's ids."""
        request = AlipaySystemOauthTokenRequest()
        request.grant_type = "authorization_code"
        request.code = auth_code
        data = self._gateway.call(request)
        return AlipayOAuthToken(
            user_id=data.get("user_id"),
            open_id=data.get("open_id"),
            union_id=data.get("union_id"),
            access_token=data["access_token"],
            expires_in=_int_or_none(data.get("expires_in")),
            refresh_token=data.get("refresh_token"),
        )

    def user_info(self, access_token: str) -> AlipayUserInfo:
        """``alipay.user.info.share``. Fields the app is not granted are simply absent (check
        ``has_verified_identity``); ``CertNoWithheldError`` when the member-info product itself
        is missing (40006)."""
        request = AlipayUserInfoShareRequest()
        request.udf_params = {P_AUTH_TOKEN: access_token}
        data = self._gateway.call(request)
        return AlipayUserInfo(
            user_id=data.get("user_id"),
            open_id=data.get("open_id"),
            user_name=data.get("user_name"),
            cert_type=data.get("cert_type"),
            cert_no=data.get("cert_no"),
            is_certified=None if "is_certified" not in data else data["is_certified"] == "T",
            mobile=data.get("mobile"),
        )

    # -- face verification (支付宝身份验证) -------------------------------------------------------

    def start_certification(
        self, *, outer_order_no: str, cert_name: str, cert_no: str, return_url: str
    ) -> str:
        """``alipay.user.certify.open.initialize`` → ``certify_id``."""
        request = AlipayUserCertifyOpenInitializeRequest()
        request.biz_content = {
            "outer_order_no": outer_order_no,
            "biz_code": "FACE",
            "identity_param": {
                "identity_type": "CERT_INFO",
                "cert_type": "IDENTITY_CARD",
                "cert_name": cert_name,
                "cert_no": cert_no,
            },
            "merchant_config": {"return_url": return_url},
        }
        return str(self._gateway.call(request)["certify_id"])

    def certification_url(self, certify_id: str) -> str:
        """Signed URL of the ``alipay.user.certify.open.certify`` page the mini-program opens."""
        request = AlipayUserCertifyOpenCertifyRequest()
        request.biz_content = {"certify_id": certify_id}
        return str(self._gateway.page_execute(request, http_method="GET"))

    def query_certification(self, certify_id: str) -> AlipayCertification:
        """``alipay.user.certify.open.query``: passed (T), pending (F) or expired (unknown id)."""
        request = AlipayUserCertifyOpenQueryRequest()
        request.biz_content = {"certify_id": certify_id}
        try:
            data = self._gateway.call(request)
        except PermanentChannelError as exc:
            if exc.sub_code in CERTIFY_GONE_SUB_CODES:
                return AlipayCertification(certify_id=certify_id, status="expired")
            raise
        return AlipayCertification(
            certify_id=certify_id,
            status="passed" if data.get("passed") == "T" else "pending",
            fail_reason=data.get("fail_reason") or None,
        )

    # -- phone (my.getPhoneNumber) ---------------------------------------------------------------

    def decrypt_phone(self, payload: str | Mapping[str, str]) -> AlipayPhone:
        """Verify and decrypt a ``my.getPhoneNumber`` payload (the JSON string or its dict)."""
        if self.config.aes_key is None:
            raise PermanentChannelError(ALIPAY, "config", "aes_key not configured")
        data = open_phone_payload(payload, self._alipay_public_key, self.config.aes_key)
        code = str(data.get("code", ALIPAY_OK))
        if code != ALIPAY_OK:
            raise alipay_error(
                code,
                data.get("msg", ""),
                data.get("subCode") or data.get("sub_code"),
                data.get("subMsg") or data.get("sub_msg"),
            )
        mobile = data.get("mobile")
        if not mobile:
            raise PermanentChannelError(ALIPAY, "invalid-payload", "phone payload has no mobile")
        return AlipayPhone(mobile=str(mobile))

    # -- subscription messages -------------------------------------------------------------------

    def send_subscription(
        self,
        recipient: str,
        template_id: str,
        data: Mapping[str, str],
        page: str | None = None,
        *,
        before_send: BeforeSend | None = None,
    ) -> SendResult:
        """``alipay.open.app.mini.templatemessage.send``; ``recipient`` is an open_id or a 2088 user_id."""
        biz: dict[str, str] = {
            "user_template_id": template_id,
            # Alipay wants `data` as a JSON *string* inside biz_content, not a nested object.
            "data": json.dumps({k: {"value": v} for k, v in data.items()}, ensure_ascii=False),
        }
        biz["to_user_id" if _is_user_id(recipient) else "to_open_id"] = recipient
        if page:
            biz["page"] = encode_page_query(page)
        request = AlipayOpenAppMiniTemplatemessageSendRequest()
        request.biz_content = biz
        self._gateway.call(request, before_send)
        return SendResult(channel=ALIPAY)

    def query_subscriptions(
        self, recipient: str, template_ids: list[str]
    ) -> list[AlipaySubscription]:
        """``alipay.open.app.messagetemplate.subscribe.query``: the member's consent per template."""
        biz: dict[str, Any] = {"template_id_list": list(template_ids)}
        biz["user_id" if _is_user_id(recipient) else "open_id"] = recipient
        request = AlipayOpenAppMessagetemplateSubscribeQueryRequest()
        request.biz_content = biz
        data = self._gateway.call(request)
        return [
            AlipaySubscription(
                template_id=str(rel.get("template_id")),
                subscribe_state=_str_or_none(rel.get("subscribe_state")),
                subscribe_type=_str_or_none(rel.get("subscribe_type")),
            )
            for rel in data.get("subscribe_relations") or []
        ]

    # -- notifications Alipay sends to us --------------------------------------------------------

    def verify_notification(self, params: Mapping[str, str]) -> bool:
        """Check an asynchronous notification; both ``sign`` and ``sign_type`` are excluded."""
        return notification_is_signed(params, self._alipay_public_key)


def encode_page_query(page: str) -> str:
    """``pages/x?id=1&from=推送`` → ``pages/x?id=1&from=%E6%8E%A8%E9%80%81``: Alipay wants the
    page's query URL-encoded. Values already encoded are decoded first, so none is encoded twice."""
    path, sep, query = page.partition("?")
    if not sep:
        return page
    return path + "?" + urlencode(parse_qsl(query, keep_blank_values=True), quote_via=quote)


def _is_user_id(recipient: str) -> bool:
    # Alipay user_ids are 16 digits starting 2088; open_ids are opaque strings.
    return len(recipient) == 16 and recipient.startswith("2088") and recipient.isdigit()


def _int_or_none(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _str_or_none(value: Any) -> str | None:
    return None if value is None else str(value)
