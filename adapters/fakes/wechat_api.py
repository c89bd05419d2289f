"""A loopback WeChat mini-program server API.

Implements ``cgi-bin/token`` (each call invalidates the previous token, as WeChat does),
``cgi-bin/stable_token``, ``sns/jscode2session`` (single-use codes), ``wxa/business/
getuserphonenumber`` (single-use codes valid 5 minutes) and ``cgi-bin/message/subscribe/send``
with per-user per-template consent quotas, plus injectable errors, HTTP statuses and delays.
"""

from __future__ import annotations

import re
import secrets
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

from adapters.fakes.server import (
    AdminError,
    LoopbackServer,
    Request,
    Response,
    apply_delay,
    json_response,
    stalled_response,
)

CODE_TTL = 300
TOKEN_TTL = 7200
STATES = {"formal", "trial", "developer"}
LANGS = {"zh_CN", "en_US", "zh_HK", "zh_TW"}

# Keyword value rules of category templates (订阅消息参数值内容限制说明), written out here on
# their own, independently of the client's formatter, so the tests check one against the other.
_HAN = "\u3400-\u4dbf\u4e00-\u9fff"
_YMD = r"\d{4}(年\d{1,2}月\d{1,2}日|-\d{1,2}-\d{1,2}|/\d{1,2}/\d{1,2})"
_HM = r"\d{1,2}:\d{2}(:\d{2})?"
_ONE_DATE = rf"{_YMD}( {_HM})?"
_ONE_TIME = rf"({_YMD} )?{_HM}"
KEYWORD_RULES: dict[str, re.Pattern[str]] = {
    "thing": re.compile(r"^.{1,20}$", re.S),
    "number": re.compile(r"^[0-9]+(\.[0-9]+)?$"),
    "letter": re.compile(r"^[A-Za-z]{1,32}$"),
    "symbol": re.compile(rf"^[^A-Za-z0-9\s{_HAN}]{{1,5}}$"),
    "character_string": re.compile(r"^[\x21-\x7e]{1,32}$"),
    "time": re.compile(rf"^{_ONE_TIME}(\s*~\s*{_ONE_TIME})?$"),
    "date": re.compile(rf"^{_ONE_DATE}(\s*~\s*({_ONE_DATE}|{_HM}))?$"),
    "amount": re.compile(r"^[¥￥$€£]?[0-9]{1,10}(\.[0-9]+)?元?$"),
    "phone_number": re.compile(r"^(?=.*[0-9])[0-9+\-() ]{1,17}$"),
    "car_number": re.compile(rf"^[{_HAN}A-Za-z0-9][A-Za-z0-9]{{0,6}}[{_HAN}A-Za-z0-9]?$"),
    "name": re.compile(rf"^([^0-9]*[{_HAN}][^0-9]*)$|^[A-Za-z\s\W]{{1,20}}$"),
    "phrase": re.compile(rf"^[{_HAN}]{{1,5}}$"),
}
_KEYWORD_KEY_RE = re.compile(r"^([a-z_]+?)([0-9]+)$")


def keyword_value_valid(key: str, value: str) -> bool:
    """WeChat's check of one category-template value; keys of legacy templates (``keyword1``)
    only need a value."""
    match = _KEYWORD_KEY_RE.match(key)
    rule = KEYWORD_RULES.get(match.group(1)) if match else None
    if rule is None:
        return bool(value)
    if match and match.group(1) == "name" and re.search(f"[{_HAN}]", value):
        return len(value) <= 10 and not re.search(r"[0-9]", value)
    if match and match.group(1) == "number" and len(value) > 32:
        return False
    if match and match.group(1) == "car_number" and len(value) > 8:
        return False
    return bool(rule.match(value))


@dataclass
class WeChatUser:
    openid: str
    phone: str
    unionid: str | None = None
    country_code: str = "86"

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> WeChatUser:
        return cls(
            openid=str(data["openid"]),
            phone=str(data.get("phone") or data.get("mobile") or ""),
            unionid=data.get("unionid"),
            country_code=str(data.get("country_code", "86")),
        )


class _Err(Exception):
    def __init__(self, errcode: int, errmsg: str) -> None:
        super().__init__(errcode)
        self.errcode = errcode
        self.errmsg = errmsg


class FakeWeChatApi(LoopbackServer):
    """Python API for tests plus JSON admin routes under ``/__admin/``."""

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        clock: Callable[[], float] = time.time,
        token_ttl: int = TOKEN_TTL,
    ) -> None:
        super().__init__(host, port)
        self.clock = clock
        self.token_ttl = token_ttl
        self.apps: dict[str, str] = {}
        self.users: dict[str, WeChatUser] = {}
        # token -> {appid, expires_at, valid}
        self.tokens: dict[str, dict[str, Any]] = {}
        self.stable_tokens: dict[str, str] = {}
        self.js_codes: dict[str, dict[str, Any]] = {}
        self.phone_codes: dict[str, dict[str, Any]] = {}
        self.templates: dict[str, set[str] | None] = {}
        self.pages: set[str] = set()
        self.consents: dict[tuple[str, str], int | None] = {}
        self.sent_messages: list[dict[str, Any]] = []
        self.calls: dict[str, int] = {}
        handlers: dict[tuple[str, str], Callable[[Request], dict[str, Any]]] = {
            ("GET", "/cgi-bin/token"): self._token,
            ("POST", "/cgi-bin/stable_token"): self._stable_token,
            ("GET", "/sns/jscode2session"): self._jscode2session,
            ("POST", "/wxa/business/getuserphonenumber"): self._phone,
            ("POST", "/cgi-bin/message/subscribe/send"): self._send,
        }
        for (method, path), handler in handlers.items():
            self.route(method, path, self._wrap(path, handler))
        self._register_admin()

    # -- python API ------------------------------------------------------------------------------

    def register_app(self, appid: str, secret: str) -> None:
        with self.lock:
            self.apps[appid] = secret

    def add_user(self, user: WeChatUser | dict[str, Any]) -> WeChatUser:
        if isinstance(user, dict):
            user = WeChatUser.from_dict(user)
        with self.lock:
            self.users[user.openid] = user
        return user

    def mint_js_code(self, openid: str, appid: str | None = None) -> str:
        with self.lock:
            self._user(openid)
            code = secrets.token_hex(16)
            self.js_codes[code] = {
                "openid": openid,
                "appid": appid,
                "expires_at": self.clock() + CODE_TTL,
                "used": False,
            }
        return code

    def mint_phone_code(self, openid: str) -> str:
        with self.lock:
            self._user(openid)
            code = secrets.token_hex(16)
            self.phone_codes[code] = {"openid": openid, "expires_at": self.clock() + CODE_TTL}
        return code

    def add_template(self, template_id: str, keys: list[str] | None = None) -> None:
        """``keys`` None accepts any data keys."""
        with self.lock:
            self.templates[template_id] = None if keys is None else set(keys)

    def grant_consent(
        self, openid: str, template_id: str, count: int = 1, longterm: bool = False
    ) -> None:
        """One accept of a one-time template = one send; a long-term consent does not run out.

        Granting on an unknown template registers it (accepting any data keys)."""
        with self.lock:
            self._user(openid)
            self.templates.setdefault(template_id, None)
            key = (openid, template_id)
            if longterm:
                self.consents[key] = None
            else:
                current = self.consents.get(key, 0)
                self.consents[key] = None if current is None else current + count

    def remaining_consent(self, openid: str, template_id: str) -> int | None:
        with self.lock:
            return self.consents.get((openid, template_id), 0)

    def invalidate_tokens(self) -> None:
        """Every token issued so far stops working (40001), as after a secret reset."""
        with self.lock:
            for token in self.tokens.values():
                token["valid"] = False

    def inject_error(
        self,
        path: str = "*",
        *,
        errcode: int | None = None,
        errmsg: str = "injected",
        status: int | None = None,
        delay: float | None = None,
        hang: bool = False,
        times: int = 1,
    ) -> None:
        """Next ``times`` calls of ``path`` (e.g. ``/cgi-bin/message/subscribe/send``); e.g.
        ``errcode=43108`` is WeChat refusing concurrent sends to one openid."""
        self.faults.add(
            path,
            {"errcode": errcode, "errmsg": errmsg, "status": status, "delay": delay, "hang": hang},
            times,
        )

    # -- wire protocol ---------------------------------------------------------------------------

    def _wrap(
        self, path: str, handler: Callable[[Request], dict[str, Any]]
    ) -> Callable[[Request], Response]:
        def wrapped(request: Request) -> Response:
            with self.lock:
                self.calls[path] = self.calls.get(path, 0) + 1
            fault = self.faults.take(path)
            apply_delay(fault)
            stalled = stalled_response(fault)
            if stalled is not None:
                return stalled
            if fault and fault.get("status"):
                return Response(int(fault["status"]), b"<html>502 Bad Gateway</html>", "text/html")
            try:
                if fault and fault.get("errcode") is not None:
                    raise _Err(int(fault["errcode"]), str(fault["errmsg"]))
                with self.lock:
                    return json_response(handler(request))
            except _Err as err:
                rid = secrets.token_hex(4)
                return json_response({"errcode": err.errcode, "errmsg": f"{err.errmsg} rid: {rid}"})

        return wrapped

    def _user(self, openid: str) -> WeChatUser:
        user = self.users.get(openid)
        if user is None:
            raise AdminError(f"unknown openid {openid}")
        return user

    def _check_app(self, appid: str | None, secret: str | None) -> str:
        if not appid or appid not in self.apps:
            raise _Err(40013, "invalid appid")
        if self.apps[appid] != secret:
            raise _Err(40125, "invalid appsecret")
        return appid

    def _issue_token(self, appid: str) -> str:
        token = "fake_at_" + secrets.token_hex(24)
        self.tokens[token] = {
            "appid": appid,
            "expires_at": self.clock() + self.token_ttl,
            "valid": True,
        }
        return token

    def _token_reply(self, token: str) -> dict[str, Any]:
        remaining = int(self.tokens[token]["expires_at"] - self.clock())
        return {"access_token": token, "expires_in": max(remaining, 0)}

    def _live(self, token: str | None) -> bool:
        entry = self.tokens.get(token or "")
        return bool(entry and entry["valid"] and entry["expires_at"] > self.clock())

    def _token(self, request: Request) -> dict[str, Any]:
        appid = self._check_app(request.query.get("appid"), request.query.get("secret"))
        # The classic endpoint invalidates every earlier token of the app.
        for entry in self.tokens.values():
            if entry["appid"] == appid:
                entry["valid"] = False
        token = self._issue_token(appid)
        self.stable_tokens[appid] = token
        return self._token_reply(token)

    def _stable_token(self, request: Request) -> dict[str, Any]:
        body = request.json()
        if body.get("grant_type") != "client_credential":
            raise _Err(40002, "invalid grant_type")
        appid = self._check_app(body.get("appid"), body.get("secret"))
        current = self.stable_tokens.get(appid)
        if body.get("force_refresh") or current is None or not self._live(current):
            current = self._issue_token(appid)
            self.stable_tokens[appid] = current
        return self._token_reply(current)

    def _authorise(self, request: Request) -> str:
        token = request.query.get("access_token")
        if not token:
            raise _Err(41001, "access_token missing")
        entry = self.tokens.get(token)
        if entry is None or not entry["valid"]:
            raise _Err(40001, "invalid credential, access_token is invalid or not latest")
        if entry["expires_at"] <= self.clock():
            raise _Err(42001, "access_token expired")
        return str(entry["appid"])

    def _jscode2session(self, request: Request) -> dict[str, Any]:
        q = request.query
        appid = self._check_app(q.get("appid"), q.get("secret"))
        if q.get("grant_type") != "authorization_code":
            raise _Err(40002, "invalid grant_type")
        entry = self.js_codes.get(q.get("js_code", ""))
        if (
            entry is None
            or entry["expires_at"] <= self.clock()
            or (entry["appid"] and entry["appid"] != appid)
        ):
            raise _Err(40029, "invalid code")
        if entry["used"]:
            raise _Err(40163, "code been used")
        entry["used"] = True
        user = self.users[entry["openid"]]
        out = {"openid": user.openid, "session_key": secrets.token_urlsafe(16)}
        if user.unionid:
            out["unionid"] = user.unionid
        return out

    def _phone(self, request: Request) -> dict[str, Any]:
        appid = self._authorise(request)
        body = request.json()
        entry = self.phone_codes.pop(str(body.get("code", "")), None)  # single use
        if entry is None or entry["expires_at"] <= self.clock():
            raise _Err(40029, "invalid code")
        user = self.users[entry["openid"]]
        prefix = "" if user.country_code == "86" else f"+{user.country_code}"
        return {
            "errcode": 0,
            "errmsg": "ok",
            "phone_info": {
                "phoneNumber": prefix + user.phone,
                "purePhoneNumber": user.phone,
                "countryCode": user.country_code,
                "watermark": {"timestamp": int(self.clock()), "appid": appid},
            },
        }

    def _send(self, request: Request) -> dict[str, Any]:
        self._authorise(request)
        body = request.json()
        openid = body.get("touser")
        if openid not in self.users:
            raise _Err(40003, "invalid openid")
        template_id = body.get("template_id")
        if template_id not in self.templates:
            raise _Err(40037, "invalid template_id")
        data = body.get("data")
        if (
            not isinstance(data, dict)
            or not data
            or not all(
                isinstance(v, dict) and isinstance(v.get("value"), str) and v["value"]
                for v in data.values()
            )
        ):
            raise _Err(47003, "argument invalid! data.value invalid")
        allowed = self.templates[template_id]
        if allowed is not None and set(data) - allowed:
            raise _Err(47003, f"argument invalid! data.{sorted(set(data) - allowed)[0]} unknown")
        for key, item in data.items():
            if not keyword_value_valid(key, item["value"]):
                raise _Err(47003, f"argument invalid! data.{key}.value invalid")
        if body.get("page") and self.pages and body["page"].split("?")[0] not in self.pages:
            raise _Err(41030, "invalid page")
        if (
            body.get("miniprogram_state", "formal") not in STATES
            or body.get("lang", "zh_CN") not in LANGS
        ):
            raise _Err(47003, "argument invalid! miniprogram_state or lang")
        key = (openid, template_id)
        remaining = self.consents.get(key, 0)
        if remaining is not None and remaining <= 0:
            raise _Err(43101, "user refuse to accept the msg")
        if remaining is not None:
            self.consents[key] = remaining - 1
        msgid = secrets.randbelow(10**15)
        self.sent_messages.append(
            {
                "msgid": msgid,
                "openid": openid,
                "template_id": template_id,
                "page": body.get("page"),
                "data": {k: v["value"] for k, v in data.items()},
                "miniprogram_state": body.get("miniprogram_state"),
                "lang": body.get("lang"),
                "sent_at": self.clock(),
            }
        )
        return {"errcode": 0, "errmsg": "ok", "msgid": msgid}

    # -- admin -----------------------------------------------------------------------------------

    def _register_admin(self) -> None:
        def users(body: dict[str, Any]) -> dict[str, Any]:
            return {"users": [asdict(self.add_user(item)) for item in body.get("users", [body])]}

        def consents(body: dict[str, Any]) -> dict[str, Any]:
            self.grant_consent(
                body["openid"],
                body["template_id"],
                int(body.get("count", 1)),
                bool(body.get("longterm", False)),
            )
            return {"remaining": self.remaining_consent(body["openid"], body["template_id"])}

        def templates(body: dict[str, Any]) -> dict[str, Any]:
            self.add_template(body["template_id"], body.get("keys"))
            return {"template_id": body["template_id"]}

        def apps(body: dict[str, Any]) -> dict[str, Any]:
            self.register_app(body["appid"], body["secret"])
            return {"appid": body["appid"]}

        def errors(body: dict[str, Any]) -> dict[str, Any]:
            self.inject_error(
                body.get("path", "*"),
                errcode=body.get("errcode"),
                errmsg=body.get("errmsg", "injected"),
                status=body.get("status"),
                delay=body.get("delay"),
                times=int(body.get("times", 1)),
            )
            return {"ok": True}

        def invalidate(body: dict[str, Any]) -> dict[str, Any]:
            self.invalidate_tokens()
            return {"ok": True}

        self.admin("POST", "users", users)
        self.admin("GET", "users", lambda q: {"users": [asdict(u) for u in self.users.values()]})
        self.admin("POST", "apps", apps)
        self.admin(
            "POST",
            "js-codes",
            lambda b: {"js_code": self.mint_js_code(b["openid"], b.get("appid"))},
        )
        self.admin("POST", "phone-codes", lambda b: {"code": self.mint_phone_code(b["openid"])})
        self.admin("POST", "templates", templates)
        self.admin("POST", "consents", consents)
        self.admin("GET", "messages", lambda q: {"messages": list(self.sent_messages)})
        self.admin("POST", "errors", errors)
        self.admin("POST", "tokens/invalidate", invalidate)


__all__ = ["AdminError", "FakeWeChatApi", "WeChatUser"]
