"""The way to the gateway: the SDK's client with its timestamp and transport replaced, one pooled
HTTP session per client, a whole-call deadline, and SDK failures mapped to channel errors.

:class:`Gateway` is the one choke point of the Alipay client: :meth:`Gateway.call` sends a
request object of the SDK and answers the verified reply as a dict, or raises a
``adapters.errors.ChannelError`` subclass.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable
from typing import Any

import requests
import urllib3
from alipay.aop.api.AlipayClientConfig import AlipayClientConfig
from alipay.aop.api.constant.CommonConstants import THREAD_LOCAL
from alipay.aop.api.constant.ParamConstants import P_SIGN, P_TIMESTAMP
from alipay.aop.api.DefaultAlipayClient import DefaultAlipayClient
from alipay.aop.api.exception.Exception import RequestException, ResponseException
from alipay.aop.api.util.WebUtils import url_encode
from requests.adapters import HTTPAdapter

from adapters.alipay.config import AlipayConfig
from adapters.alipay.envelope import beijing_timestamp, sign_params, unsigned_error
from adapters.base import BeforeSend
from adapters.errors import (
    ALIPAY,
    ALIPAY_OK,
    ChannelError,
    PermanentChannelError,
    ResponseSignatureError,
    TransportError,
    alipay_error,
    http_status_error,
)
from adapters.http import pinned_session


class Gateway(DefaultAlipayClient):
    """The SDK client with its request timestamp and transport replaced.

    Both overrides hook the SDK's name-mangled private methods; the SDK is pinned (==3.7.1411) so
    these names are stable, and the tests exercise both paths against a real loopback gateway.
    ``monotonic`` is the clock of the whole-call deadline (a test passes its own).
    """

    def __init__(
        self,
        sdk_config: AlipayClientConfig,
        config: AlipayConfig,
        *,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        # No logger on purpose: the SDK logs the full request URL (auth_token included) and the
        # raw response (cert_no, mobile) at INFO.
        super().__init__(sdk_config, logger=None)
        self._server_url = config.server_url
        self._total = config.timeout
        self._monotonic = monotonic
        read = config.read_timeout if config.read_timeout is not None else config.timeout
        # (connect, each read) as handed to the socket; neither outlasts the whole call.
        self.timeouts = (min(config.connect_timeout, config.timeout), min(read, config.timeout))
        # One pooled session per client: keep-alive connections are reused across calls instead
        # of a TCP (and TLS) handshake per call. No retries at this level: callers decide.
        self._session = pinned_session(config.server_url)
        adapter = HTTPAdapter(
            pool_connections=1, pool_maxsize=max(config.pool_size, 1), max_retries=0
        )
        self._session.mount("http://", adapter)
        self._session.mount("https://", adapter)

    def call(self, request: Any, before_send: BeforeSend | None = None) -> dict[str, Any]:
        """Send one SDK request; the verified reply's members, or a ``ChannelError``."""
        method = request.get_params().get("method", "?")
        try:
            raw = self.execute(request, before_send)
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
            data: dict[str, Any] = json.loads(raw)
        except ValueError:
            raise TransportError(ALIPAY, "invalid-response", f"{method}: not JSON") from None
        code = data.get("code")
        # alipay.system.oauth.token answers success without a code; errors always carry one.
        if code is not None and str(code) != ALIPAY_OK:
            raise alipay_error(
                str(code), data.get("msg", ""), data.get("sub_code"), data.get("sub_msg")
            )
        return data

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
        config = self._DefaultAlipayClient__config
        common_params[P_SIGN] = sign_params(
            {**params, **common_params},
            config.app_private_key,
            config.sign_type,
            config.charset,
        )
        self._DefaultAlipayClient__remove_common_params(params)
        return common_params, params

    def execute(self, request: Any, before_send: BeforeSend | None = None) -> str:
        THREAD_LOCAL.uuid = str(uuid.uuid4())
        query_string, params = self._DefaultAlipayClient__prepare_request(request)
        if before_send is not None:
            before_send()  # signed and built: what follows is the wire
        body = self._post(query_string, params)
        try:
            return self._DefaultAlipayClient__parse_response(body)
        except ResponseException:
            unsigned = unsigned_error(body)
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
        deadline = self._monotonic() + self._total
        url = self._server_url + "?" + query_string
        body = url_encode(params, "utf-8") if params else None
        headers = {"Content-Type": "application/x-www-form-urlencoded;charset=utf-8"}
        try:
            response = self._session.post(
                url, data=body, headers=headers, timeout=self.timeouts, stream=True
            )
            try:
                payload = read_before(response, deadline, self._monotonic)
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


def read_before(
    response: requests.Response,
    deadline: float,
    monotonic: Callable[[], float] = time.monotonic,
) -> bytes:
    """The body, taken as it arrives (one receive at a time), so a reply that trickles in, each
    piece inside the read timeout, still ends at the whole-call deadline."""
    chunks: list[bytes] = []
    while True:
        if monotonic() > deadline:
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
