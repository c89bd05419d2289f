"""RSA key handling and RSA2 signatures for the Alipay v2 protocol, with `cryptography`.

Alipay's console hands out keys as bare base64 (no PEM armour), and its key tool writes PKCS#8
by default, while alipay-sdk-python 3.7.1411 only loads PKCS#1 (``BEGIN RSA PRIVATE KEY``). We
accept PEM or bare base64, PKCS#1 or PKCS#8, and hand the SDK the form it can read.
"""

from __future__ import annotations

import base64
import binascii
import functools

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa


class KeyFormatError(ValueError):
    """A key could not be read as an RSA key in any accepted form."""


def _as_text(key: str | bytes) -> str:
    return key.decode("ascii") if isinstance(key, bytes) else key


def _bare_der(text: str) -> bytes:
    try:
        return base64.b64decode("".join(text.split()), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise KeyFormatError("key is neither PEM nor base64 DER") from exc


def load_private_key(key: str | bytes) -> rsa.RSAPrivateKey:
    """Load an RSA private key given as PEM or bare base64, PKCS#1 or PKCS#8."""
    text = _as_text(key).strip()
    try:
        if text.startswith("-----BEGIN"):
            loaded = serialization.load_pem_private_key(text.encode("ascii"), password=None)
        else:
            # load_der_private_key reads both PKCS#8 and PKCS#1 ("traditional") DER.
            loaded = serialization.load_der_private_key(_bare_der(text), password=None)
    except (ValueError, TypeError) as exc:
        raise KeyFormatError("unreadable RSA private key") from exc
    if not isinstance(loaded, rsa.RSAPrivateKey):
        raise KeyFormatError("private key is not RSA")
    return loaded


def load_public_key(key: str | bytes) -> rsa.RSAPublicKey:
    """Load an RSA public key given as PEM or bare base64 (SubjectPublicKeyInfo or PKCS#1)."""
    text = _as_text(key).strip()
    try:
        if text.startswith("-----BEGIN"):
            loaded = serialization.load_pem_public_key(text.encode("ascii"))
        else:
            der = _bare_der(text)
            try:
                loaded = serialization.load_der_public_key(der)
            except ValueError:
                loaded = serialization.load_pem_public_key(
                    b"-----BEGIN RSA PUBLIC KEY-----\n"
                    + base64.encodebytes(der)
                    + b"-----END RSA PUBLIC KEY-----\n"
                )
    except (ValueError, TypeError) as exc:
        raise KeyFormatError("unreadable RSA public key") from exc
    if not isinstance(loaded, rsa.RSAPublicKey):
        raise KeyFormatError("public key is not RSA")
    return loaded


def private_key_pkcs1_pem(key: str | bytes) -> str:
    """The key as PKCS#1 PEM, the only form alipay-sdk-python can load."""
    return (
        load_private_key(key)
        .private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.TraditionalOpenSSL,
            serialization.NoEncryption(),
        )
        .decode("ascii")
    )


def private_key_pkcs8_pem(key: str | bytes) -> str:
    return (
        load_private_key(key)
        .private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        .decode("ascii")
    )


def public_key_pem(key: str | bytes | rsa.RSAPrivateKey | rsa.RSAPublicKey) -> str:
    """SubjectPublicKeyInfo PEM (``BEGIN PUBLIC KEY``), what the SDK's verifier reads.

    A private key (object or PEM) gives its public half.
    """
    if isinstance(key, str | bytes) and "PRIVATE KEY" in _as_text(key):
        key = load_private_key(key)
    if isinstance(key, rsa.RSAPrivateKey):
        pub = key.public_key()
    elif isinstance(key, rsa.RSAPublicKey):
        pub = key
    else:
        pub = load_public_key(key)
    return pub.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode("ascii")


def generate_private_key_pem(bits: int = 2048) -> str:
    """A fresh RSA key as PKCS#1 PEM (for the fakes and tests)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=bits)
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    ).decode("ascii")


def _hash_for(sign_type: str) -> hashes.HashAlgorithm:
    # RSA2 = SHA256withRSA; plain RSA = SHA1withRSA (legacy apps only).
    if sign_type.upper() == "RSA2":
        return hashes.SHA256()
    if sign_type.upper() == "RSA":
        return hashes.SHA1()  # noqa: S303 - the legacy Alipay "RSA" sign_type is SHA1 by definition
    raise ValueError(f"unsupported sign_type {sign_type!r}")


@functools.lru_cache(maxsize=8)
def _signing_key(private_key: str | bytes) -> rsa.RSAPrivateKey:
    # Loading checks the key (about 35 ms of CPU for RSA-2048, five times the signature itself):
    # done once per configured key, not once per request.
    return load_private_key(private_key)


def sign(private_key: str | bytes, content: bytes, sign_type: str = "RSA2") -> str:
    """Base64 PKCS#1 v1.5 signature of ``content``."""
    signature = _signing_key(private_key).sign(content, padding.PKCS1v15(), _hash_for(sign_type))
    return base64.b64encode(signature).decode("ascii")


def verify(
    public_key: str | bytes, content: bytes, signature: str, sign_type: str = "RSA2"
) -> bool:
    """True when ``signature`` (base64) is a valid signature of ``content``."""
    try:
        raw = base64.b64decode(signature, validate=True)
    except (binascii.Error, ValueError):
        return False
    try:
        load_public_key(public_key).verify(raw, content, padding.PKCS1v15(), _hash_for(sign_type))
    except InvalidSignature:
        return False
    return True


def sign_content(params: dict[str, str], *, exclude: tuple[str, ...] = ("sign",)) -> str:
    """Alipay's string to sign: non-empty params but ``exclude``, sorted by key, ``k=v`` joined by ``&``.

    Values are raw (not URL-encoded). Requests exclude only ``sign``; notifications exclude
    ``sign`` and ``sign_type``.
    """
    return "&".join(
        f"{k}={v}" for k, v in sorted(params.items()) if k not in exclude and v not in (None, "")
    )
