"""Statutory retirement age under the gradual reform in force since 1 January 2025."""

import datetime as dt

import pytest

from backend.pii import compose_id_number
from backend.withdrawals.retirement import (
    Category,
    Identity,
    RetirementFacts,
    age_label,
    identity_from_id_number,
    retirement_age_months,
    retirement_date,
    retirement_reached,
)

M, FC, FW = Category.MALE, Category.FEMALE_CADRE, Category.FEMALE_WORKER


@pytest.mark.parametrize(
    ("category", "born", "age"),
    [
        # men: 60, one month more every 4 birth months from 1965-01, capped at 63
        (M, (1964, 12), "60岁"),
        (M, (1965, 1), "60岁1个月"),
        (M, (1965, 4), "60岁1个月"),
        (M, (1965, 5), "60岁2个月"),
        (M, (1965, 9), "60岁3个月"),
        (M, (1970, 1), "61岁4个月"),
        (M, (1976, 8), "62岁11个月"),
        (M, (1976, 9), "63岁"),
        (M, (1990, 5), "63岁"),
        # women cadres: 55, same pace from 1970-01, capped at 58
        (FC, (1969, 12), "55岁"),
        (FC, (1970, 1), "55岁1个月"),
        (FC, (1970, 5), "55岁2个月"),
        (FC, (1981, 8), "57岁11个月"),
        (FC, (1981, 9), "58岁"),
        (FC, (1995, 1), "58岁"),
        # women workers: 50, one month every 2 birth months from 1975-01, capped at 55
        (FW, (1974, 12), "50岁"),
        (FW, (1975, 1), "50岁1个月"),
        (FW, (1975, 2), "50岁1个月"),
        (FW, (1975, 3), "50岁2个月"),
        (FW, (1980, 1), "52岁7个月"),
        (FW, (1984, 10), "54岁11个月"),
        (FW, (1984, 11), "55岁"),
        (FW, (1999, 6), "55岁"),
    ],
)
def test_retirement_age_follows_the_reform_table_when_born_in_month(category, born, age):
    assert age_label(retirement_age_months(dt.date(*born, 15), category)) == age


def test_retirement_date_is_birth_month_plus_age_when_delayed():
    assert retirement_date(dt.date(1964, 12, 20), M) == dt.date(2024, 12, 20)
    assert retirement_date(dt.date(1965, 1, 20), M) == dt.date(2025, 2, 20)
    assert retirement_date(dt.date(1965, 5, 31), M) == dt.date(2025, 7, 31)
    # the day is clipped to the retirement month's end
    assert retirement_date(dt.date(1965, 12, 31), M) == dt.date(2026, 3, 31)
    assert retirement_date(dt.date(1966, 1, 31), M) == dt.date(2026, 5, 31)
    assert retirement_date(dt.date(1965, 10, 31), M) == dt.date(2026, 1, 31)
    assert retirement_date(dt.date(1970, 12, 31), M) == dt.date(2032, 6, 30)


def test_sex_comes_from_the_seventeenth_digit_when_the_id_number_is_read():
    man = identity_from_id_number(compose_id_number("140105", dt.date(1965, 3, 8), 11))
    woman = identity_from_id_number(compose_id_number("140105", dt.date(1972, 7, 9), 24))
    assert man == Identity(dt.date(1965, 3, 8), male=True)
    assert woman == Identity(dt.date(1972, 7, 9), male=False)
    assert identity_from_id_number("14010519651399001X") is None  # month 13
    assert identity_from_id_number("1401") is None


def test_retirement_is_reached_on_the_birthday_in_the_retirement_month_when_not_recorded():
    man = RetirementFacts(Identity(dt.date(1965, 1, 20), male=True))
    assert retirement_reached(man, dt.date(2025, 2, 19)) == (False, dt.date(2025, 2, 20))
    assert retirement_reached(man, dt.date(2025, 2, 20)) == (True, dt.date(2025, 2, 20))


def test_women_default_to_the_cadre_age_when_no_retirement_is_recorded():
    # born 1975-06: a worker would retire at 50y3m (2025-09), a cadre at 56y5m (2031-11)
    woman = RetirementFacts(Identity(dt.date(1975, 6, 1), male=False))
    assert retirement_reached(woman, dt.date(2026, 1, 1)) == (False, dt.date(2031, 11, 1))


def test_recorded_retirement_wins_when_the_core_system_has_one():
    woman = RetirementFacts(Identity(dt.date(1975, 6, 1), male=False), dt.date(2025, 9, 1))
    assert retirement_reached(woman, dt.date(2026, 1, 1)) == (True, dt.date(2025, 9, 1))
    assert retirement_reached(woman, dt.date(2025, 8, 31))[0] is False


def test_retirement_is_never_reached_when_identity_unknown():
    assert retirement_reached(RetirementFacts(None), dt.date(2090, 1, 1)) == (False, None)
