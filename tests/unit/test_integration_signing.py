"""The signing scheme of the internal API, as the core system must implement it."""

import hashlib
import hmac

from backend.integration import signing


def test_string_to_sign_follows_contract_when_query_and_body_present():
    body = b'{"a":1}'
    text = signing.string_to_sign(
        "post", "/internal/v1/x", "b=2&a=1&a=0", "1700000000", "n0nce123", body
    )

    assert text.split("\n") == [
        "POST",
        "/internal/v1/x",
        "a=0&a=1&b=2",
        "1700000000",
        "n0nce123",
        hashlib.sha256(body).hexdigest(),
    ]


def test_signature_is_hex_hmac_sha256_when_computed_independently():
    expected = hmac.new(
        b"secret",
        b"GET\n/internal/v1/x\n\n1700000000\nabcdefgh\n" + hashlib.sha256(b"").hexdigest().encode(),
        hashlib.sha256,
    ).hexdigest()

    assert (
        signing.signature("secret", "GET", "/internal/v1/x", "", "1700000000", "abcdefgh", b"")
        == expected
    )


def test_canonical_query_encodes_reserved_characters_when_values_need_it():
    assert signing.canonical_query("q=a b&k=%E4%B8%AD&e=") == "e=&k=%E4%B8%AD&q=a%20b"


def test_signed_headers_carry_key_timestamp_nonce_and_signature_when_built():
    headers = signing.signed_headers(
        "core", "s", "POST", "/p", body=b"{}", timestamp=5, nonce="abcdefgh"
    )

    assert headers["X-Gjj-Key"] == "core"
    assert headers["X-Gjj-Timestamp"] == "5"
    assert headers["X-Gjj-Nonce"] == "abcdefgh"
    assert headers["X-Gjj-Signature"] == signing.signature(
        "s", "POST", "/p", "", "5", "abcdefgh", b"{}"
    )
