"""Password hashing (argon2id) and the centre's password policy (manual 1.2: 6–18 letters+digits).

Parameters: time_cost=2, memory_cost=19 MiB, parallelism=1 — OWASP's argon2id baseline; the per-hash
time measured on this project's 2-core machine is reported by ``scripts/bench_argon2.py``
(about 17 ms per hash and per verify when measured; login does one verify per attempt).
"""

from __future__ import annotations

import re
import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

_POLICY = re.compile(r"^(?=.*[A-Za-z])(?=.*\d)[A-Za-z\d]{6,18}$")


def make_hasher(
    time_cost: int = 2, memory_cost: int = 19 * 1024, parallelism: int = 1
) -> PasswordHasher:
    return PasswordHasher(time_cost=time_cost, memory_cost=memory_cost, parallelism=parallelism)


def password_meets_policy(password: str) -> bool:
    """6–18 characters, letters and digits only, at least one of each."""
    return bool(_POLICY.match(password))


def verify_password(hasher: PasswordHasher, password_hash: str, password: str) -> bool:
    try:
        return hasher.verify(password_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


class Passwords:
    """The process's hasher and its dummy hash, both made once at bootstrap.

    The dummy hash (live parameters) is what a login for an unknown user verifies against, so
    that an unknown name costs the same argon2 work as a known one with a wrong password.
    """

    def __init__(self, hasher: PasswordHasher) -> None:
        self.hasher = hasher
        self.dummy_hash = hasher.hash(secrets.token_urlsafe(16))

    def hash(self, password: str) -> str:
        return self.hasher.hash(password)

    def verify(self, password_hash: str, password: str) -> bool:
        return verify_password(self.hasher, password_hash, password)

    def verify_dummy(self, password: str) -> None:
        verify_password(self.hasher, self.dummy_hash, password)

    def needs_rehash(self, password_hash: str) -> bool:
        return self.hasher.check_needs_rehash(password_hash)
