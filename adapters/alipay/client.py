"""Alipay open-platform client on alipay-sdk-python 3.7.1411, with its quirks worked around.

Public surface: :class:`AlipayConfig`, :class:`AlipayClient` and the small result dataclasses.
Every failure surfaces as an ``adapters.errors.ChannelError`` subclass.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any, Literal
from urllib.parse import parse_qsl, quote, urlencode

import requests
import urllib3
from alipay.aop.api.AlipayClientConfig import AlipayClientConfig
from alipay.aop.api.constant.CommonConstants import THREAD_LOCAL
from alipay.aop.api.constant.ParamConstants import P_AUTH_TOKEN, P_SIGN, P_TIMESTAMP
from alipay.aop.api.DefaultAlipayClient import DefaultAlipayClient
from alipay.aop.api.exception.Exception import RequestException, ResponseException
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
from alipay.aop.api.util.WebUtils import url_encode
from cryptography.hazmat.primitives import padding as sym_padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from requests.adapters import HTTPAdapter

from adapters.alipay import keys
from adapters.base import SendResult, mask_id_number, mask_phone
from adapters.errors import (
    ALIPAY,
    ALIPAY_OK,
    ChannelError,
    PermanentChannelError,
    ResponseSignatureError,
    SignatureError,
    TransportError,
    alipay_error,
    http_status_error,
)
from adapters.redact import install_log_redaction

logger = logging.getLogger(__name__)

PRODUCTION_GATEWAY = "https://openapi.alipay.com/gateway.do"
SANDBOX_GATEWAY = "https://openapi-sandbox.dl.alipaydev.com/gateway.do"

# China has had no daylight saving since 1991: a fixed +08:00 offset is exact and needs no tzdata.
BEIJING = timezone(timedelta(hours=8), "Asia/Shanghai")


def beijing_timestamp(now: datetime | None = None) -> str:
    """The gateway's ``timestamp``: ``yyyy-MM-dd HH:mm:ss`` in Beijing time."""
    moment = now if now is not None else datetime.now(tz=BEIJING)
    return moment.astimezone(BEIJING).strftime("%Y-%m-%d %H:%M:%S")


@dataclass(frozen=True)
class AlipayConfig:
    app_id: str
    app_private_key: str = field(repr=False)
    alipay_public_key: str = field(repr=False)
    # Always set explicitly: the SDK's sandbox_debug=True still points at a retired host.
    server_url: str = PRODUCTION_GATEWAY
    # Content key from the console (base64), used to decrypt my.getPhoneNumber payloads.
    aes_key: str | None = field(default=None, repr=False)
    # The whole call (connect, send, every read) ends within `timeout` seconds; connecting
    # alone may take `connect_timeout`, and each wait for bytes `read_timeout` (default: timeout).
    timeout: float = 10.0
    connect_timeout: float = 3.0
    read_timeout: float | None = None
    # Connections kept open per client (calls from several threads share the pool).
    pool_size: int = 10


@dataclass(frozen=True)
class AlipayOAuthToken:
    user_id: str | None
    open_id: str | None
    union_id: str | None
    access_token: str = field(repr=False)
    expires_in: int | None = None
    refresh_token: str | None = field(default=None, repr=False)


# cert_type of alipay.user.info.share: 0 is the resident identity card (身份证).
ID_CARD_CERT_TYPES = frozenset({"0", "IDENTITY_CARD"})


@dataclass(frozen=True)
class AlipayUserInfo:
    user_id: str | None
    open_id: str | None
    user_name: str | None
    cert_type: str | None
    cert_no: str | None = field(repr=False)
    # None when Alipay did not say: applications live after 2019-12-24 never receive it.
    is_certified: bool | None
    mobile: str | None = field(repr=False)

    @property
    def has_verified_identity(self) -> bool:
        """Alipay released a real name: a name and an identity-card number it certified.

        Alipay releases user_name/cert_no only for a certified member and only to an app granted
        them, so their presence is what counts; an explicit ``is_certified=F`` (older apps still
        get the field) withdraws the trust. Anything missing means face verification instead.
        """
        return (
            self.is_certified is not False
            and bool(self.user_name)
            and bool(self.cert_no)
            and (self.cert_type is None or self.cert_type in ID_CARD_CERT_TYPES)
        )

    def __repr__(self) -> str:
        return (
            f"AlipayUserInfo(user_id={self.user_id!r}, open_id={self.open_id!r}, "
            f"cert_no={mask_id_number(self.cert_no or '')!r}, is_certified={self.is_certified}, "
            f"mobile={mask_phone(self.mobile or '')!r})"
        )


CertificationStatus = Literal["passed", "pending", "expired"]


@dataclass(frozen=True)
class AlipayCertification:
    """Result of ``alipay.user.certify.open.query``.

    ``passed`` T: passed. F means "not passed, or not certified yet": the reply does not tell a
    failed attempt from one not made, and the member may (re)try on the same certify_id while it
    is valid (23 hours), so F is ``pending``. ``fail_reason`` is an attempt's code, returned even
    next to T: it decides nothing. A certify_id the gateway no longer knows
    (40004 ``OPEN_CERTIFY_BILL_NOT_EXIST``) is ``expired``: start again.
    """

    certify_id: str
    status: CertificationStatus
    fail_reason: str | None = None

    @property
    def passed(self) -> bool:
        return self.status == "passed"


@dataclass(frozen=True)
class AlipaySubscription:
    template_id: str
    # subscribe_state as Alipay returns it ("1" subscribed, "0" not), kept raw for operators.
    subscribe_state: str | None
    subscribe_type: str | None

    @property
    def subscribed(self) -> bool:
        return self.subscribe_state == "1"


@dataclass(frozen=True)
class AlipayPhone:
    mobile: str = field(repr=False)

    def __repr__(self) -> str:
        return f"AlipayPhone(mobile={mask_phone(self.mobile)!r})"


class _GatewayClient(DefaultAlipayClient):
    """The SDK client with its request timestamp and transport replaced.

    Both overrides hook the SDK's name-mangled private methods; the SDK is pinned (==3.7.1411) so
    these names are stable, and the tests exercise both paths against a real loopback gateway.
    """

    def __init__(self, sdk_config: AlipayClientConfig, config: AlipayConfig) -> None:
        # No logger on purpose: the SDK logs the full request URL (auth_token included) and the
        # raw response (cert_no, mobile) at INFO.
        super().__init__(sdk_config, logger=None)
        self._server_url = config.server_url
        self._total = config.timeout
        read = config.read_timeout if config.read_timeout is not None else config.timeout
        self._timeouts = (min(config.connect_timeout, config.timeout), min(read, config.timeout))
        # One pooled session per client: keep-alive connections are reused across calls instead
        # of a TCP (and TLS) handshake per call. No retries at this level: callers decide.
        self._session = requests.Session()
        adapter = HTTPAdapter(
            pool_connections=1, pool_maxsize=max(config.pool_size, 1), max_retries=0
        )
        self._session.mount("http://", adapter)
        self._session.mount("https://", adapter)

    def _DefaultAlipayClient__prepare_request_params(  # noqa: N802 - overrides the SDK's mangled name
        self, request: Any
    ) -> tuple[dict[str, str], dict[str, str]]:
        # Re-implemented because the SDK stamps `timestamp` with datetime.now() in the host's
        # local zone; the gateway reads it as Beijing time, so a UTC container is 8 h off.
        THREAD_LOCAL.logger = None
        params = request.get_params()
        if request.need_encrypt:
            raise RequestException(f"{params.get('method')} requires content encryption")
        params[P_TIMESTAMP] = beijing_timestamp()
        common_params = self._DefaultAlipayClient__get_common_params(params)
        all_params = {**params, **common_params}
        config = self._DefaultAlipayClient__config
        common_params[P_SIGN] = keys.sign(
            config.app_private_key,
            keys.sign_content(all_params).encode(config.charset),
            config.sign_type,
        )
        self._DefaultAlipayClient__remove_common_params(params)
        return common_params, params

    def execute(self, request: Any) -> str:
        THREAD_LOCAL.uuid = str(uuid.uuid4())
        query_string, params = self._DefaultAlipayClient__prepare_request(request)
        body = self._post(query_string, params)
        try:
            return self._DefaultAlipayClient__parse_response(body)
        except ResponseException:
            unsigned = _unsigned_error(body)
            if unsigned is None:
                raise
            return unsigned

    def close(self) -> None:
        self._session.close()

    def _post(self, query_string: str, params: dict[str, str]) -> bytes:
        # Replaces WebUtils.do_post for this client only (no global monkeypatch): the SDK drops
        # the port of server_url (and TypeErrors on it), always dials 80/443, opens a new
        # connection per call, reads a non-200 reply by concatenating bytes to str (TypeError)
        # and never closes on error.
        deadline = time.monotonic() + self._total
        url = self._server_url + "?" + query_string
        body = url_encode(params, "utf-8") if params else None
        headers = {"Content-Type": "application/x-www-form-urlencoded;charset=utf-8"}
        try:
            response = self._session.post(
                url, data=body, headers=headers, timeout=self._timeouts, stream=True
            )
            try:
                payload = _read_before(response, deadline)
            except BaseException:
                response.close()  # a half-read connection is never reused
                raise
            response.raw.release_conn()  # read to the end: back to the pool for the next call
        except requests.Timeout as exc:
            raise TransportError(ALIPAY, "timeout", "gateway timed out") from exc
        except requests.RequestException as exc:
            raise TransportError(ALIPAY, "connection", type(exc).__name__) from exc
        if response.status_code != 200:
            raise http_status_error(ALIPAY, response.status_code, "gateway HTTP status")
        return payload


def _read_before(response: requests.Response, deadline: float) -> bytes:
    """The body, taken as it arrives (one receive at a time), so a reply that trickles in, each
    piece inside the read timeout, still ends at the whole-call deadline."""
    chunks: list[bytes] = []
    while True:
        if time.monotonic() > deadline:
            raise requests.Timeout("whole-call deadline passed")
        try:
            chunk = response.raw.read1(65536, decode_content=True)
        except urllib3.exceptions.ReadTimeoutError as exc:
            raise requests.Timeout(str(exc)) from None
        except urllib3.exceptions.HTTPError as exc:
            raise requests.ConnectionError(str(exc)) from None
        if not chunk:
            return b"".join(chunks)
        chunks.append(chunk)


def _unsigned_error(body: bytes) -> str | None:
    """An error reply the gateway sent without a ``sign`` member, as its inner JSON text.

    Alipay does not sign every error (those it answers before it knows the app, e.g. an unknown
    app_id or a bad request signature, come back as an unsigned ``error_response``). The official
    Java SDK verifies a reply when it is a success or carries a signature, and otherwise accepts
    the error as it is (AbstractAlipayClient.checkResponseSign), keeping code and sub_code. A
    success is never accepted unsigned: that stays a signature failure.
    """
    try:
        data = json.loads(body)
    except ValueError:
        return None
    if not isinstance(data, dict) or data.get("sign"):
        return None
    for key, inner in data.items():
        if key.endswith("_response") and isinstance(inner, dict):
            code = inner.get("code")
            if code is not None and str(code) != ALIPAY_OK:
                return json.dumps(inner, ensure_ascii=False)
            raise ResponseSignatureError(ALIPAY, "response-signature", "unsigned success reply")
    return None


class AlipayClient:
    """What the backend calls for Alipay: login, real name, face check, phone, push."""

    channel = ALIPAY

    def __init__(self, config: AlipayConfig) -> None:
        self.config = config
        sdk_config = AlipayClientConfig()
        sdk_config.app_id = config.app_id
        sdk_config.sign_type = "RSA2"
        sdk_config.app_private_key = keys.private_key_pkcs1_pem(config.app_private_key)
        sdk_config.alipay_public_key = keys.public_key_pem(config.alipay_public_key)
        sdk_config.server_url = config.server_url
        sdk_config.timeout = config.timeout
        self._alipay_public_key = sdk_config.alipay_public_key
        self._sdk = _GatewayClient(sdk_config, config)
        install_log_redaction()

    def close(self) -> None:
        """Close the pooled connections (the client stays usable: the pool reopens)."""
        self._sdk.close()

    # -- transport ------------------------------------------------------------------------------

    def _call(self, request: Any) -> dict[str, Any]:
        method = request.get_params().get("method", "?")
        try:
            raw = self._sdk.execute(request)
        except ChannelError:
            raise
        except ResponseException as exc:
            # `from None`: the SDK's message embeds the whole reply, which may carry cert_no.
            if "sign verify failed" in str(exc):
                raise ResponseSignatureError(
                    ALIPAY, "response-signature", f"{method}: reply signature invalid"
                ) from None
            raise TransportError(
                ALIPAY, "invalid-response", f"{method}: unreadable reply"
            ) from None
        except RequestException:
            raise PermanentChannelError(
                ALIPAY, "request", f"{method}: request could not be built"
            ) from None
        except (TypeError, ValueError, KeyError):
            # The SDK raises TypeError on replies it cannot handle (e.g. odd shapes); nothing
            # verified, so it is a transport failure, not a platform verdict.
            raise TransportError(
                ALIPAY, "invalid-response", f"{method}: unreadable reply"
            ) from None
        try:
            data = json.loads(raw)
        except ValueError:
            raise TransportError(ALIPAY, "invalid-response", f"{method}: not JSON") from None
        code = data.get("code")
        # alipay.system.oauth.token answers success without a code; errors always carry one.
        if code is not None and str(code) != ALIPAY_OK:
            raise alipay_error(
                str(code), data.get("msg", ""), data.get("sub_code"), data.get("sub_msg")
            )
        return data

    # -- login and real name --------------------------------------------------------------------

    def exchange_auth_code(self, auth_code: str) -> AlipayOAuthToken:
        """``alipay.system.oauth.token``: a single-use ``my.getAuthCode`` code for the member's ids."""
        request = AlipaySystemOauthTokenRequest()
        request.grant_type = "authorization_code"
        request.code = auth_code
        data = self._call(request)
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
        data = self._call(request)
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
        return str(self._call(request)["certify_id"])

    def certification_url(self, certify_id: str) -> str:
        """Signed URL of the ``alipay.user.certify.open.certify`` page the mini-program opens."""
        request = AlipayUserCertifyOpenCertifyRequest()
        request.biz_content = {"certify_id": certify_id}
        return str(self._sdk.page_execute(request, http_method="GET"))

    def query_certification(self, certify_id: str) -> AlipayCertification:
        """``alipay.user.certify.open.query``: passed (T), pending (F) or expired (unknown id)."""
        request = AlipayUserCertifyOpenQueryRequest()
        request.biz_content = {"certify_id": certify_id}
        try:
            data = self._call(request)
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
        fields = _payload_fields(payload)
        content = fields.get("response", "")
        sign_type = fields.get("sign_type") or "RSA2"
        encrypted = bool(fields.get("encrypt_type")) or not content.startswith("{")
        # When `response` is ciphertext Alipay signs it wrapped in double quotes, exactly as it
        # sits inside the JSON text.
        signed = f'"{content}"' if encrypted else content
        signature = fields.get("sign", "")
        if not signature or not keys.verify(
            self._alipay_public_key, signed.encode("utf-8"), signature, sign_type
        ):
            raise SignatureError(ALIPAY, "payload-signature", "phone payload signature invalid")
        plain = aes_decrypt(content, self.config.aes_key) if encrypted else content
        try:
            data = json.loads(plain)
        except ValueError:
            raise PermanentChannelError(
                ALIPAY, "invalid-payload", "phone payload unreadable"
            ) from None
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
        self._call(request)
        return SendResult(channel=ALIPAY)

    def query_subscriptions(
        self, recipient: str, template_ids: list[str]
    ) -> list[AlipaySubscription]:
        """``alipay.open.app.messagetemplate.subscribe.query``: the member's consent per template."""
        biz: dict[str, Any] = {"template_id_list": list(template_ids)}
        biz["user_id" if _is_user_id(recipient) else "open_id"] = recipient
        request = AlipayOpenAppMessagetemplateSubscribeQueryRequest()
        request.biz_content = biz
        data = self._call(request)
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
        signature = params.get("sign")
        if not signature:
            return False
        content = keys.sign_content(dict(params), exclude=("sign", "sign_type"))
        return keys.verify(
            self._alipay_public_key,
            content.encode("utf-8"),
            signature,
            params.get("sign_type") or "RSA2",
        )


def aes_decrypt(ciphertext_b64: str, aes_key_b64: str) -> str:
    """Alipay content decryption: AES-CBC, IV of 16 zero bytes, PKCS#7 padding.

    Done with `cryptography` because the SDK's EncryptUtils passes a str IV to pycryptodome and
    fails on Python 3.
    """
    try:
        key = base64.b64decode(aes_key_b64, validate=True)
        data = base64.b64decode(ciphertext_b64, validate=True)
        decryptor = Cipher(algorithms.AES(key), modes.CBC(b"\0" * 16)).decryptor()
        padded = decryptor.update(data) + decryptor.finalize()
        unpadder = sym_padding.PKCS7(128).unpadder()
        return (unpadder.update(padded) + unpadder.finalize()).decode("utf-8")
    except (binascii.Error, ValueError, UnicodeDecodeError):
        raise PermanentChannelError(ALIPAY, "decrypt", "content could not be decrypted") from None


def aes_encrypt(plaintext: str, aes_key_b64: str) -> str:
    """The inverse of :func:`aes_decrypt` (used by the fake gateway)."""
    key = base64.b64decode(aes_key_b64, validate=True)
    padder = sym_padding.PKCS7(128).padder()
    padded = padder.update(plaintext.encode("utf-8")) + padder.finalize()
    encryptor = Cipher(algorithms.AES(key), modes.CBC(b"\0" * 16)).encryptor()
    return base64.b64encode(encryptor.update(padded) + encryptor.finalize()).decode("ascii")


def _payload_fields(payload: str | Mapping[str, str]) -> dict[str, str]:
    if isinstance(payload, Mapping):
        return {str(k): str(v) for k, v in payload.items() if v is not None}
    try:
        parsed = json.loads(payload)
    except ValueError:
        raise PermanentChannelError(
            ALIPAY, "invalid-payload", "phone payload is not JSON"
        ) from None
    if not isinstance(parsed, dict):
        raise PermanentChannelError(ALIPAY, "invalid-payload", "phone payload is not an object")
    return {str(k): str(v) for k, v in parsed.items() if v is not None}


# The certify_id is unknown or past its 23 hours.
CERTIFY_GONE_SUB_CODES = frozenset({"OPEN_CERTIFY_BILL_NOT_EXIST"})


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
