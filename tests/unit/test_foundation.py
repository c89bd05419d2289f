import datetime as dt
from decimal import Decimal

import pytest

from backend.pii import (
    PiiVault,
    compose_id_number,
    is_valid_id_number,
    mask_id_number,
    mask_phone,
    redact,
)
from backend.settings import Settings, SettingsError


def test_id_number_checksum_accepts_published_example_when_valid():
    # GB 11643-1999 appendix example
    assert is_valid_id_number("11010519491231002X")
    assert not is_valid_id_number("110105194912310021")


def test_id_number_rejected_when_birth_date_impossible():
    first17 = "11010519490231002"
    from backend.pii import id_check_digit

    assert not is_valid_id_number(first17 + id_check_digit(first17))


def test_composed_id_numbers_are_valid_when_built_from_parts():
    assert is_valid_id_number(compose_id_number("140105", dt.date(1988, 2, 29), 7))


def test_masks_hide_the_middle_when_displayed():
    assert mask_id_number("140105198802290079") == "1401**********0079"
    assert mask_phone("13812345678") == "138****5678"


def test_redact_masks_identity_numbers_when_they_reach_a_log_line():
    line = redact("member 140105198802290079 phone 13812345678 amount 1234.50")
    assert "140105198802290079" not in line and "13812345678" not in line
    assert "1234.50" in line


def test_vault_round_trips_and_hashes_deterministically_when_keys_fixed():
    vault = PiiVault(b"k" * 32, b"h" * 32)
    sealed = vault.encrypt("13812345678")
    assert sealed != vault.encrypt("13812345678")  # random nonce
    assert vault.decrypt(sealed) == "13812345678"
    assert vault.phone_lookup("13812345678") == vault.phone_lookup(" 13812345678 ")


def test_production_refuses_non_production_switches_when_set():
    with pytest.raises(SettingsError) as err:
        Settings.from_env(
            {"GJJ_ENV": "production", "GJJ_CAPTCHA_FIXED": "1234", "GJJ_CHANNELS": "fake"}
        )
    assert "GJJ_CAPTCHA_FIXED" in str(err.value)


def test_production_refuses_a_missing_public_base_url_when_certificates_print_it():
    with pytest.raises(SettingsError) as err:
        Settings.from_env({"GJJ_ENV": "production", "GJJ_CHANNELS": "real"})
    assert "GJJ_PUBLIC_BASE_URL" in str(err.value)


def test_settings_parse_types_when_read_from_env():
    s = Settings.from_env(
        {"GJJ_PORT": "9000", "GJJ_INTERNAL_KEYS": "a:x,b:y", "GJJ_RENT_MONTHLY_SHARE": "0.5"}
    )
    assert s.port == 9000
    assert s.internal_keys == {"a": "x", "b": "y"}
    assert s.rent_monthly_share == Decimal("0.5")
