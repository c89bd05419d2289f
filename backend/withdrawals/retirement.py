"""Statutory retirement age (法定退休年龄) for the retirement withdrawal (离退休提取). Pure: stdlib only.

Since 1 January 2025 the age follows the Standing Committee's decision of 13 September 2024
(全国人民代表大会常务委员会关于实施渐进式延迟法定退休年龄的决定) and its annexed tables:

- men, original age 60: one month later for every 4 months of birth from January 1965 on, at
  most 36 months (63 years from births in September 1976 on);
- women cadres (女干部), original age 55: one month for every 4 months of birth from January
  1970 on, at most 36 months (58 years from September 1981 on);
- women workers (女工人), original age 50: one month for every 2 months of birth from January
  1975 on, at most 60 months (55 years from November 1984 on).

The member reaches the age in the month of birth plus that age; the day is the birthday (clipped
to the month's end). The ID number (GB 11643) gives the birth date (digits 7–14) and the sex
(17th digit: odd male, even female); it does not say whether a woman is a worker or a cadre, so
without a category recorded by the core system a woman is taken as a cadre (the later age): the
hall never pays out a retirement withdrawal early, and a woman worker who retired at 50 has her
retirement recorded by the core system (``retired_on``), which always wins.
"""

from __future__ import annotations

import calendar
import datetime as dt
from dataclasses import dataclass
from enum import StrEnum


class Category(StrEnum):
    MALE = "male"
    FEMALE_CADRE = "female_cadre"  # 女干部, original age 55
    FEMALE_WORKER = "female_worker"  # 女工人, original age 50


@dataclass(frozen=True)
class _Schedule:
    original_years: int
    first_birth: tuple[int, int]  # (year, month) of the first birth month delayed
    months_per_step: int  # birth months per month of delay
    max_delay: int  # months


SCHEDULES = {
    Category.MALE: _Schedule(60, (1965, 1), 4, 36),
    Category.FEMALE_CADRE: _Schedule(55, (1970, 1), 4, 36),
    Category.FEMALE_WORKER: _Schedule(50, (1975, 1), 2, 60),
}


@dataclass(frozen=True)
class Identity:
    birth: dt.date
    male: bool


def identity_from_id_number(id_number: str) -> Identity | None:
    """Birth date and sex from an 18-digit ID number; ``None`` when it does not carry them."""
    if len(id_number) != 18 or not id_number[:17].isdigit():
        return None
    try:
        birth = dt.date(int(id_number[6:10]), int(id_number[10:12]), int(id_number[12:14]))
    except ValueError:
        return None
    return Identity(birth=birth, male=int(id_number[16]) % 2 == 1)


def default_category(male: bool) -> Category:
    """Without a recorded category: men; women as cadres (the later, conservative age)."""
    return Category.MALE if male else Category.FEMALE_CADRE


def retirement_age_months(birth: dt.date, category: Category) -> int:
    """The statutory retirement age in months for someone born in ``birth``'s month."""
    schedule = SCHEDULES[category]
    first_year, first_month = schedule.first_birth
    since = (birth.year - first_year) * 12 + (birth.month - first_month)
    delay = 0 if since < 0 else min(since // schedule.months_per_step + 1, schedule.max_delay)
    return schedule.original_years * 12 + delay


def retirement_date(birth: dt.date, category: Category) -> dt.date:
    """The day the statutory age is reached: birth month + age, on the birthday (clipped)."""
    year, month_index = divmod(birth.month - 1 + retirement_age_months(birth, category), 12)
    year += birth.year
    last = calendar.monthrange(year, month_index + 1)[1]
    return dt.date(year, month_index + 1, min(birth.day, last))


def age_label(months: int) -> str:
    """``723`` → ``60岁3个月``; whole years → ``63岁``."""
    years, rest = divmod(months, 12)
    return f"{years}岁{rest}个月" if rest else f"{years}岁"


@dataclass(frozen=True)
class RetirementFacts:
    """What decides the retirement withdrawal: identity from the ID number and what the core
    system recorded."""

    identity: Identity | None
    retired_on: dt.date | None = None  # retirement recorded by the core system


def retirement_reached(facts: RetirementFacts, today: dt.date) -> tuple[bool, dt.date | None]:
    """(retired, the date it counts from). A recorded retirement wins; else the statutory age."""
    if facts.retired_on is not None and facts.retired_on <= today:
        return True, facts.retired_on
    if facts.identity is None:
        return False, None
    when = retirement_date(facts.identity.birth, default_category(facts.identity.male))
    return when <= today, when
