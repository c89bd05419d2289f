"""SMS verification codes: 6 digits, single use, 5-minute expiry, bound to phone + scene;
5 wrong tries burn the code. Sending quotas and the resend interval are enforced by
:func:`send_code` too, so every scene (register, reset, transaction) gets the same protection.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass
from typing import Protocol

import redis

from backend.cache import Keys
from backend.clock import utcnow
from backend.errors import TooManyRequests, ValidationFailed

CODE_TTL = 300
RESEND_AFTER = 60
MAX_TRIES = 5
DAILY_PER_PHONE = 10
DAILY_PER_IP = 20

SCENES = {
    "register": "注册",
    "reset": "重置密码",
    "transaction": "业务办理",
    "login": "登录",
}


class SmsSender(Protocol):
    def send(self, phone: str, scene: str, code: str, text: str) -> None: ...


@dataclass(frozen=True)
class CodeSent:
    resend_after: int
    expires_in: int


def _code_text(centre: str, scene: str, code: str) -> str:
    return (
        f"【{centre}】您正在进行{SCENES.get(scene, '身份验证')}，验证码 {code}，"
        f"{CODE_TTL // 60} 分钟内有效。请勿将验证码告诉他人。"
    )


class SmsCodes:
    def __init__(self, r: redis.Redis, keys: Keys, sender: SmsSender, centre: str) -> None:
        self.r = r
        self.k = keys
        self.sender = sender
        self.centre = centre

    def send(self, phone: str, scene: str, ip: str | None = None) -> CodeSent:
        day = utcnow().strftime("%Y%m%d")
        gate = self.k("sms", "gate", scene, phone)
        if not self.r.set(gate, "1", nx=True, ex=RESEND_AFTER):
            ttl = max(int(self.r.ttl(gate)), 1)
            raise TooManyRequests(
                f"验证码发送过于频繁，请 {ttl} 秒后再试",
                error_code="sms.resend_too_soon",
                retry_after=ttl,
            )
        for counter, limit, message in (
            (
                self.k("sms", "day", day, "phone", phone),
                DAILY_PER_PHONE,
                "该手机号今日获取验证码次数已达上限",
            ),
            (
                self.k("sms", "day", day, "ip", ip or "-"),
                DAILY_PER_IP,
                "今日获取验证码次数已达上限",
            ),
        ):
            count = self.r.incr(counter)
            if count == 1:
                self.r.expire(counter, 26 * 3600)
            if count > limit:
                self.r.delete(gate)
                raise TooManyRequests(message + "，请明天再试", error_code="sms.daily_quota")
        code = f"{secrets.randbelow(10**6):06d}"
        self.r.set(
            self.k("sms", "code", scene, phone),
            json.dumps({"code": code, "tries": 0}),
            ex=CODE_TTL,
        )
        self.sender.send(phone, scene, code, _code_text(self.centre, scene, code))
        return CodeSent(resend_after=RESEND_AFTER, expires_in=CODE_TTL)

    def verify(self, phone: str, scene: str, code: str) -> None:
        """Consume the code or raise. A wrong code counts a try; the fifth burns the code."""
        key = self.k("sms", "code", scene, phone)
        raw = self.r.get(key)
        if raw is None:
            raise ValidationFailed(
                "短信验证码已失效，请重新获取",
                error_code="sms.code_expired",
                errors={"sms_code": ["验证码已失效"]},
            )
        data = json.loads(raw)
        if secrets.compare_digest(str(data["code"]), (code or "").strip()):
            # Single use: only the caller that deletes the key wins.
            if self.r.delete(key) == 1:
                return
            raise ValidationFailed(
                "短信验证码已失效，请重新获取",
                error_code="sms.code_expired",
                errors={"sms_code": ["验证码已失效"]},
            )
        data["tries"] += 1
        if data["tries"] >= MAX_TRIES:
            self.r.delete(key)
            raise ValidationFailed(
                "验证码错误次数过多，请重新获取",
                error_code="sms.code_burned",
                errors={"sms_code": ["验证码已作废"]},
            )
        self.r.set(key, json.dumps(data), keepttl=True)
        raise ValidationFailed(
            "短信验证码不正确", error_code="sms.code_invalid", errors={"sms_code": ["验证码不正确"]}
        )
