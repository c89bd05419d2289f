"""SMS verification codes: 6 digits, single use, 5-minute expiry, bound to phone + scene;
5 wrong tries burn the code. Sending quotas and the resend interval are enforced by
:meth:`SmsCodes.send` too, so every scene (register, reset, transaction) gets the same protection.

Redis never holds a phone or a code in clear: keys carry the phone's keyed look-up hash (the one
the database uses, :meth:`backend.pii.PiiVault.phone_lookup`) and a code is kept as an HMAC under
the server's look-up key. Checking a code is ONE Lua script (expiry by the application clock,
constant-time comparison, counting the try, burning or consuming the code), so parallel guesses
get exactly ``MAX_TRIES`` evaluations and a burned code can never come back.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Protocol

import redis

from backend import clock
from backend.cache import Keys
from backend.errors import ValidationFailed
from backend.pii import PiiVault
from backend.ratelimit import Limit, Limiter

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

# Checked in this order by one script; a refusal by one counts against none.
RESEND_GATE = Limit(
    "sms-gate",
    1,
    RESEND_AFTER,
    message="验证码发送过于频繁，请 {seconds} 秒后再试",
    error_code="sms.resend_too_soon",
)
PHONE_DAILY = Limit(
    "sms-day-phone",
    DAILY_PER_PHONE,
    message="该手机号今日获取验证码次数已达上限，请明天再试",
    error_code="sms.daily_quota",
)
IP_DAILY = Limit(
    "sms-day-ip",
    DAILY_PER_IP,
    message="今日获取验证码次数已达上限，请明天再试",
    error_code="sms.daily_quota",
)

# KEYS[1]: the code. ARGV: now (ms), HMAC of the offered code, MAX_TRIES.
_CHECK = """
local v = redis.call('HMGET', KEYS[1], 'h', 'x')
local stored, expires = v[1], tonumber(v[2])
if not stored then return 'expired' end
if tonumber(ARGV[1]) >= expires then redis.call('DEL', KEYS[1]); return 'expired' end
local offered = ARGV[2]
local diff = 0
if #offered ~= #stored then diff = 1 end
for i = 1, #stored do
  if string.byte(stored, i) ~= string.byte(offered, i) then diff = diff + 1 end
end
if diff == 0 then redis.call('DEL', KEYS[1]); return 'ok' end
if redis.call('HINCRBY', KEYS[1], 't', 1) >= tonumber(ARGV[3]) then
  redis.call('DEL', KEYS[1]); return 'burned'
end
return 'invalid'
"""


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


def _expired() -> ValidationFailed:
    return ValidationFailed(
        "短信验证码已失效，请重新获取",
        error_code="sms.code_expired",
        errors={"sms_code": ["验证码已失效"]},
    )


class SmsCodes:
    def __init__(
        self, r: redis.Redis, keys: Keys, sender: SmsSender, centre: str, pii: PiiVault
    ) -> None:
        self.r = r
        self.k = keys
        self.sender = sender
        self.centre = centre
        self.pii = pii
        self.limiter = Limiter(r, keys)

    def _key(self, scene: str, phone_hash: str) -> str:
        return self.k("sms", "code", scene, phone_hash)

    def _digest(self, scene: str, phone_hash: str, code: str) -> str:
        # Bound to phone and scene: a code's HMAC is worthless under any other key.
        return self.pii.lookup(f"smscode:{scene}:{phone_hash}:{code}")

    def _take_quota(self, phone: str, scene: str, ip: str | None) -> None:
        """Count one SMS to ``phone`` against the resend gate and the daily quotas, or raise 429."""
        phone_hash = self.pii.phone_lookup(phone)
        self.limiter.take(
            (RESEND_GATE, f"{scene}:{phone_hash}"),
            (PHONE_DAILY, phone_hash),
            (IP_DAILY, ip),
        )

    def send(
        self, phone: str, scene: str, ip: str | None = None, *, notice: str | None = None
    ) -> CodeSent:
        """Send a fresh code (the previous one dies). With ``notice``, the phone receives that
        text instead and the stored code is one nobody was told: the caller's answer, quotas and
        work are those of a real code, so a stranger cannot tell the two apart."""
        phone = phone.strip()
        self._take_quota(phone, scene, ip)
        phone_hash = self.pii.phone_lookup(phone)
        code = f"{secrets.randbelow(10**6):06d}"
        key = self._key(scene, phone_hash)
        expires = clock.utcnow().timestamp() + CODE_TTL
        pipe = self.r.pipeline(transaction=True)
        pipe.delete(key)
        pipe.hset(
            key,
            mapping={"h": self._digest(scene, phone_hash, code), "x": int(expires * 1000), "t": 0},
        )
        pipe.expire(key, CODE_TTL + 60)
        pipe.execute()
        if notice is None:
            self.sender.send(phone, scene, code, _code_text(self.centre, scene, code))
        else:
            self.sender.send(phone, "notice", "", notice)
        return CodeSent(resend_after=RESEND_AFTER, expires_in=CODE_TTL)

    def verify(self, phone: str, scene: str, code: str) -> None:
        """Consume the code or raise. A wrong code counts a try; the fifth burns the code."""
        phone_hash = self.pii.phone_lookup(phone.strip())
        offered = self._digest(scene, phone_hash, (code or "").strip())
        now_ms = int(clock.utcnow().timestamp() * 1000)
        outcome = self.r.eval(_CHECK, 1, self._key(scene, phone_hash), now_ms, offered, MAX_TRIES)
        if isinstance(outcome, bytes):
            outcome = outcome.decode()
        if outcome == "ok":
            return
        if outcome == "expired":
            raise _expired()
        if outcome == "burned":
            raise ValidationFailed(
                "验证码错误次数过多，请重新获取",
                error_code="sms.code_burned",
                errors={"sms_code": ["验证码已作废"]},
            )
        raise ValidationFailed(
            "短信验证码不正确", error_code="sms.code_invalid", errors={"sms_code": ["验证码不正确"]}
        )
