"""A loopback Alipay v2 gateway speaking the real wire protocol.

It verifies the app's RSA2 request signature (answering 40002 ``isv.invalid-signature`` like
Alipay), signs every reply with its own key over the exact raw text of the ``*_response`` value,
and implements the methods the hall uses: oauth token, user info share, face certification
(initialize / certify page / query), template message send and subscription query.
"""

from __future__ import annotations

import json
import re
import secrets
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from adapters.alipay import keys
from adapters.alipay.envelope import BEIJING, aes_encrypt
from adapters.fakes.server import (
    AdminError,
    LoopbackServer,
    Request,
    Response,
    apply_delay,
    stalled_response,
)

GATEWAY_PATH = "/gateway.do"
AUTH_CODE_TTL = 300
ACCESS_TOKEN_TTL = 1296000
TIMESTAMP_SKEW = 15 * 60
# A certify_id can be used for 23 hours; after that the query answers OPEN_CERTIFY_BILL_NOT_EXIST.
CERTIFY_TTL = 23 * 3600
# Characters per keyword value of a mini-program template message.
TEMPLATE_VALUE_LIMIT = 50
# What a URL-encoded query may contain: unreserved characters, percent escapes, & and =.
_ENCODED_QUERY_RE = re.compile(r"^(?:[A-Za-z0-9\-._~=&]|%[0-9A-Fa-f]{2})*$")


@dataclass
class AlipayUser:
    user_id: str
    open_id: str
    user_name: str
    cert_no: str
    mobile: str
    is_certified: bool = True
    cert_type: str = "0"
    union_id: str | None = None

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> AlipayUser:
        user_id = str(data["user_id"])
        if not (user_id.startswith("2088") and len(user_id) == 16 and user_id.isdigit()):
            raise AdminError("user_id must be 16 digits starting 2088")
        is_certified = data.get("is_certified", True)
        if isinstance(is_certified, str):
            is_certified = is_certified == "T"
        return cls(
            user_id=user_id,
            open_id=str(data.get("open_id") or f"fake-open-{user_id[-8:]}"),
            user_name=str(data["user_name"] if "user_name" in data else data["name"]),
            cert_no=str(data["cert_no"]),
            mobile=str(data["mobile"]),
            is_certified=bool(is_certified),
            cert_type=str(data.get("cert_type", "0")),
            union_id=data.get("union_id"),
        )


class _Reply(Exception):
    """An Alipay business error, rendered as a signed response."""

    def __init__(
        self,
        code: str,
        msg: str,
        sub_code: str | None = None,
        sub_msg: str | None = None,
        *,
        error_response: bool = False,
        unsigned: bool = False,
    ) -> None:
        super().__init__(code)
        self.body = {"code": code, "msg": msg}
        if sub_code:
            self.body["sub_code"] = sub_code
            self.body["sub_msg"] = sub_msg or sub_code
        self.error_response = error_response
        # Refusals of the envelope itself (no/unknown app, bad request signature) come back
        # without a `sign`: the gateway answers them before it has the app's key pair.
        self.unsigned = unsigned


def _invalid(
    sub_code: str, sub_msg: str, *, error_response: bool = False, unsigned: bool = False
) -> _Reply:
    return _Reply(
        "40002",
        "Invalid Arguments",
        sub_code,
        sub_msg,
        error_response=error_response,
        unsigned=unsigned,
    )


def _missing(name: str, *, unsigned: bool = False) -> _Reply:
    return _Reply(
        "40001",
        "Missing Required Arguments",
        f"isv.missing-{name}",
        f"缺少参数{name}",
        unsigned=unsigned,
    )


class FakeAlipayGateway(LoopbackServer):
    """Python API for tests plus JSON admin routes under ``/__admin/``."""

    def __init__(
        self,
        *,
        gateway_private_key: str | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        super().__init__(host, port)
        self.gateway_private_key = keys.private_key_pkcs1_pem(
            gateway_private_key or keys.generate_private_key_pem()
        )
        self.gateway_public_key = keys.public_key_pem(self.gateway_private_key)
        self.clock = clock
        # The member-info product (会员信息) is signed: alipay.user.info.share answers at all.
        self.member_info_granted = True
        # The sensitive fields (user_name, cert_type, cert_no) are granted; when they are not,
        # Alipay simply leaves them out of a successful reply.
        self.grant_cert_no = True
        # Applications that went live before 2019-12-24 still receive is_certified (and a few
        # other fields); later ones never do.
        self.legacy_app = False
        self.apps: dict[str, dict[str, str | None]] = {}
        self.users: dict[str, AlipayUser] = {}
        self.auth_codes: dict[str, tuple[str, str, float]] = {}
        self.tokens: dict[str, tuple[str, float]] = {}
        self.certifications: dict[str, dict[str, Any]] = {}
        self.consents: dict[tuple[str, str], int | None] = {}
        self.sent_messages: list[dict[str, Any]] = []
        self._methods: dict[str, Callable[[dict[str, str]], dict[str, Any]]] = {
            "alipay.system.oauth.token": self._oauth_token,
            "alipay.user.info.share": self._user_info_share,
            "alipay.user.certify.open.initialize": self._certify_initialize,
            "alipay.user.certify.open.query": self._certify_query,
            "alipay.open.app.mini.templatemessage.send": self._template_send,
            "alipay.open.app.messagetemplate.subscribe.query": self._subscribe_query,
        }
        self.route("POST", GATEWAY_PATH, self._gateway)
        self.route("GET", GATEWAY_PATH, self._certify_page)
        self._register_admin()

    # -- python API ------------------------------------------------------------------------------

    @property
    def gateway_url(self) -> str:
        return self.url + GATEWAY_PATH

    def register_app(self, app_id: str, app_public_key: str, aes_key: str | None = None) -> None:
        with self.lock:
            self.apps[app_id] = {
                "public_key": keys.public_key_pem(app_public_key),
                "aes_key": aes_key,
            }

    def add_user(self, user: AlipayUser | dict[str, Any]) -> AlipayUser:
        if isinstance(user, dict):
            user = AlipayUser.from_dict(user)
        with self.lock:
            self.users[user.user_id] = user
        return user

    def mint_auth_code(self, user_id: str, app_id: str | None = None) -> str:
        with self.lock:
            self._user(user_id)
            code = secrets.token_hex(16)
            self.auth_codes[code] = (user_id, app_id or "", self.clock() + AUTH_CODE_TTL)
        return code

    def grant_consent(
        self, user_id: str, template_id: str, count: int = 1, longterm: bool = False
    ) -> None:
        """One-time consents add up (each accept gives one send); long-term ones do not run out."""
        with self.lock:
            key = (self._user(user_id).user_id, template_id)
            if longterm:
                self.consents[key] = None
            else:
                current = self.consents.get(key, 0)
                self.consents[key] = None if current is None else current + count

    def remaining_consent(self, user_id: str, template_id: str) -> int | None:
        with self.lock:
            return self.consents.get((user_id, template_id), 0)

    def complete_certification(
        self, certify_id: str, passed: bool, fail_reason: str | None = None
    ) -> None:
        with self.lock:
            cert = self.certifications.get(certify_id)
            if cert is None:
                raise AdminError(f"unknown certify_id {certify_id}")
            # A failed attempt is not final: the member may try again on the same certify_id
            # while it is valid. Only a pass ends it.
            if cert["state"] != "passed":
                cert["state"] = "passed" if passed else "failed"
                cert["fail_reason"] = fail_reason or (None if passed else "Z1147")

    def inject_error(
        self,
        method: str = "*",
        *,
        code: str | None = None,
        sub_code: str | None = None,
        msg: str = "",
        sub_msg: str | None = None,
        status: int | None = None,
        delay: float | None = None,
        tamper: bool = False,
        unsigned: bool = False,
        hang: bool = False,
        trickle: bool = False,
        times: int = 1,
    ) -> None:
        """Next ``times`` calls of ``method``: a business error (``unsigned``: without the
        ``sign`` member, as the gateway answers some errors), an HTTP status, a delay, no answer
        at all (``hang``), a reply that never finishes (``trickle``) or a reply whose text no
        longer matches its signature."""
        fault = {
            "code": code,
            "sub_code": sub_code,
            "msg": msg or "Business Failed",
            "sub_msg": sub_msg,
            "status": status,
            "delay": delay,
            "tamper": tamper,
            "unsigned": unsigned,
            "hang": hang,
            "trickle": trickle,
        }
        self.faults.add(method, fault, times)

    def phone_payload(self, user_id: str, app_id: str) -> str:
        """What ``my.getPhoneNumber`` hands the mini-program: signed, AES-encrypted JSON."""
        with self.lock:
            aes_key = self.apps.get(app_id, {}).get("aes_key")
            if not aes_key:
                raise AdminError(f"app {app_id} has no aes_key")
            plain = json.dumps(
                {"code": "10000", "msg": "Success", "mobile": self._user(user_id).mobile},
                ensure_ascii=False,
            )
        ciphertext = aes_encrypt(plain, aes_key)
        signature = keys.sign(self.gateway_private_key, f'"{ciphertext}"'.encode())
        return json.dumps(
            {
                "response": ciphertext,
                "sign": signature,
                "sign_type": "RSA2",
                "encrypt_type": "AES",
                "charset": "UTF-8",
            }
        )

    def sign_notification(self, params: dict[str, str]) -> dict[str, str]:
        """An asynchronous notification as Alipay would post it (sign and sign_type excluded)."""
        signed = {**params, "sign_type": "RSA2"}
        content = keys.sign_content(signed, exclude=("sign", "sign_type"))
        signed["sign"] = keys.sign(self.gateway_private_key, content.encode("utf-8"))
        return signed

    # -- wire protocol ---------------------------------------------------------------------------

    def _render(
        self,
        method: str,
        inner: dict[str, Any],
        *,
        error_response: bool,
        tamper: bool,
        unsigned: bool = False,
    ) -> Response:
        key = "error_response" if error_response else method.replace(".", "_") + "_response"
        raw = json.dumps(inner, ensure_ascii=False, separators=(",", ":"))
        signature = keys.sign(self.gateway_private_key, raw.encode("utf-8"))
        if tamper:
            raw = raw[:-1] + ',"tampered":"1"}'
        if unsigned:
            text = '{"' + key + '":' + raw + "}"
        else:
            text = '{"' + key + '":' + raw + ',"sign":"' + signature + '"}'
        return Response(200, text.encode("utf-8"), "text/html;charset=utf-8")

    def _gateway(self, request: Request) -> Response:
        params = {**request.query, **request.form()}
        method = params.get("method", "")
        fault = self.faults.take(method)
        apply_delay(fault)
        stalled = stalled_response(fault)
        if stalled is not None:
            return stalled
        if fault and fault.get("status"):
            return Response(int(fault["status"]), b"<html>gateway error</html>", "text/html")
        tamper = bool(fault and fault.get("tamper"))
        try:
            self._check_envelope(params)
            if fault and fault.get("code"):
                raise _Reply(
                    str(fault["code"]), fault["msg"], fault.get("sub_code"), fault.get("sub_msg")
                )
            handler = self._methods.get(method)
            if handler is None:
                raise _invalid("isv.invalid-method", "不存在的方法名", error_response=True)
            with self.lock:
                inner = handler(params)
            return self._render(method, inner, error_response=False, tamper=tamper)
        except _Reply as reply:
            error_response = reply.error_response or not method
            unsigned = reply.unsigned or bool(fault and fault.get("unsigned"))
            return self._render(
                method, reply.body, error_response=error_response, tamper=tamper, unsigned=unsigned
            )

    def _check_envelope(self, params: dict[str, str]) -> None:
        for name in ("app_id", "method", "sign", "sign_type", "timestamp", "charset", "version"):
            if not params.get(name):
                raise _missing(name, unsigned=True)
        app = self.apps.get(params["app_id"])
        if app is None:
            raise _invalid(
                "isv.invalid-app-id", "无效的AppID参数", error_response=True, unsigned=True
            )
        if params["sign_type"] != "RSA2":
            raise _invalid("isv.invalid-signature-type", "无效的签名类型")
        content = keys.sign_content(params).encode(params.get("charset") or "utf-8")
        if not keys.verify(str(app["public_key"]), content, params["sign"]):
            raise _invalid(
                "isv.invalid-signature",
                "验签出错，建议检查签名字符串或签名私钥与应用公钥是否匹配",
                unsigned=True,
            )
        try:
            stamped = datetime.strptime(params["timestamp"], "%Y-%m-%d %H:%M:%S").replace(
                tzinfo=BEIJING
            )
        except ValueError:
            raise _invalid("isv.invalid-timestamp", "非法的时间戳参数") from None
        if abs(stamped.timestamp() - self.clock()) > TIMESTAMP_SKEW:
            raise _invalid("isv.invalid-timestamp", "非法的时间戳参数")

    def _certify_page(self, request: Request) -> Response:
        params = dict(request.query)
        try:
            self._check_envelope(params)
            if params.get("method") != "alipay.user.certify.open.certify":
                raise _invalid("isv.invalid-method", "不存在的方法名")
            certify_id = _biz(params).get("certify_id", "")
            with self.lock:
                cert = self.certifications.get(certify_id)
                if cert is None:
                    raise _Reply(
                        "40004",
                        "Business Failed",
                        "OPEN_CERTIFY_BILL_NOT_EXIST",
                        "无效的certify_id",
                    )
                cert["opened"] = True
        except _Reply as reply:
            return Response(
                400, json.dumps(reply.body, ensure_ascii=False).encode(), "application/json"
            )
        page = f"<html><body><h1>支付宝身份验证（模拟）</h1><p>certify_id: {certify_id}</p></body></html>"
        return Response(200, page.encode("utf-8"), "text/html; charset=utf-8")

    # -- methods ---------------------------------------------------------------------------------

    def _user(self, user_id: str) -> AlipayUser:
        user = self.users.get(user_id)
        if user is None:
            raise AdminError(f"unknown user {user_id}")
        return user

    def _oauth_token(self, params: dict[str, str]) -> dict[str, Any]:
        if params.get("grant_type") != "authorization_code":
            raise _invalid("isv.grant-type-invalid", "不支持的grant_type", error_response=True)
        code = params.get("code", "")
        entry = self.auth_codes.pop(code, None)  # single use: gone even if it was expired
        if entry is None or entry[2] < self.clock() or (entry[1] and entry[1] != params["app_id"]):
            raise _invalid("isv.code-invalid", "授权码code无效", error_response=True)
        user = self.users[entry[0]]
        token = "authusrB" + secrets.token_hex(16)
        self.tokens[token] = (user.user_id, self.clock() + ACCESS_TOKEN_TTL)
        out = {
            "user_id": user.user_id,
            "open_id": user.open_id,
            "access_token": token,
            "expires_in": ACCESS_TOKEN_TTL,
            "refresh_token": "authusrB" + secrets.token_hex(16),
            "re_expires_in": ACCESS_TOKEN_TTL * 2,
            "auth_start": datetime.fromtimestamp(self.clock(), BEIJING).strftime(
                "%Y-%m-%d %H:%M:%S"
            ),
        }
        if user.union_id:
            out["union_id"] = user.union_id
        return out

    def _user_info_share(self, params: dict[str, str]) -> dict[str, Any]:
        entry = self.tokens.get(params.get("auth_token", ""))
        if entry is None or entry[1] < self.clock():
            raise _Reply(
                "20001",
                "Insufficient Token Permissions",
                "aop.invalid-auth-token",
                "无效的访问令牌",
            )
        if not self.member_info_granted:
            raise _Reply(
                "40006",
                "Insufficient Permissions",
                "isv.insufficient-isv-permissions",
                "ISV权限不足",
            )
        user = self.users[entry[0]]
        out: dict[str, Any] = {
            "code": "10000",
            "msg": "Success",
            "user_id": user.user_id,
            "open_id": user.open_id,
            "mobile": user.mobile,
        }
        # Alipay releases a real name only for a member it has certified.
        if self.grant_cert_no and user.is_certified:
            out.update(user_name=user.user_name, cert_type=user.cert_type, cert_no=user.cert_no)
        if self.legacy_app:
            out["is_certified"] = "T" if user.is_certified else "F"
        return out

    def _certify_initialize(self, params: dict[str, str]) -> dict[str, Any]:
        biz = _biz(params)
        if biz.get("biz_code") != "FACE":
            raise _invalid("isv.invalid-biz-code", "biz_code无效")
        identity = biz.get("identity_param") or {}
        for name in ("cert_name", "cert_no"):
            if not identity.get(name):
                raise _missing(name)
        outer = biz.get("outer_order_no") or ""
        if not outer:
            raise _missing("outer_order_no")
        for certify_id, cert in self.certifications.items():
            if cert["outer_order_no"] == outer:
                return {"code": "10000", "msg": "Success", "certify_id": certify_id}
        started = self.clock()
        certify_id = secrets.token_hex(16)
        self.certifications[certify_id] = {
            "certify_id": certify_id,
            "outer_order_no": outer,
            "cert_name": identity["cert_name"],
            "cert_no": identity["cert_no"],
            "return_url": (biz.get("merchant_config") or {}).get("return_url"),
            "state": "pending",
            "fail_reason": None,
            "opened": False,
            "expires_at": started + CERTIFY_TTL,
        }
        return {"code": "10000", "msg": "Success", "certify_id": certify_id}

    def _certify_query(self, params: dict[str, str]) -> dict[str, Any]:
        cert = self.certifications.get(_biz(params).get("certify_id", ""))
        if cert is None or cert["expires_at"] <= self.clock():
            raise _Reply(
                "40004", "Business Failed", "OPEN_CERTIFY_BILL_NOT_EXIST", "无效的certify_id"
            )
        # passed: T certified; F "not passed, or not certified yet" — the reply does not say
        # which. fail_reason is a code of the last attempt, present even after a later pass.
        out = {
            "code": "10000",
            "msg": "Success",
            "passed": "T" if cert["state"] == "passed" else "F",
            "identity_info": "{}",
            "material_info": "{}",
        }
        if cert["fail_reason"]:
            out["fail_reason"] = cert["fail_reason"]
        return out

    def _find_user(self, user_id: str | None, open_id: str | None) -> AlipayUser:
        for user in self.users.values():
            if (user_id and user.user_id == user_id) or (open_id and user.open_id == open_id):
                return user
        raise _Reply("40004", "Business Failed", "USER_NOT_EXIST", "用户不存在")

    def _template_send(self, params: dict[str, str]) -> dict[str, Any]:
        biz = _biz(params)
        template_id = biz.get("user_template_id")
        if not template_id:
            raise _missing("user_template_id")
        data = biz.get("data")
        # `data` must be a JSON string, not a nested object.
        if not isinstance(data, str):
            raise _invalid("isv.invalid-parameter", "data必须为JSON字符串")
        try:
            fields = json.loads(data)
        except ValueError:
            raise _invalid("isv.invalid-parameter", "data不是合法的JSON") from None
        if not isinstance(fields, dict) or not all(
            isinstance(v, dict) and isinstance(v.get("value"), str) for v in fields.values()
        ):
            raise _invalid("isv.invalid-parameter", "data格式错误")
        for name, item in fields.items():
            if len(item["value"]) > TEMPLATE_VALUE_LIMIT:
                raise _invalid(
                    "isv.invalid-parameter", f"{name}的值超过{TEMPLATE_VALUE_LIMIT}个字符"
                )
        page = biz.get("page") or ""
        if "?" in page and not _ENCODED_QUERY_RE.match(page.split("?", 1)[1]):
            raise _invalid("isv.invalid-parameter", "page的参数须URL编码")
        user = self._find_user(biz.get("to_user_id"), biz.get("to_open_id"))
        key = (user.user_id, template_id)
        remaining = self.consents.get(key, 0)
        if remaining is not None and remaining <= 0:
            raise _Reply("40004", "Business Failed", "USER_NOT_SUBSCRIBED", "用户未订阅该消息模板")
        if remaining is not None:
            self.consents[key] = remaining - 1
        self.sent_messages.append(
            {
                "user_id": user.user_id,
                "open_id": user.open_id,
                "template_id": template_id,
                "page": biz.get("page"),
                "data": {k: v["value"] for k, v in fields.items()},
                "sent_at": self.clock(),
            }
        )
        return {"code": "10000", "msg": "Success"}

    def _subscribe_query(self, params: dict[str, str]) -> dict[str, Any]:
        biz = _biz(params)
        user = self._find_user(biz.get("user_id"), biz.get("open_id"))
        relations = []
        for template_id in biz.get("template_id_list") or []:
            remaining = self.consents.get((user.user_id, template_id), 0)
            relations.append(
                {
                    "template_id": template_id,
                    "subscribe_state": "1" if remaining is None or remaining > 0 else "0",
                    "subscribe_type": "longterm" if remaining is None else "once",
                    "show": True,
                    "keep_state": "0",
                }
            )
        return {
            "code": "10000",
            "msg": "Success",
            "show_component": True,
            "subscribe_relations": relations,
        }

    # -- admin -----------------------------------------------------------------------------------

    def _register_admin(self) -> None:
        def users(body: dict[str, Any]) -> dict[str, Any]:
            items = body.get("users", [body])
            return {"users": [asdict(self.add_user(item)) for item in items]}

        def apps(body: dict[str, Any]) -> dict[str, Any]:
            self.register_app(body["app_id"], body["public_key"], body.get("aes_key"))
            return {"app_id": body["app_id"]}

        def consents(body: dict[str, Any]) -> dict[str, Any]:
            self.grant_consent(
                body["user_id"],
                body["template_id"],
                int(body.get("count", 1)),
                bool(body.get("longterm", False)),
            )
            return {"remaining": self.remaining_consent(body["user_id"], body["template_id"])}

        def errors(body: dict[str, Any]) -> dict[str, Any]:
            self.inject_error(
                body.get("method", "*"),
                code=body.get("code"),
                sub_code=body.get("sub_code"),
                msg=body.get("msg", ""),
                sub_msg=body.get("sub_msg"),
                status=body.get("status"),
                delay=body.get("delay"),
                tamper=bool(body.get("tamper")),
                unsigned=bool(body.get("unsigned")),
                times=int(body.get("times", 1)),
            )
            return {"ok": True}

        def complete(body: dict[str, Any]) -> dict[str, Any]:
            self.complete_certification(
                body["certify_id"], bool(body.get("passed", True)), body.get("fail_reason")
            )
            return {"ok": True}

        def settings(body: dict[str, Any]) -> dict[str, Any]:
            for name in SETTINGS:
                if name in body:
                    setattr(self, name, bool(body[name]))
            return {name: getattr(self, name) for name in SETTINGS}

        self.admin("POST", "users", users)
        self.admin("GET", "users", lambda q: {"users": [asdict(u) for u in self.users.values()]})
        self.admin("POST", "apps", apps)
        self.admin(
            "POST",
            "auth-codes",
            lambda b: {"auth_code": self.mint_auth_code(b["user_id"], b.get("app_id"))},
        )
        self.admin(
            "POST",
            "phone-payloads",
            lambda b: {"payload": self.phone_payload(b["user_id"], b["app_id"])},
        )
        self.admin("POST", "consents", consents)
        self.admin("GET", "messages", lambda q: {"messages": list(self.sent_messages)})
        self.admin(
            "GET",
            "certifications",
            lambda q: {"certifications": list(self.certifications.values())},
        )
        self.admin("POST", "certifications/complete", complete)
        self.admin("POST", "errors", errors)
        self.admin("POST", "settings", settings)
        self.admin(
            "GET",
            "info",
            lambda q: {
                "gateway_url": self.gateway_url,
                "gateway_public_key": self.gateway_public_key,
            },
        )


SETTINGS = ("member_info_granted", "grant_cert_no", "legacy_app")


def _biz(params: dict[str, str]) -> dict[str, Any]:
    try:
        biz = json.loads(params.get("biz_content") or "{}")
    except ValueError:
        raise _invalid("isv.invalid-biz-content", "biz_content不是合法的JSON") from None
    if not isinstance(biz, dict):
        raise _invalid("isv.invalid-biz-content", "biz_content格式错误")
    return biz
