"""Opaque bearer sessions held in Redis (not JWT, so revocation is immediate).

- access token: idle timeout, extended on every use;
- refresh token: single use; each refresh rotates the pair within the same *family*;
  presenting a spent refresh token again means it was stolen: the whole family is revoked;
- logout revokes the family; password change/reset or a disabled member revokes every family.

Redis holds only SHA-256 digests of tokens, never the tokens themselves.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from dataclasses import dataclass

import redis

from backend.cache import Keys


@dataclass(frozen=True)
class TokenPair:
    access_token: str
    refresh_token: str
    expires_in: int
    family: str
    member_id: int = 0


@dataclass(frozen=True)
class AccessInfo:
    member_id: int
    family: str
    # The centre switched the member's online access off (``disable``): refuse, don't serve.
    access_off: bool = False


class RefreshReused(Exception):
    """A spent refresh token came back: its family has been revoked."""

    def __init__(self, family: str, member_id: int | None = None) -> None:
        super().__init__(family)
        self.family = family
        self.member_id = member_id


# One round trip per authenticated request: read the access token, refuse it when the centre has
# switched its member's access off, else restart its idle clock. The "off" marker is what lets a
# request skip loading the member row; ``disable_online_access`` sets it before ending sessions,
# so a login racing the switch-off cannot leave a live token behind.
RESOLVE_SCRIPT = """
local v = redis.call('GET', KEYS[1])
if not v then return nil end
local d = cjson.decode(v)
if redis.call('EXISTS', ARGV[2] .. d['m']) == 1 then return 'OFF:' .. v end
redis.call('EXPIRE', KEYS[1], ARGV[1])
return v
"""


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class TokenStore:
    def __init__(self, r: redis.Redis, keys: Keys, access_ttl: int, refresh_ttl: int) -> None:
        self.r = r
        self.k = keys
        self.access_ttl = access_ttl
        self.refresh_ttl = refresh_ttl
        self._resolve = r.register_script(RESOLVE_SCRIPT)

    def issue(self, member_id: int, family: str | None = None) -> TokenPair:
        family = family or secrets.token_urlsafe(12)
        access = secrets.token_urlsafe(32)
        refresh = secrets.token_urlsafe(32)
        a_key = self.k("tok", "a", _digest(access))
        r_key = self.k("tok", "r", _digest(refresh))
        fam_key = self.k("tok", "fam", family)
        pipe = self.r.pipeline()
        pipe.set(a_key, json.dumps({"m": member_id, "f": family}), ex=self.access_ttl)
        pipe.set(r_key, json.dumps({"m": member_id, "f": family, "used": 0}), ex=self.refresh_ttl)
        pipe.sadd(fam_key, a_key, r_key)
        pipe.expire(fam_key, self.refresh_ttl)
        member_key = self.k("tok", "member", member_id)
        pipe.sadd(member_key, family)
        pipe.expire(member_key, self.refresh_ttl)
        pipe.execute()
        return TokenPair(access, refresh, self.access_ttl, family, member_id)

    def resolve(self, access_token: str) -> AccessInfo | None:
        """The session behind an access token (``None`` when unknown or idle too long); its idle
        timeout slides. ``access_off`` says the member's online access is switched off."""
        a_key = self.k("tok", "a", _digest(access_token))
        raw = self._resolve(keys=[a_key], args=[self.access_ttl, self.k("tok", "off", "")])
        if raw is None:
            return None
        if isinstance(raw, bytes):
            raw = raw.decode()
        off = raw.startswith("OFF:")
        data = json.loads(raw.removeprefix("OFF:"))
        return AccessInfo(member_id=int(data["m"]), family=data["f"], access_off=off)

    def rotate(self, refresh_token: str) -> TokenPair | None:
        """New pair for a valid refresh token; ``None`` if unknown/expired; raises on reuse."""
        r_key = self.k("tok", "r", _digest(refresh_token))
        # Mark used atomically so two concurrent refreshes can't both succeed.
        script = (
            "local v = redis.call('GET', KEYS[1]); if not v then return nil end; "
            "local d = cjson.decode(v); if d['used'] == 1 then return 'REUSED:' .. v end; "
            "d['used'] = 1; redis.call('SET', KEYS[1], cjson.encode(d), 'KEEPTTL'); return v"
        )
        raw = self.r.eval(script, 1, r_key)
        if raw is None:
            return None
        if isinstance(raw, bytes):
            raw = raw.decode()
        if raw.startswith("REUSED:"):
            data = json.loads(raw.removeprefix("REUSED:"))
            self.revoke_family(data["f"])
            raise RefreshReused(data["f"], int(data["m"]))
        data = json.loads(raw)
        # The old access token of this family dies with the rotation.
        fam_key = self.k("tok", "fam", data["f"])
        old_access = [k for k in self._members(fam_key) if ":a:" in k]
        if old_access:
            self.r.delete(*old_access)
            self.r.srem(fam_key, *old_access)
        return self.issue(int(data["m"]), family=data["f"])

    def revoke_access(self, access_token: str) -> None:
        info = self.resolve(access_token)
        if info:
            self.revoke_family(info.family)

    def revoke_family(self, family: str) -> None:
        fam_key = self.k("tok", "fam", family)
        keys = self._members(fam_key)
        if keys:
            self.r.delete(*keys)
        self.r.delete(fam_key)

    def switch_access(self, member_id: int, *, on: bool) -> None:
        """Mark the member's online access off (every token of theirs is refused from now on,
        whatever its age) or on again. The mark outlives every token issued before it."""
        key = self.k("tok", "off", member_id)
        if on:
            self.r.delete(key)
        else:
            self.r.set(key, "1", ex=self.refresh_ttl + self.access_ttl)

    def revoke_member(self, member_id: int, keep_family: str | None = None) -> int:
        member_key = self.k("tok", "member", member_id)
        families = [f for f in self._members(member_key) if f != keep_family]
        for family in families:
            self.revoke_family(family)
        if families:
            self.r.srem(member_key, *families)
        return len(families)

    def _members(self, key: str) -> list[str]:
        return [m.decode() if isinstance(m, bytes) else m for m in self.r.smembers(key)]
