"""Identity data: validation, masking, encryption at rest and keyed look-up hashes.

ID numbers and phones are stored AES-GCM encrypted; equality look-ups go through an HMAC column so
the database never holds a plain or merely hashed (and so brute-forceable) identifier.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import os
import re

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from adapters.redact import redact as adapters_redact

_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"
_ID_RE = re.compile(r"^\d{17}[\dX]$")
_PHONE_RE = re.compile(r"^1[3-9]\d{9}$")


def id_check_digit(first17: str) -> str:
    """GB 11643-1999 check character of the first 17 digits."""
    total = sum(int(d) * w for d, w in zip(first17, _ID_WEIGHTS, strict=True))
    return _ID_CHECK[total % 11]


def normalize_id_number(value: str) -> str:
    return value.strip().upper()


def is_valid_id_number(value: str) -> bool:
    """18 digits (last may be X), a real birth date, and the GB 11643 checksum."""
    value = normalize_id_number(value)
    if not _ID_RE.match(value):
        return False
    try:
        dt.date(int(value[6:10]), int(value[10:12]), int(value[12:14]))
    except ValueError:
        return False
    return id_check_digit(value[:17]) == value[17]


def is_valid_phone(value: str) -> bool:
    return bool(_PHONE_RE.match(value.strip()))


def looks_like_id_number(value: str) -> bool:
    return len(value.strip()) == 18


def mask_id_number(value: str) -> str:
    """``1401**********1234``: the region's first four and the last four stay visible."""
    value = normalize_id_number(value)
    if len(value) < 8:
        return "*" * len(value)
    return value[:4] + "*" * (len(value) - 8) + value[-4:]


def mask_phone(value: str) -> str:
    """``138****5678``."""
    value = value.strip()
    if len(value) < 7:
        return "*" * len(value)
    return value[:3] + "*" * (len(value) - 7) + value[-4:]


def mask_name(value: str) -> str:
    """``张*`` / ``欧阳**``: the surname stays, the given name is hidden (for third parties)."""
    if len(value) <= 1:
        return value
    return value[0] + "*" * (len(value) - 1)


class PiiVault:
    """Encrypts, decrypts and hashes identity data with keys from settings."""

    def __init__(self, enc_key: bytes, lookup_key: bytes) -> None:
        if len(enc_key) != 32 or len(lookup_key) != 32:
            raise ValueError("PII keys must be 32 bytes")
        self._aead = AESGCM(enc_key)
        self._lookup_key = lookup_key

    def encrypt(self, plain: str) -> str:
        nonce = os.urandom(12)
        sealed = self._aead.encrypt(nonce, plain.encode(), None)
        return base64.urlsafe_b64encode(nonce + sealed).decode()

    def decrypt(self, token: str) -> str:
        raw = base64.urlsafe_b64decode(token)
        return self._aead.decrypt(raw[:12], raw[12:], None).decode()

    def lookup(self, plain: str) -> str:
        return hmac.new(self._lookup_key, plain.encode(), hashlib.sha256).hexdigest()

    def id_lookup(self, id_number: str) -> str:
        return self.lookup("id:" + normalize_id_number(id_number))

    def phone_lookup(self, phone: str) -> str:
        return self.lookup("phone:" + phone.strip())


# Log redaction is defence in depth: code never logs identity data or credentials on purpose,
# but a stray exception message or a library's DEBUG line might carry one. One rule for both
# sides: the channel library's (identity data plus the platforms' credentials in URLs).
redact = adapters_redact


def compose_id_number(region: str, birth: dt.date, sequence: int) -> str:
    """A GB 11643 ID number from a 6-digit region code, a birth date and a 3-digit sequence."""
    first17 = f"{region}{birth:%Y%m%d}{sequence:03d}"
    return first17 + id_check_digit(first17)
