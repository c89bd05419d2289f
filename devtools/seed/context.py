"""What the parts of a member's generation share: the centre being generated (its date, ids,
vault) and, while one member is made, that member's context."""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from devtools.seed.common import HISTORY_MONTHS, Ids, Rows, Vault, at, month_day, month_index
from devtools.seed.ledger import Booked
from devtools.seed.profiles import Profile


@dataclass
class Centre:
    """The centre being generated: the seed, the date it is seeded as of, the ids taken so far,
    the PII vault, the employers and the shared password hash of the demo members."""

    seed: int
    as_of: dt.date
    pii: Vault
    password_hash: str
    ids: Ids
    members: int
    employers: list[Any] = field(default_factory=list)
    first_member_id: int = 1

    @property
    def as_month(self) -> int:
        return month_index(self.as_of)

    @property
    def window_start(self) -> int:
        """The first month of the ten years of history."""
        return self.as_month - HISTORY_MONTHS

    @property
    def created(self) -> dt.datetime:
        """When the centre's own records (employers, halls) were made."""
        return at(month_day(self.window_start, 1), 9)


@dataclass
class Numbers:
    """A member's application and prepayment numbers: the member's place in the centre, then a
    count, so numbers stay unique whichever process generates the member."""

    index: int
    counter: Iterator[int]

    def next(self) -> str:
        return f"{self.index + 1:07d}{next(self.counter)}"


@dataclass
class MemberContext:
    rng: random.Random
    rows: Rows
    member_id: int
    account_no: str
    profile: Profile
    ledger: list[Booked]
    balance: int
    monthly: int
    status: str
    numbers: Numbers
