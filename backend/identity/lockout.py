"""Password attempts: slowing a guesser down without letting anyone lock a member out at will.

Every attempt (login, WeChat binding by password) takes a slot in three limits at once, before
any password is checked, through :class:`backend.ratelimit.Limiter` (one atomic script):

- per login name + IP: ``PAIR_FAILURES`` failures in ``PAIR_MINUTES`` → that address may not try
  that name again until the window ends (the answer a guesser sees, ``auth.account_locked``);
- per login name, all addresses: ``ACCOUNT_FAILURES`` in ``ACCOUNT_HOURS`` (a distributed guess
  needs many addresses and as many solved captchas); the member is told by SMS and can lift it
  with the forgotten-password flow or log in through Alipay or WeChat meanwhile;
- per IP, all names: ``IP_FAILURES`` in ``IP_MINUTES`` (``auth.ip_throttled``).

A success gives its slot back and clears the name's counters. Counters are keyed by the keyed
look-up hash of the login name, never by member, so a name nobody holds behaves exactly like a
member's: same answers, same thresholds, same work. A member's own device keeps its own counter,
so a stranger's five wrong passwords lock out the stranger only.
"""

from __future__ import annotations

import datetime as dt

from backend import clock
from backend.errors import Forbidden
from backend.members.models import Member
from backend.pii import PiiVault, is_valid_phone, looks_like_id_number
from backend.ratelimit import Limit, Limiter, Slot, retry_after
from backend.runtime import Runtime

PAIR_FAILURES = 5
PAIR_MINUTES = 15
ACCOUNT_FAILURES = 50
ACCOUNT_HOURS = 24
IP_FAILURES = 20
IP_MINUTES = 15


def locked_error(until: dt.datetime) -> Forbidden:
    local = clock.to_local(until)
    when = f"{local:%H:%M}" if local.date() == clock.today() else f"{local:%m月%d日 %H:%M}"
    return Forbidden(
        f"密码输错次数过多，账户已锁定，请于{when}后再试，或通过“忘记密码”重置",
        error_code="auth.account_locked",
        headers={"Retry-After": str(retry_after(until))},
        locked_until=local.isoformat(timespec="seconds"),
    )


PAIR = Limit("pw-pair", PAIR_FAILURES, PAIR_MINUTES * 60, refuse=locked_error)
ACCOUNT = Limit("pw-name", ACCOUNT_FAILURES, ACCOUNT_HOURS * 3600, refuse=locked_error)
IP = Limit(
    "pw-ip",
    IP_FAILURES,
    IP_MINUTES * 60,
    message="登录失败次数过多，请{minutes}分钟后再试",
    error_code="auth.ip_throttled",
)


def name_key(pii: PiiVault, username: str) -> str:
    """The login name's keyed hash: the database's look-up hash for an ID number or a phone."""
    username = username.strip()
    if looks_like_id_number(username):
        return pii.id_lookup(username)
    if is_valid_phone(username):
        return pii.phone_lookup(username)
    return pii.lookup("login-name:" + username)


class PasswordAttempt:
    """One password attempt, counted before it runs. Raises the refusal if a limit is used up."""

    def __init__(self, rt: Runtime, username: str, ip: str | None) -> None:
        self.limiter = Limiter(rt.redis, rt.keys)
        name = name_key(rt.pii, username)
        # A password reset starts a new epoch of the name: every address's lock ends with it.
        epoch = str(rt.redis.get(rt.keys("rl", "pw-epoch", name)) or 0)
        self.checks = ((IP, ip), (PAIR, f"{name}:{epoch}:{ip or '-'}"), (ACCOUNT, name))
        self.slots: list[Slot] = self.limiter.take(*self.checks)

    def succeeded(self) -> None:
        self.limiter.give_back(self.slots[:1])
        self.limiter.clear(*self.checks[1:])

    def lock_until(self) -> dt.datetime | None:
        """After a failure: the end of the lock this failure started, if it used the last try."""
        ends = [slot.window_end for slot in self.slots[1:] if slot.last]
        return max(ends) if ends else None

    @property
    def name_paused(self) -> bool:
        """This failure used the last try the name has from all addresses."""
        return self.slots[2].last


def lift(rt: Runtime, member: Member) -> None:
    """A password reset ends every lock and pause of the member's login names."""
    names = [name for name in (member.id_number_hash, member.phone_hash) if name]
    pipe = rt.redis.pipeline()
    for name in names:
        epoch = rt.keys("rl", "pw-epoch", name)
        pipe.incr(epoch)
        pipe.expire(epoch, ACCOUNT_HOURS * 3600)
    pipe.execute()
    Limiter(rt.redis, rt.keys).clear(*[(ACCOUNT, name) for name in names])
