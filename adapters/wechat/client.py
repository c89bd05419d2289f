"""WeChat mini-program server API client: a small subclass of wechatpy 1.8.18's ``WeChatClient``.

What the subclass adds or changes, and why:
- the base URL is configurable (the loopback fake), wechatpy hard-codes api.weixin.qq.com;
- one pinned HTTP session (``adapters.http``): the environment's proxy and CA settings are read
  once, not on every request;
- every request carries a timeout (wechatpy's default ``timeout=None`` can hang a worker);
- the access token comes from ``cgi-bin/stable_token`` and is cached in Redis, shared by every
  process: ``cgi-bin/token`` invalidates the previous token on each call, so processes that each
  fetched their own would keep knocking each other's token out. Each client also keeps the token
  it read in memory until the Redis copy's expiry, so a send costs no Redis round trip;
- on 40001/42001 the token is refreshed once and the call retried once (wechatpy's own retry has
  no cap: it recurses for as long as the platform keeps answering 40001);
- ``jscode2session`` without an access token, ``getuserphonenumber`` and ``miniprogram_state`` /
  ``lang`` on subscription sends, which wechatpy lacks;
- errors become ``adapters.errors`` types carrying the raw ``errcode``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import requests
from wechatpy.client import WeChatClient
from wechatpy.exceptions import InvalidSignatureException, WeChatClientException
from wechatpy.session.redisstorage import RedisStorage
from wechatpy.utils import check_signature

from adapters.base import BeforeSend, SendResult, mask_phone
from adapters.errors import (
    WECHAT,
    AccessTokenError,
    TransportError,
    http_status_error,
    wechat_error,
)
from adapters.http import pinned_session
from adapters.redact import install_log_redaction

logger = logging.getLogger(__name__)

PRODUCTION_BASE_URL = "https://api.weixin.qq.com"
TOKEN_KEY_PREFIX = "gjj:wechat"  # noqa: S105 - a Redis key prefix, not a secret


@dataclass(frozen=True)
class WeChatConfig:
    appid: str
    secret: str = field(repr=False)
    base_url: str = PRODUCTION_BASE_URL
    timeout: float = 5.0
    # formal | trial | developer: which build of the mini-program a pushed message opens.
    miniprogram_state: str = "formal"
    lang: str = "zh_CN"
    # The cached token expires this many seconds before WeChat's expiry, so no process ever
    # sends a token in its last moments.
    token_margin: int = 300
    # Token configured for server callbacks (消息推送), for verify_callback.
    callback_token: str | None = field(default=None, repr=False)


@dataclass(frozen=True)
class WeChatSession:
    openid: str
    unionid: str | None
    # Never logged: repr=False keeps it out of reprs and tracebacks' locals.
    session_key: str = field(repr=False)


@dataclass(frozen=True)
class WeChatPhone:
    phone_number: str = field(repr=False)
    pure_phone_number: str = field(repr=False)
    country_code: str

    def __repr__(self) -> str:
        return (
            f"WeChatPhone(pure_phone_number={mask_phone(self.pure_phone_number)!r}, "
            f"country_code={self.country_code!r})"
        )


class WeChatMiniClient(WeChatClient):
    """What the backend calls for WeChat. ``redis`` is any redis-py compatible client."""

    channel = WECHAT

    def __init__(
        self, config: WeChatConfig, redis: Any, *, monotonic: Callable[[], float] = time.monotonic
    ) -> None:
        super().__init__(
            config.appid,
            config.secret,
            session=RedisStorage(redis, prefix=TOKEN_KEY_PREFIX),
            timeout=config.timeout,
            auto_retry=False,
        )
        self.config = config
        self.base_url = config.base_url.rstrip("/")
        # wechatpy's own endpoint helpers (client.wxa…) build URLs from this attribute.
        self.API_BASE_URL = f"{self.base_url}/cgi-bin/"
        self._http = pinned_session(self.base_url)
        # The shared token and the monotonic time its Redis copy expires at (one tuple, replaced
        # whole, so threads never see a token with another one's expiry).
        self._monotonic = monotonic
        self._local_token: tuple[str, float] | None = None
        # The AppSecret travels in the jscode2session URL and the access token in every other
        # one; urllib3 logs those URLs at DEBUG.
        install_log_redaction()

    # -- the one HTTP choke point ----------------------------------------------------------------

    def _request(self, method: str, url_or_endpoint: str, **kwargs: Any) -> dict[str, Any]:
        kwargs["timeout"] = self.timeout
        before_send: BeforeSend | None = kwargs.pop("before_send", None)
        if before_send is not None:
            before_send()  # token in hand, body built: what follows is the wire
        try:
            result = super()._request(method, url_or_endpoint, **kwargs)
        except requests.Timeout:
            raise TransportError(WECHAT, "timeout", "WeChat API timed out") from None
        except requests.RequestException as exc:
            raise TransportError(WECHAT, "connection", type(exc).__name__) from None
        except WeChatClientException as exc:
            if exc.errcode is None:
                status = exc.response.status_code if exc.response is not None else 0
                raise http_status_error(WECHAT, status, "WeChat API HTTP status") from None
            # `from None`: the wechatpy exception holds the request, whose URL has the token.
            raise wechat_error(int(exc.errcode), str(exc.errmsg or "")) from None
        if not isinstance(result, dict):
            raise TransportError(WECHAT, "invalid-response", "WeChat API reply is not JSON")
        return result

    def _url(self, path: str) -> str:
        return f"{self.base_url}/{path.lstrip('/')}"

    def _call_with_token(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        token = self.access_token
        try:
            return self._request(method, self._url(path), params={"access_token": token}, **kwargs)
        except AccessTokenError:
            logger.info(
                "wechat access token rejected, refreshing once", extra={"appid": self.appid}
            )
            self._replace_rejected_token(token)
        # One retry only; a second rejection propagates as AccessTokenError (retryable later).
        return self._request(
            method, self._url(path), params={"access_token": self.access_token}, **kwargs
        )

    # -- access token (stable_token, shared through Redis) ---------------------------------------

    @property
    def access_token(self) -> str:
        local = self._local_token
        if local is not None and self._monotonic() < local[1]:
            return local[0]
        token = self.session.get(self.access_token_key)
        if token:
            # Kept no longer than the Redis copy: a refresh by any process is seen once that
            # expires, or at once when the platform refuses the old token (_call_with_token).
            ttl = self.session.redis.ttl(self.session.key_name(self.access_token_key))
            self._keep(str(token), ttl)
            return str(token)
        return self._fetch_stable_token(force_refresh=False)

    def _keep(self, token: str, ttl: int) -> None:
        self._local_token = (token, self._monotonic() + ttl) if ttl > 0 else None

    def fetch_access_token(self) -> dict[str, Any]:
        """wechatpy's hook; kept so its helpers work, but backed by stable_token."""
        token = self._fetch_stable_token(force_refresh=False)
        return {"access_token": token}

    def _fetch_stable_token(self, *, force_refresh: bool) -> str:
        result = self._request(
            "post",
            self._url("cgi-bin/stable_token"),
            # The key present (None) stops wechatpy from fetching a token to call the token API;
            # requests drops None-valued params from the query.
            params={"access_token": None},
            data={
                "grant_type": "client_credential",
                "appid": self.appid,
                "secret": self.secret,
                "force_refresh": force_refresh,
            },
        )
        token = result.get("access_token")
        if not token:
            raise TransportError(WECHAT, "invalid-response", "stable_token without access_token")
        expires_in = int(result.get("expires_in") or 7200)
        margin = self.config.token_margin
        ttl = expires_in - margin if expires_in > 2 * margin else max(expires_in // 2, 1)
        self.session.set(self.access_token_key, token, ttl)
        self._keep(str(token), ttl)
        return str(token)

    def _replace_rejected_token(self, rejected: str) -> None:
        self._local_token = None
        current = self.session.get(self.access_token_key)
        if current and current != rejected:
            return  # another process already replaced it
        self.session.delete(self.access_token_key)
        if self._fetch_stable_token(force_refresh=False) == rejected:
            # stable_token keeps handing back the token WeChat just refused: force a new one.
            self._fetch_stable_token(force_refresh=True)

    # -- login and phone -------------------------------------------------------------------------

    def code_to_session(self, js_code: str) -> WeChatSession:
        """``sns/jscode2session``: a ``wx.login`` code for the member's openid (no access token)."""
        result = self._request(
            "get",
            self._url("sns/jscode2session"),
            params={
                "appid": self.appid,
                "secret": self.secret,
                "js_code": js_code,
                "grant_type": "authorization_code",
                # See _fetch_stable_token: present-but-None means "no access token".
                "access_token": None,
            },
        )
        openid = result.get("openid")
        if not openid:
            raise TransportError(WECHAT, "invalid-response", "jscode2session without openid")
        return WeChatSession(
            openid=str(openid),
            unionid=result.get("unionid"),
            session_key=str(result.get("session_key", "")),
        )

    def get_phone_number(self, phone_code: str) -> WeChatPhone:
        """``wxa/business/getuserphonenumber``: a single-use (5 min) ``getPhoneNumber`` code."""
        result = self._call_with_token(
            "post", "wxa/business/getuserphonenumber", data={"code": phone_code}
        )
        info = result.get("phone_info") or {}
        pure = info.get("purePhoneNumber")
        if not pure:
            raise TransportError(WECHAT, "invalid-response", "getuserphonenumber without phone")
        return WeChatPhone(
            phone_number=str(info.get("phoneNumber") or pure),
            pure_phone_number=str(pure),
            country_code=str(info.get("countryCode") or "86"),
        )

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
        """``cgi-bin/message/subscribe/send``. 43101 (no consent left) → ``ConsentRequiredError``."""
        body: dict[str, Any] = {
            "touser": recipient,
            "template_id": template_id,
            "data": {key: {"value": value} for key, value in data.items()},
            "miniprogram_state": self.config.miniprogram_state,
            "lang": self.config.lang,
        }
        if page:
            body["page"] = page
        result = self._call_with_token(
            "post", "cgi-bin/message/subscribe/send", data=body, before_send=before_send
        )
        msgid = result.get("msgid")
        return SendResult(channel=WECHAT, message_id=None if msgid is None else str(msgid))

    # -- callbacks from WeChat -------------------------------------------------------------------

    def verify_callback(self, signature: str, timestamp: str, nonce: str) -> bool:
        """``signature == sha1(sorted(token, timestamp, nonce))`` for server callbacks."""
        if not self.config.callback_token:
            return False
        try:
            check_signature(self.config.callback_token, signature, timestamp, nonce)
        except InvalidSignatureException:
            return False
        return True
