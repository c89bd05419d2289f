"""Who a member is: name, sex, birth date, ID number and phone, drawn from the member's own
random stream, and the registry that keeps ID numbers and phones unique across the centre.

The draws come first in a member's stream and a clash is settled without drawing again (the next
sequence code, the next phone number), so everything drawn after them is the same whichever
process generates the member: the parallel load settles clashes in member order in one process
and hands the results to the workers (:mod:`devtools.seed.parallel`)."""

from __future__ import annotations

import datetime as dt
import hashlib
import random
from dataclasses import dataclass
from typing import TYPE_CHECKING

from backend.pii import compose_id_number
from devtools.seed import data
from devtools.seed.common import Rows, at, pick, weighted
from devtools.seed.profiles import SHOWCASE, Profile, random_profile

if TYPE_CHECKING:
    from devtools.seed.context import Centre

_SURNAMES = weighted(data.SURNAMES)
_REGIONS = weighted(data.REGIONS)

Claimed = tuple[str, str | None]  # (ID number, phone) as the registry settled them


@dataclass
class Person:
    """A member's first draws; ``rng`` continues with everything else about them."""

    index: int
    rng: random.Random
    profile: Profile
    showcase: bool
    male: bool
    name: str
    birth: dt.date
    region: str
    sequence: int  # the ID number's sequence code: odd for men, even for women
    phone: str | None  # as drawn (the registry may move it on)


def draw_person(seed: int, index: int) -> Person:
    rng = random.Random(f"{seed}:member:{index}")
    showcase = index < len(SHOWCASE)
    profile = SHOWCASE[index] if showcase else random_profile(rng)
    male = rng.random() < 0.52 or profile.retired
    name = _name(rng, male)
    earliest = dt.date(1978, 1, 1) if showcase else dt.date(1965, 1, 1)
    latest = dt.date(1992, 12, 31) if showcase else dt.date(2002, 12, 31)
    if profile.retired:  # a man past 60 (born before the reform's first delayed month)
        earliest, latest = dt.date(1960, 1, 1), dt.date(1964, 6, 30)
    birth = dt.date.fromordinal(rng.randint(earliest.toordinal(), latest.toordinal()))
    region = pick(rng, _REGIONS)
    sequence = rng.randrange(0, 1000, 2) + (1 if male else 0)
    phone = None
    if profile.phone:
        phone = rng.choice(data.PHONE_PREFIXES) + f"{rng.randrange(10**8):08d}"
    return Person(index, rng, profile, showcase, male, name, birth, region, sequence, phone)


def _name(rng: random.Random, male: bool) -> str:
    pool = data.MALE_CHARS if male else data.FEMALE_CHARS
    given = rng.choice(pool) if rng.random() < 0.3 else rng.choice(pool) + rng.choice(pool)
    return pick(rng, _SURNAMES) + given


class IdentityRegistry:
    """The ID numbers and phones given so far. Claim in member order: the first to draw a value
    keeps it, a later clash moves to the next sequence code of the same sex (ID number) or the
    next number of the same prefix (phone)."""

    def __init__(self) -> None:
        self._id_numbers: set[str] = set()
        self._phones: set[str] = set()

    def claim(self, person: Person) -> Claimed:
        sequence = person.sequence
        id_number = compose_id_number(person.region, person.birth, sequence)
        while id_number in self._id_numbers:
            sequence = (sequence + 2) % 1000
            id_number = compose_id_number(person.region, person.birth, sequence)
        self._id_numbers.add(id_number)
        phone = person.phone
        if phone is not None:
            while phone in self._phones:
                phone = phone[:3] + f"{(int(phone[3:]) + 1) % 10**8:08d}"
            self._phones.add(phone)
        return id_number, phone


def channel_identities(id_number: str) -> dict[str, str]:
    """The member's Alipay and WeChat identities in the loopback fakes, derived from the ID
    number so ``gjj demo`` can register the same users in the fakes from the CSV alone."""
    digest = hashlib.sha256(("channels:" + id_number).encode()).hexdigest()
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    value = int(digest, 16)
    openid = "o" + "".join(alphabet[(value >> (6 * k)) & 63] for k in range(27))
    return {
        "alipay_user_id": "2088" + f"{int(digest[:15], 16) % 10**12:012d}",
        "alipay_open_id": "074" + digest[15:59],
        "wechat_openid": openid,
        "wechat_unionid": "oU" + digest[32:58],
    }


def registration(
    centre: Centre,
    rng: random.Random,
    rows: Rows,
    member_id: int,
    opened_on: dt.date,
    id_number: str,
) -> None:
    start = max(opened_on, centre.as_of - dt.timedelta(days=3 * 365))
    day = dt.date.fromordinal(rng.randint(start.toordinal(), centre.as_of.toordinal()))
    registered_at = at(day, rng.randint(8, 21), rng.randint(0, 59))
    last_login = centre.as_of - dt.timedelta(days=rng.randint(0, 90))
    rows.add(
        "credentials",
        {
            "member_id": member_id,
            "password_hash": centre.password_hash,
            "failed_attempts": 0,
            "locked_until": None,
            "registered_at": registered_at,
            "password_changed_at": registered_at,
            "last_login_at": max(registered_at, at(last_login, rng.randint(8, 21))),
        },
    )
    channels = [c for c in ("wechat", "alipay", "sms") if rng.random() < 0.6] or ["sms"]
    rows.add(
        "member_preferences",
        {
            "member_id": member_id,
            "sound_enabled": rng.random() < 0.8,
            "push_channels": channels,
            "updated_at": registered_at,
        },
    )
    identities = None
    for channel, share in (("wechat", 0.4), ("alipay", 0.25)):
        if rng.random() >= share:
            continue
        identities = identities or channel_identities(id_number)
        rows.add(
            "channel_identities",
            {
                "id": centre.ids("channel_identities"),
                "member_id": member_id,
                "channel": channel,
                "open_id": identities[f"{channel}_openid"]
                if channel == "wechat"
                else identities["alipay_open_id"],
                "user_id": identities["alipay_user_id"] if channel == "alipay" else None,
                "union_id": identities["wechat_unionid"] if channel == "wechat" else None,
                "created_at": registered_at,
            },
        )
