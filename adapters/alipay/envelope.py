"""The gateway's envelope: what is signed and how, what is verified, and the AES content layer.

Requests carry an RSA2 signature over their sorted parameters and a Beijing-time ``timestamp``;
replies and ``my.getPhoneNumber`` payloads carry the gateway's signature; phone payloads may be
AES-encrypted with the app's content key. Nothing here talks to the network.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping
from datetime import datetime, timedelta, timezone
from typing import Any

from cryptography.hazmat.primitives import padding as sym_padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from adapters.alipay import keys
from adapters.errors import (
    ALIPAY,
    ALIPAY_OK,
    PermanentChannelError,
    ResponseSignatureError,
    SignatureError,
)

# China has had no daylight saving since 1991: a fixed +08:00 offset is exact and needs no tzdata.
BEIJING = timezone(timedelta(hours=8), "Asia/Shanghai")


def beijing_timestamp(now: datetime | None = None) -> str:
    """The gateway's ``timestamp``: ``yyyy-MM-dd HH:mm:ss`` in Beijing time."""
    moment = now if now is not None else datetime.now(tz=BEIJING)
    return moment.astimezone(BEIJING).strftime("%Y-%m-%d %H:%M:%S")


def sign_params(params: Mapping[str, str], private_key: str, sign_type: str, charset: str) -> str:
    """The ``sign`` of a request: RSA2 over the sorted ``key=value`` pairs of its parameters."""
    return keys.sign(private_key, keys.sign_content(dict(params)).encode(charset), sign_type)


def notification_is_signed(params: Mapping[str, str], alipay_public_key: str) -> bool:
    """Check an asynchronous notification; both ``sign`` and ``sign_type`` are excluded."""
    signature = params.get("sign")
    if not signature:
        return False
    content = keys.sign_content(dict(params), exclude=("sign", "sign_type"))
    return keys.verify(
        alipay_public_key,
        content.encode("utf-8"),
        signature,
        params.get("sign_type") or "RSA2",
    )


def unsigned_error(body: bytes) -> str | None:
    """An error reply the gateway sent without a ``sign`` member, as its inner JSON text.

    Alipay does not sign every error (those it answers before it knows the app, e.g. an unknown
    app_id or a bad request signature, come back as an unsigned ``error_response``). The official
    Java SDK verifies a reply when it is a success or carries a signature, and otherwise accepts
    the error as it is (AbstractAlipayClient.checkResponseSign), keeping code and sub_code. A
    success is never accepted unsigned: that stays a signature failure.
    """
    try:
        data = json.loads(body)
    except ValueError:
        return None
    if not isinstance(data, dict) or data.get("sign"):
        return None
    for key, inner in data.items():
        if key.endswith("_response") and isinstance(inner, dict):
            code = inner.get("code")
            if code is not None and str(code) != ALIPAY_OK:
                return json.dumps(inner, ensure_ascii=False)
            raise ResponseSignatureError(ALIPAY, "response-signature", "unsigned success reply")
    return None


def open_phone_payload(
    payload: str | Mapping[str, str], alipay_public_key: str, aes_key: str
) -> dict[str, Any]:
    """A ``my.getPhoneNumber`` payload (the JSON string or its dict), verified and decrypted."""
    fields = _payload_fields(payload)
    content = fields.get("response", "")
    sign_type = fields.get("sign_type") or "RSA2"
    encrypted = bool(fields.get("encrypt_type")) or not content.startswith("{")
    # When `response` is ciphertext Alipay signs it wrapped in double quotes, exactly as it
    # sits inside the JSON text.
    signed = f'"{content}"' if encrypted else content
    signature = fields.get("sign", "")
    if not signature or not keys.verify(
        alipay_public_key, signed.encode("utf-8"), signature, sign_type
    ):
        raise SignatureError(ALIPAY, "payload-signature", "phone payload signature invalid")
    plain = aes_decrypt(content, aes_key) if encrypted else content
    try:
        data: dict[str, Any] = json.loads(plain)
    except ValueError:
        raise PermanentChannelError(ALIPAY, "invalid-payload", "phone payload unreadable") from None
    return data


def aes_decrypt(ciphertext_b64: str, aes_key_b64: str) -> str:
    """Alipay content decryption: AES-CBC, IV of 16 zero bytes, PKCS#7 padding.

    Done with `cryptography` because the SDK's EncryptUtils passes a str IV to pycryptodome and
    fails on Python 3.
    """
    try:
        key = base64.b64decode(aes_key_b64, validate=True)
        data = base64.b64decode(ciphertext_b64, validate=True)
        decryptor = Cipher(algorithms.AES(key), modes.CBC(b"\0" * 16)).decryptor()
        padded = decryptor.update(data) + decryptor.finalize()
        unpadder = sym_padding.PKCS7(128).unpadder()
        return (unpadder.update(padded) + unpadder.finalize()).decode("utf-8")
    except (binascii.Error, ValueError, UnicodeDecodeError):
        raise PermanentChannelError(ALIPAY, "decrypt", "content could not be decrypted") from None


def aes_encrypt(plaintext: str, aes_key_b64: str) -> str:
    """The inverse of :func:`aes_decrypt` (used by the fake gateway)."""
    key = base64.b64decode(aes_key_b64, validate=True)
    padder = sym_padding.PKCS7(128).padder()
    padded = padder.update(plaintext.encode("utf-8")) + padder.finalize()
    encryptor = Cipher(algorithms.AES(key), modes.CBC(b"\0" * 16)).encryptor()
    return base64.b64encode(encryptor.update(padded) + encryptor.finalize()).decode("ascii")


def _payload_fields(payload: str | Mapping[str, str]) -> dict[str, str]:
    if isinstance(payload, Mapping):
        return {str(k): str(v) for k, v in payload.items() if v is not None}
    try:
        parsed = json.loads(payload)
    except ValueError:
        raise PermanentChannelError(
            ALIPAY, "invalid-payload", "phone payload is not JSON"
        ) from None
    if not isinstance(parsed, dict):
        raise PermanentChannelError(ALIPAY, "invalid-payload", "phone payload is not an object")
    return {str(k): str(v) for k, v in parsed.items() if v is not None}
