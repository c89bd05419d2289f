"""The demo centre as plain dicts, one list per table, deterministic for a seed and a date.

Every member gets their own ``random.Random`` derived from (seed, index), so member 7 is the same
person whether 30 or 100,000 are generated. Ledgers are built from events in date order with the
balance as a running sum in fen (integers), interest in ``Decimal``; loan figures come from the
loan engine (:mod:`backend.loans.amortisation`), never from a formula of our own. Identity data goes
through the PII vault (ciphertexts differ between runs; the plain values do not).
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import itertools
import random
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, Protocol

from backend.announcements.rules import request_hash
from backend.applications.services import LOAN_NODES, WITHDRAWAL_NODES
from backend.loans import amortisation, prepayment_rules, rates, rules
from backend.loans.prepayments import contract_quote
from backend.loans.schemas import PrepaymentQuoteSchema
from backend.pii import compose_id_number, mask_id_number, mask_phone
from backend.seed import data
from backend.withdrawals.retirement import default_category, retirement_date
from backend.withdrawals.rules import LEAVING_SEALED_MONTHS

DEMO_PASSWORD = "Demo2024"  # noqa: S105 - the published demo password (6–18 letters+digits)
ACCOUNT_STATUSES = ("normal", "sealed", "frozen", "closed")
LOAN_STATES = ("approving", "signed", "repaying", "settled", "overdue")
HISTORY_MONTHS = 120  # ten years of ledger
INTEREST_RATE = Decimal("0.015")  # 1.5 % a year on the average balance, booked on 30 June
FEN = Decimal("0.01")
CST = dt.timezone(dt.timedelta(hours=8))
UTC = dt.UTC
ONE_DAY = dt.timedelta(days=1)
# Before the 2022 benchmark (backend.loans.rates.BENCHMARK_RATES): the rates of 24 October 2015
# (≤5 years, >5 years), second homes at 1.1 times.
RATES_2015 = (
    dt.date(2015, 10, 24),
    Decimal("2.75"),
    Decimal("3.25"),
    Decimal("3.025"),
    Decimal("3.575"),
)


class Vault(Protocol):
    def encrypt(self, plain: str) -> str: ...
    def id_lookup(self, id_number: str) -> str: ...
    def phone_lookup(self, phone: str) -> str: ...


@dataclass(frozen=True)
class Profile:
    """What a member is made to have. The first members follow :data:`SHOWCASE` so a demo of
    any size has one of each; the rest are drawn at random."""

    note: str = ""
    phone: bool = True
    registered: bool = True
    status: str = "normal"
    loan: str | None = None
    many_messages: bool = False
    open_withdrawal: bool = False
    retired: bool = False  # past the statutory age, retirement recorded by the core system
    # 提前还款申请: "booked" (the loan was settled early by a full prepayment the core booked),
    # "pending" (one waiting for the core system, and an earlier refused one)
    prepayment: str | None = None
    rent_plan: str | None = None  # a monthly rent withdrawal arrangement: active | stopped
    transfer: str | None = None  # a transfer in from another city: moving | arrived


# The demo's full slot: tomorrow 14:00, provident-fund withdrawal at the first hall.
_FULL_SLOT = ("H01", "tq", 1, "14:00")

SHOWCASE: tuple[Profile, ...] = (
    Profile("还款中的贷款，消息超过 60 条（可试分页）", loan="repaying", many_messages=True),
    Profile("贷款逾期（罚息、待办）", loan="overdue"),
    Profile("贷款审批中（可看审批进度）", loan="approving"),
    Profile("已签合同未放款", loan="signed"),
    Profile(
        "贷款已提前结清（提前还款已办理，可开具结清证明）", loan="settled", prepayment="booked"
    ),
    Profile("提前还款申请待中心确认（另有一笔未通过）", loan="repaying", prepayment="pending"),
    Profile("提取申请办理中", open_withdrawal=True),
    Profile("已退休、账户封存（可办理离退休提取）", status="sealed", retired=True),
    Profile("账户封存", status="sealed"),
    Profile("账户冻结", status="frozen"),
    Profile("账户已销户", status="closed"),
    Profile("未注册（可试注册）", registered=False),
    Profile("未注册且无预留手机号", phone=False, registered=False),
    Profile("租房按月提取委托中（本月已提取）", rent_plan="active"),
    Profile("租房按月提取已终止（可重新办理）", rent_plan="stopped"),
    Profile("异地转入办理中（资金划转）", transfer="moving"),
    Profile("异地转入已到账", transfer="arrived"),
)


@dataclass(frozen=True)
class DemoMember:
    """One line of ``demo-members.csv`` (plus the showcase note, which the CSV does not carry)."""

    id_number: str
    name: str
    phone: str | None
    registered: bool
    password: str | None
    has_loan: bool
    note: str = ""
    rent_plan: str | None = None
    transfer: str | None = None


@dataclass
class Rows:
    """Rows per table name, in the shape ``insert(table)`` and COPY take."""

    tables: dict[str, list[dict[str, Any]]] = field(default_factory=lambda: defaultdict(list))

    def add(self, table: str, row: dict[str, Any]) -> None:
        self.tables[table].append(row)

    def size(self) -> int:
        return sum(len(rows) for rows in self.tables.values())

    def clear(self) -> None:
        self.tables.clear()

    def take(self) -> dict[str, list[dict[str, Any]]]:
        """Hand the rows over (to a writer) and start empty."""
        tables, self.tables = self.tables, defaultdict(list)
        return tables


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


def money(fen: int) -> Decimal:
    return Decimal(fen).scaleb(-2)


def fen_of(amount: Decimal) -> int:
    return int(amount * 100)


def yuan_floor(fen: int) -> int:
    """An amount the member would type: whole yuan."""
    return fen // 100 * 100


def at(day: dt.date, hour: int, minute: int = 0) -> dt.datetime:
    """A Beijing-time moment as the UTC datetime the columns store."""
    return dt.datetime(day.year, day.month, day.day, hour, minute, tzinfo=CST).astimezone(UTC)


@functools.cache
def booked_at(day: dt.date) -> dt.datetime:
    """When the core booked a ledger entry of ``day`` (10:00 Beijing time); cached because a
    large centre books millions of entries on a few thousand days."""
    return at(day, 10)


def month_index(day: dt.date) -> int:
    return day.year * 12 + day.month - 1


def month_day(index: int, day: int) -> dt.date:
    return dt.date(index // 12, index % 12 + 1, day)


def base_year(index: int) -> int:
    """The deposit base changes each July: months July Y – June Y+1 share base year Y."""
    return (index - 6) // 12


@functools.cache
def month_label(index: int) -> str:
    return f"{index // 12:04d}-{index % 12 + 1:02d}"


@functools.cache
def month_chinese(index: int) -> str:
    return f"{index // 12}年{index % 12 + 1:02d}月"


def rate_history(months: int, first_home: bool) -> tuple[tuple[dt.date, Decimal], ...]:
    """The benchmark history a contract re-prices along, back to 2015 for old loans."""
    effective, first_short, first_long, second_short, second_long = RATES_2015
    short = months <= rates.SHORT_TERM_MONTHS
    if first_home:
        early = first_short if short else first_long
    else:
        early = second_short if short else second_long
    return ((effective, early), *rates.benchmark_rate_history(months, second_home=not first_home))


@functools.lru_cache(maxsize=8192)
def estimated_payment(amount: Decimal, months: int, method: rules.Method, rate: Decimal) -> Decimal:
    """The first instalment an application quotes (at one rate it does not depend on dates)."""
    return amortisation.generate_schedule(
        amount, months, method, rate, dt.date(2000, 1, 1)
    ).monthly_payment


def _weighted(pairs: Sequence[tuple[Any, int]]) -> tuple[list[Any], list[int]]:
    values = [value for value, _ in pairs]
    cumulative = list(itertools.accumulate(weight for _, weight in pairs))
    return values, cumulative


_SURNAMES = _weighted(data.SURNAMES)
_REGIONS = _weighted(data.REGIONS)
_BANKS = _weighted(data.BANKS)
_TRADES = _weighted(data.COMPANY_TRADES)
_FORMS = _weighted(data.COMPANY_FORMS)
_RATE_PAIRS = _weighted(
    (
        ((Decimal("0.12"), Decimal("0.12")), 6),
        ((Decimal("0.10"), Decimal("0.10")), 2),
        ((Decimal("0.08"), Decimal("0.08")), 2),
        ((Decimal("0.05"), Decimal("0.05")), 1),
    )
)
_LOAN_STATE_WEIGHTS = _weighted(
    (("repaying", 50), ("settled", 16), ("overdue", 12), ("approving", 11), ("signed", 11))
)
_STATUS_WEIGHTS = _weighted((("normal", 76), ("sealed", 11), ("frozen", 4), ("closed", 9)))


def _pick(rng: random.Random, table: tuple[list[Any], list[int]]) -> Any:
    values, cumulative = table
    return rng.choices(values, cum_weights=cumulative)[0]


@dataclass
class _Employer:
    id: int
    name: str
    employee_rate: Decimal
    employer_rate: Decimal
    deposit_day: int


@dataclass(slots=True)
class _Event:
    """A ledger entry before its amount is known (withdrawals depend on the balance then)."""

    day: dt.date
    order: int  # same-day order: deposits, withdrawals, closing, then the 30 June interest
    kind: str
    fen: int = 0
    share: float = 0.0  # withdrawals: share of the balance, or a cap in ``fen``
    period: str | None = None
    summary: str = ""
    reason: str | None = None  # withdrawals: the reason code of the application behind it


def _withdrawal(
    day: dt.date, reason: str, summary: str, *, share: float = 0.0, up_to: int = 0, order: int = 5
) -> _Event:
    """A withdrawal of ``share`` of the balance then (1.0: all of it, closing the account), or
    of ``up_to`` fen capped by the balance."""
    return _Event(
        day, order, "withdrawal", fen=up_to, share=share or -1.0, summary=summary, reason=reason
    )


@dataclass
class _Loan:
    state: str
    amount: Decimal
    months: int
    method: rules.Method
    first_home: bool
    applied_on: dt.date
    signed_on: dt.date | None = None
    disbursed_on: dt.date | None = None
    schedule: amortisation.Schedule | None = None
    settle_on: dt.date | None = None  # prepaid in full that day
    missed: int = 0
    contract_no: str = ""
    bank: str = ""


@dataclass(slots=True)
class _Booked:
    day: dt.date
    kind: str
    fen: int
    balance: int
    period: str | None
    summary: str
    reason: str | None


class CentreGenerator:
    """Generates employers, then members one by one, into :class:`Rows`."""

    def __init__(
        self,
        *,
        seed: int,
        as_of: dt.date,
        pii: Vault,
        password: str,
        password_hash: str,
        next_ids: dict[str, int],
        members: int,
    ) -> None:
        self.seed = seed
        self.as_of = as_of
        self.pii = pii
        self.password = password
        self.password_hash = password_hash
        self.members = members
        self._next_ids = dict(next_ids)
        self._as_month = month_index(as_of)
        self._window_start = self._as_month - HISTORY_MONTHS
        self._id_numbers: set[str] = set()
        self._phones: set[str] = set()
        self._employers: list[_Employer] = []
        self._loan_count = 0
        self._app_seq = itertools.count(1)
        self._prepay_seq = itertools.count(1)
        self._created = at(month_day(self._window_start, 1), 9)
        self._first_member_id = self._next_ids.get("members", 1)

    # -- ids ---------------------------------------------------------------------------------

    def _id(self, table: str) -> int:
        value = self._next_ids.get(table, 1)
        self._next_ids[table] = value + 1
        return value

    # -- employers ---------------------------------------------------------------------------

    def employers(self, rows: Rows) -> None:
        rng = random.Random(f"{self.seed}:employers")
        count = max(8, self.members // 40)
        names: set[str] = set()
        for seq in range(count):
            name = self._company_name(rng, seq)
            while name in names:
                name = self._company_name(rng, seq)
            names.add(name)
            employee_rate, employer_rate = _pick(rng, _RATE_PAIRS)
            employer = _Employer(
                id=self._id("employers"),
                name=name,
                employee_rate=employee_rate,
                employer_rate=employer_rate,
                deposit_day=rng.randint(5, 20),
            )
            self._employers.append(employer)
            rows.add(
                "employers",
                {
                    "id": employer.id,
                    "name": name,
                    "unit_account_no": f"1401{rng.randint(10, 99)}{seq + 1:08d}",
                    "created_at": self._created,
                },
            )

    def _company_name(self, rng: random.Random, seq: int) -> str:
        if rng.random() < 0.12:
            return rng.choice(data.INSTITUTIONS).format(n=rng.choice("一二三四五六七八九十"))
        word = rng.choice(data.COMPANY_WORDS) + rng.choice(data.COMPANY_WORDS)
        return rng.choice(data.COMPANY_PLACES) + word + _pick(rng, _TRADES) + _pick(rng, _FORMS)

    # -- announcements (公告) ------------------------------------------------------------------

    def announcements(self, rows: Rows) -> None:
        """One announcement in each state and audience: published to everyone (already read by
        the first showcase member), to loan holders, to active accounts; scheduled; withdrawn.
        The published ones count as pushed already; the scheduled one waits for
        ``gjj announcements fanout``."""
        day = self.as_of
        for number, title, body, audience, offset, withdrawn in data.ANNOUNCEMENTS:
            published_at = at(day + dt.timedelta(days=offset), 9)
            announcement_id = self._id("announcements")
            payload = {
                "announcement_no": number,
                "title": title,
                "body": body,
                "audience": audience,
                "published_at": published_at,
            }
            rows.add(
                "announcements",
                {
                    "id": announcement_id,
                    "announcement_no": number,
                    "title": title,
                    "body": body,
                    "audience": audience,
                    "published_at": published_at,
                    "withdrawn_at": published_at + dt.timedelta(hours=2) if withdrawn else None,
                    "withdraw_reason": "内容有误，已重新发布" if withdrawn else None,
                    "request_hash": request_hash(payload),
                    "fanout_after": 0,
                    "fanout_done_at": published_at if offset <= 0 else None,
                    "pushed": 0,
                    "created_at": published_at,
                },
            )
            if offset < -10 and not withdrawn:  # the oldest: read by the first showcase member
                rows.add(
                    "announcement_reads",
                    {
                        "id": self._id("announcement_reads"),
                        "announcement_id": announcement_id,
                        "member_id": self._first_member_id,
                        "read_at": published_at + dt.timedelta(days=1),
                    },
                )

    # -- appointments (网点预约) ----------------------------------------------------------------

    def appointments(self, rows: Rows) -> None:
        """Halls, businesses and a week of slots from the seed date; the first showcase member
        has a booking tomorrow (cancellable, reminded the day before), a cancelled one and an
        expired one; the next two fill tomorrow's 14:00 slot at the first hall (shown full)."""
        business_ids = {}
        for code, name in data.APPOINTMENT_BUSINESSES:
            business_ids[code] = self._id("appointment_businesses")
            rows.add(
                "appointment_businesses",
                {
                    "id": business_ids[code],
                    "code": code,
                    "name": name,
                    "active": True,
                    "updated_at": self._created,
                },
            )
        slots: dict[tuple[str, str, int, str], int] = {}
        for hall_code, name, address, phone, codes in data.SERVICE_HALLS:
            hall_id = self._id("service_halls")
            rows.add(
                "service_halls",
                {
                    "id": hall_id,
                    "code": hall_code,
                    "name": name,
                    "address": address,
                    "phone": phone,
                    "business_codes": list(codes),
                    "active": True,
                    "updated_at": self._created,
                },
            )
            for code in codes:
                for offset in range(-3, 8):
                    for start, end, capacity in data.APPOINTMENT_TIMES:
                        slot_id = self._id("appointment_slots")
                        slots[(hall_code, code, offset, start)] = slot_id
                        rows.add(
                            "appointment_slots",
                            {
                                "id": slot_id,
                                "hall_id": hall_id,
                                "business_id": business_ids[code],
                                "day": self.as_of + dt.timedelta(days=offset),
                                "starts_at": dt.time.fromisoformat(start),
                                "ends_at": dt.time.fromisoformat(end),
                                "capacity": 2
                                if (hall_code, code, offset, start) == _FULL_SLOT
                                else capacity,
                                "booked": 0,
                            },
                        )
        first = self._first_member_id
        bookings = [  # (member, slot key, status)
            (first, ("H01", "tq", 1, "09:00"), "booked"),
            (first, ("H01", "dk", 2, "10:00"), "cancelled"),
            (first, ("H02", "tq", -3, "09:00"), "booked"),  # the slot is over: expired
            (first + 1, _FULL_SLOT, "booked"),
            (first + 2, _FULL_SLOT, "booked"),
        ]
        booked: dict[int, int] = defaultdict(int)
        for member_id, key, status in bookings:
            if member_id >= first + self.members:
                continue
            appointment_id = self._id("appointments")
            day = self.as_of + dt.timedelta(days=key[2])
            rows.add(
                "appointments",
                {
                    "id": appointment_id,
                    "booking_no": f"YY{day:%Y%m%d}{appointment_id:06d}",
                    "member_id": member_id,
                    "slot_id": slots[key],
                    "day": day,
                    "status": status,
                    "created_at": at(self.as_of - dt.timedelta(days=5), 20),
                    "cancelled_at": at(self.as_of - dt.timedelta(days=1), 8)
                    if status == "cancelled"
                    else None,
                    "reminded_at": at(day - dt.timedelta(days=1), 18) if key[2] < 1 else None,
                },
            )
            if status == "booked":
                booked[slots[key]] += 1
        for table_row in rows.tables["appointment_slots"]:
            table_row["booked"] = booked.get(table_row["id"], 0)

    # -- members -----------------------------------------------------------------------------

    def member(self, index: int, rows: Rows) -> DemoMember:
        rng = random.Random(f"{self.seed}:member:{index}")
        profile = SHOWCASE[index] if index < len(SHOWCASE) else self._random_profile(rng)
        showcase = index < len(SHOWCASE)
        male = rng.random() < 0.52 or profile.retired
        name = self._name(rng, male)
        earliest = dt.date(1978, 1, 1) if showcase else dt.date(1965, 1, 1)
        latest = dt.date(1992, 12, 31) if showcase else dt.date(2002, 12, 31)
        if profile.retired:  # a man past 60 (born before the reform's first delayed month)
            earliest, latest = dt.date(1960, 1, 1), dt.date(1964, 6, 30)
        birth = dt.date.fromordinal(rng.randint(earliest.toordinal(), latest.toordinal()))
        id_number = self._id_number(rng, birth, male)
        phone = self._phone(rng) if profile.phone else None

        member_id = self._id("members")
        employer = rng.choice(self._employers)
        adult = month_index(birth) + 22 * 12 + 1
        first_open = max(self._window_start, adult)
        # Loans need a deposit history before the application; closures and seals need a span.
        latest_open = self._as_month - (40 if profile.loan or profile.many_messages else 9)
        if showcase or profile.many_messages or rng.random() < 0.5:
            open_month = first_open + rng.randint(0, 6)
        else:
            open_month = rng.randint(first_open, max(first_open, latest_open))
        open_month = min(open_month, max(latest_open, first_open))
        loan_state = profile.loan
        if loan_state and open_month > self._as_month - 24:
            loan_state = None  # too young for a loan history: a depositor only
        opened_on = month_day(open_month, rng.randint(1, employer.deposit_day))

        loan = (
            self._plan_loan(rng, loan_state, open_month, prepaid=profile.prepayment == "booked")
            if loan_state
            else None
        )
        account_id = self._id("fund_accounts")
        retires_on = retirement_date(birth, default_category(male))
        ledger, account = self._ledger(
            rng, profile, employer, open_month, opened_on, retires_on, loan
        )
        created = at(opened_on, 9)
        rows.add(
            "members",
            {
                "id": member_id,
                "name": name,
                "id_number_enc": self.pii.encrypt(id_number),
                "id_number_hash": self.pii.id_lookup(id_number),
                "id_number_masked": mask_id_number(id_number),
                "phone_enc": self.pii.encrypt(phone) if phone else None,
                "phone_hash": self.pii.phone_lookup(phone) if phone else None,
                "phone_masked": mask_phone(phone) if phone else None,
                "online_access": True,
                "created_at": created,
                "updated_at": created,
            },
        )
        account_no = f"{opened_on:%Y}1401{index + 1:08d}"
        rows.add(
            "fund_accounts",
            {
                "id": account_id,
                "account_no": account_no,
                "member_id": member_id,
                "employer_id": employer.id,
                "opened_on": opened_on,
                "updated_at": at(ledger[-1].day if ledger else opened_on, 18),
                **account,
            },
        )
        self._transactions(rows, ledger, account_id, member_id)

        registered = profile.registered and phone is not None
        if registered:
            self._registration(rng, rows, member_id, opened_on, id_number)
        ctx = _MemberContext(
            rng=rng,
            rows=rows,
            member_id=member_id,
            account_no=account_no,
            profile=profile,
            ledger=ledger,
            balance=ledger[-1].balance if ledger else 0,
            monthly=fen_of(account["monthly_amount"]),
            status=account["status"],
        )
        messages = self._ledger_messages(ctx) + self._status_messages(ctx, account)
        messages += self._withdrawal_applications(ctx)
        if loan is not None:
            messages += self._loan_rows(ctx, loan)
        if phone is None:
            messages.append(
                self._message(
                    ctx,
                    "登记预留手机号",
                    "您尚未登记预留手机号，无法接收短信验证码。请携带本人身份证到公积金中心服务网点办理登记。",
                    at(self.as_of - dt.timedelta(days=rng.randint(3, 60)), 9),
                    "todo",
                    due_days=30,
                )
            )
        self._store_messages(ctx, messages)
        return DemoMember(
            id_number=id_number,
            name=name,
            phone=phone,
            registered=registered,
            password=self.password if registered else None,
            has_loan=loan is not None,
            note=profile.note,
            rent_plan=profile.rent_plan,
            transfer=profile.transfer,
        )

    def _random_profile(self, rng: random.Random) -> Profile:
        phone = rng.random() < 0.92
        registered = phone and rng.random() < 0.65
        many = rng.random() < 0.01
        if rng.random() < 0.34:
            return Profile(
                phone=phone,
                registered=registered,
                loan=_pick(rng, _LOAN_STATE_WEIGHTS),
                many_messages=many,
            )
        status = _pick(rng, _STATUS_WEIGHTS)
        return Profile(
            phone=phone,
            registered=registered,
            status=status,
            many_messages=many,
            open_withdrawal=status == "normal" and rng.random() < 0.08,
        )

    def _name(self, rng: random.Random, male: bool) -> str:
        pool = data.MALE_CHARS if male else data.FEMALE_CHARS
        given = rng.choice(pool) if rng.random() < 0.3 else rng.choice(pool) + rng.choice(pool)
        return _pick(rng, _SURNAMES) + given

    def _id_number(self, rng: random.Random, birth: dt.date, male: bool) -> str:
        region = _pick(rng, _REGIONS)
        sequence = rng.randrange(0, 1000, 2) + (1 if male else 0)  # odd: male, even: female
        value = compose_id_number(region, birth, sequence)
        while value in self._id_numbers:
            sequence = (sequence + 2) % 1000
            value = compose_id_number(region, birth, sequence)
        self._id_numbers.add(value)
        return value

    def _phone(self, rng: random.Random) -> str:
        value = rng.choice(data.PHONE_PREFIXES) + f"{rng.randrange(10**8):08d}"
        while value in self._phones:
            value = rng.choice(data.PHONE_PREFIXES) + f"{rng.randrange(10**8):08d}"
        self._phones.add(value)
        return value

    def _registration(
        self, rng: random.Random, rows: Rows, member_id: int, opened_on: dt.date, id_number: str
    ) -> None:
        start = max(opened_on, self.as_of - dt.timedelta(days=3 * 365))
        day = dt.date.fromordinal(rng.randint(start.toordinal(), self.as_of.toordinal()))
        registered_at = at(day, rng.randint(8, 21), rng.randint(0, 59))
        last_login = self.as_of - dt.timedelta(days=rng.randint(0, 90))
        rows.add(
            "credentials",
            {
                "member_id": member_id,
                "password_hash": self.password_hash,
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
                    "id": self._id("channel_identities"),
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

    # -- the fund ledger ---------------------------------------------------------------------

    def _ledger(
        self,
        rng: random.Random,
        profile: Profile,
        employer: _Employer,
        open_month: int,
        opened_on: dt.date,
        retires_on: dt.date,
        loan: _Loan | None,
    ) -> tuple[list[_Booked], dict[str, Any]]:
        """The account's ledger and row. Closures follow the withdrawal rules: retirement once the
        statutory age (``retires_on``) is reached, else leaving (or a transfer out) after the
        account was sealed ``LEAVING_SEALED_MONTHS``."""
        status = "normal" if loan else profile.status
        as_month = self._as_month
        day = employer.deposit_day
        last_month = as_month if month_day(as_month, day) <= self.as_of else as_month - 1
        close_on: dt.date | None = None
        retired_on: dt.date | None = None
        if profile.retired:
            # Deposits stop in the month of retirement; the core system records it.
            retired_on = retires_on
            last_month = min(month_index(retires_on), as_month - 3)
        elif status in ("sealed", "closed"):
            latest = as_month - (3 if status == "sealed" else 3 + LEAVING_SEALED_MONTHS)
            last_month = rng.randint(min(open_month + 12, latest), latest)
            last_month = max(last_month, open_month)
        if status == "closed":
            close_on = month_day(last_month + rng.randint(1, 2), rng.randint(1, 28))
            if close_on < retires_on:
                close_on = month_day(
                    last_month + LEAVING_SEALED_MONTHS + rng.randint(0, 2), rng.randint(1, 28)
                )

        bases = self._bases(rng, employer, open_month, last_month)
        events: list[_Event] = []
        if rng.random() < 0.08:
            city = rng.choice(("北京市", "石家庄市", "郑州市", "西安市", "呼和浩特市", "天津市"))
            events.append(
                _Event(
                    opened_on,
                    0,
                    "transfer_in",
                    fen=rng.randint(30, 600) * 10000,
                    summary=f"异地转入（{city}住房公积金管理中心）",
                )
            )
        skipped = -1
        if rng.random() < 0.05 and last_month - open_month > 6:
            skipped = rng.randint(open_month + 1, last_month - 4)
        for month in range(open_month, last_month + 1):
            monthly = bases[base_year(month) - base_year(open_month)][1]
            # A skipped month is paid late as 补缴 (same-day order after that month's 汇缴).
            late = month == skipped
            booked = month + rng.randint(1, 3) if late else month
            kind, order, label = ("supplementary", 1, "补缴") if late else ("deposit", 0, "汇缴")
            events.append(
                _Event(
                    month_day(booked, day),
                    order,
                    kind,
                    fen=monthly,
                    period=month_label(month),
                    summary=f"{label} {month_chinese(month)}",
                )
            )
        current = bases[-1]
        if profile.rent_plan is None:  # an arrangement's member withdraws rent through it
            self._withdrawal_events(rng, events, status, open_month, last_month, current[1], loan)
        if close_on is not None:
            reason = (
                "retirement" if close_on >= retires_on else rng.choice(("leaving", "transfer_out"))
            )
            events.append(_Event(close_on, 7, "close_interest", summary="销户结息"))
            if reason == "transfer_out":
                events.append(_Event(close_on, 8, "transfer_out", share=1.0, summary="异地转出"))
            else:
                label = "离退休" if reason == "retirement" else "离职"
                summary = f"{label}提取（销户）"
                events.append(_withdrawal(close_on, reason, summary, share=1.0, order=8))
        end = close_on or self.as_of
        year = opened_on.year if opened_on <= dt.date(opened_on.year, 6, 30) else opened_on.year + 1
        while dt.date(year, 6, 30) <= end and dt.date(year, 6, 30) < (close_on or dt.date.max):
            events.append(_Event(dt.date(year, 6, 30), 9, "interest", summary="年度结息"))
            year += 1
        events.sort(key=lambda e: (e.day, e.order))
        ledger = self._book(events, opened_on)
        base, monthly, employee_rate, employer_rate = current
        paid = [e.period for e in ledger if e.period]
        account = {
            "status": status,
            "balance": money(ledger[-1].balance if ledger else 0),
            "deposit_base": money(base),
            "employee_rate": employee_rate,
            "employer_rate": employer_rate,
            "monthly_amount": money(monthly),
            "paid_through": max(paid) if paid else None,
            "closed_on": close_on,
            "retired_on": retired_on,
        }
        return ledger, account

    def _bases(
        self, rng: random.Random, employer: _Employer, open_month: int, last_month: int
    ) -> list[tuple[int, int, Decimal, Decimal]]:
        """(base, monthly amount, rates) per base year: the base is re-assessed each July from
        the previous year's average wage; each part is rounded to the fen on its own."""
        base = min(max(int(rng.lognormvariate(8.75, 0.45)) // 10 * 10, 2000), 28000)
        years = base_year(last_month) - base_year(open_month) + 1
        result = []
        for _ in range(years):
            amount = Decimal(base)
            monthly = (amount * employer.employee_rate).quantize(FEN, ROUND_HALF_UP) + (
                amount * employer.employer_rate
            ).quantize(FEN, ROUND_HALF_UP)
            result.append(
                (base * 100, fen_of(monthly), employer.employee_rate, employer.employer_rate)
            )
            base = min(max(int(base * (1 + rng.uniform(-0.02, 0.09))), 2000), 28000)
        return result

    def _withdrawal_events(
        self,
        rng: random.Random,
        events: list[_Event],
        status: str,
        open_month: int,
        last_month: int,
        monthly: int,
        loan: _Loan | None,
    ) -> None:
        if loan is not None and loan.disbursed_on is not None:
            purchase = loan.disbursed_on + dt.timedelta(days=rng.randint(5, 20))
            if purchase <= self.as_of and rng.random() < 0.7:
                share = rng.uniform(0.5, 0.95)
                events.append(_withdrawal(purchase, "purchase", "购房提取", share=share))
            if rng.random() < 0.55 and loan.schedule is not None:
                cap = fen_of(loan.schedule.monthly_payment) * 12
                end = loan.settle_on or self.as_of
                for years in itertools.count(1):
                    day = amortisation.add_months(loan.disbursed_on, 12 * years)
                    if day > end:
                        break
                    events.append(_withdrawal(day, "loan_repayment", "偿还贷款提取", up_to=cap))
            return
        if status != "normal" or last_month - open_month < 12:
            return
        draw = rng.random()
        if draw < 0.18:
            start = max(open_month + 6, self._as_month - rng.randint(6, 24))
            rent = yuan_floor(monthly * 6 // 10)
            for month in range(start, self._as_month + 1):
                day = month_day(month, 20)
                if day <= self.as_of:
                    events.append(_withdrawal(day, "rent", "租房提取", up_to=rent))
        elif draw < 0.23:
            month = rng.randint(open_month + 12, last_month)
            day = month_day(month, rng.randint(1, 28))
            events.append(_withdrawal(day, "purchase", "购房提取", share=rng.uniform(0.6, 0.95)))

    def _book(self, events: list[_Event], opened_on: dt.date) -> list[_Booked]:
        """Running balance in fen; interest on the average daily balance of the interest year
        (1 July – 30 June), 1.5 % a year, in Decimal, ROUND_HALF_UP."""
        booked: list[_Booked] = []
        balance = 0
        accrued = 0  # Σ balance × days since the interest year began
        cursor = opened_on
        year_start = dt.date(opened_on.year - (opened_on.month < 7), 7, 1)
        for event in events:
            accrued += balance * (event.day - cursor).days
            cursor = event.day
            kind = event.kind
            if kind in ("interest", "close_interest"):
                year_end = dt.date(year_start.year + 1, 6, 30)
                days = (year_end - year_start).days + 1
                total = accrued + (balance if kind == "interest" else 0)
                amount = int((Decimal(total) * INTEREST_RATE / days).quantize(1, ROUND_HALF_UP))
                accrued = 0
                if kind == "interest":
                    cursor = event.day + ONE_DAY
                    year_start = cursor
                kind = "interest"
            elif event.share > 0:  # a share of the balance (1.0: everything, closing)
                amount = -(balance if event.share >= 1 else yuan_floor(int(balance * event.share)))
            elif event.share < 0:  # a fixed amount capped by the balance
                amount = -min(event.fen, yuan_floor(balance))
            else:
                amount = event.fen
            if amount == 0:
                continue
            balance += amount
            booked.append(
                _Booked(event.day, kind, amount, balance, event.period, event.summary, event.reason)
            )
        return booked

    def _transactions(
        self, rows: Rows, ledger: list[_Booked], account_id: int, member_id: int
    ) -> None:
        add = rows.tables["fund_transactions"].append
        first = self._next_ids.get("fund_transactions", 1)
        self._next_ids["fund_transactions"] = first + len(ledger)
        for txn_id, entry in enumerate(ledger, first):
            add(
                {
                    "id": txn_id,
                    "account_id": account_id,
                    "member_id": member_id,
                    "txn_date": entry.day,
                    "kind": entry.kind,
                    "amount": money(entry.fen),
                    "balance_after": money(entry.balance),
                    "period_month": entry.period,
                    "summary": entry.summary,
                    "external_id": None,
                    "created_at": booked_at(entry.day),
                }
            )

    # -- loans -------------------------------------------------------------------------------

    def _plan_loan(
        self, rng: random.Random, state: str, open_month: int, *, prepaid: bool = False
    ) -> _Loan:
        self._loan_count += 1
        months = rng.choice((120, 180, 240, 300, 360))
        method = (
            rules.Method.EQUAL_INSTALLMENT if rng.random() < 0.75 else rules.Method.EQUAL_PRINCIPAL
        )
        first_home = rng.random() < 0.88
        amount = Decimal(rng.randint(10, 80) * 10000)
        earliest = open_month + 14
        as_month = self._as_month
        loan = _Loan(state, amount, months, method, first_home, applied_on=self.as_of)
        loan.bank = _pick(rng, _BANKS)
        if state == "approving":
            loan.applied_on = self.as_of - dt.timedelta(days=rng.randint(1, 20))
        elif state == "signed":
            loan.applied_on = self.as_of - dt.timedelta(days=rng.randint(30, 60))
            loan.signed_on = self.as_of - dt.timedelta(days=rng.randint(1, 15))
        else:
            latest = {"repaying": as_month - 3, "overdue": as_month - 8, "settled": as_month - 15}
            disbursal_month = rng.randint(earliest, max(earliest, latest[state]))
            if prepaid:
                months = 360  # still running: settled early by a full prepayment
            elif state == "settled" and rng.random() < 0.35 and disbursal_month <= as_month - 62:
                months = 60  # ran its course
            loan.months = months
            disbursed = max(month_day(disbursal_month, rng.randint(1, 28)), RATES_2015[0])
            loan.disbursed_on = disbursed
            loan.signed_on = disbursed - dt.timedelta(days=rng.randint(7, 20))
            loan.applied_on = loan.signed_on - dt.timedelta(days=rng.randint(20, 45))
            loan.schedule = amortisation.generate_schedule(
                amount, months, method, rate_history(months, first_home), disbursed
            )
            if state == "settled" and loan.schedule.end_date > self.as_of:
                paid_up_to = amortisation.add_months(
                    disbursed,
                    rng.randint(12, max(12, month_index(self.as_of) - disbursal_month - 1)),
                )
                loan.settle_on = paid_up_to + dt.timedelta(days=rng.randint(10, 16))
                if loan.settle_on >= self.as_of:
                    loan.settle_on = None
                    loan.state = "repaying"
            elif state == "repaying" and loan.schedule.end_date <= self.as_of:
                loan.state = "settled"
            elif state == "overdue":
                loan.missed = rng.randint(1, 3)
        year = (loan.disbursed_on or loan.signed_on or loan.applied_on).year
        loan.contract_no = f"JK1401{year}{self._loan_count:07d}"
        return loan

    def _loan_rows(self, ctx: _MemberContext, loan: _Loan) -> list[dict[str, Any]]:
        rng = ctx.rng
        contract_id = self._id("loan_contracts")
        application_id = self._id("applications")
        messages: list[dict[str, Any]] = []
        rate = rates.rate_lookup(rate_history(loan.months, loan.first_home))(loan.applied_on)
        estimate = estimated_payment(loan.amount, loan.months, loan.method, rate)
        submitted = at(loan.applied_on, rng.randint(9, 17), rng.randint(0, 59))
        app_no = f"DK{loan.applied_on:%Y%m%d}{next(self._app_seq):08d}"
        status = {"approving": "processing", "signed": "approved"}.get(loan.state, "completed")
        completed = at(loan.disbursed_on, 15) if loan.disbursed_on else None
        ctx.rows.add(
            "applications",
            {
                "id": application_id,
                "application_no": app_no,
                "member_id": ctx.member_id,
                "kind": "loan",
                "reason": "购买自住住房",
                "amount": loan.amount,
                "status": status,
                "details": {
                    "purpose": "purchase",
                    "term_months": loan.months,
                    "method": loan.method.value,
                    "method_label": loan.method.label,
                    "first_home": loan.first_home,
                    "annual_rate": str(rate),
                    "estimated_monthly_payment": str(estimate),
                },
                "submitted_at": submitted,
                "completed_at": completed,
                "updated_at": completed or submitted,
            },
        )
        self._loan_nodes(ctx, loan, application_id, submitted)
        messages.append(
            self._message(
                ctx,
                "贷款申请受理",
                f"您的住房公积金贷款申请（{app_no}）已受理，申请金额 {loan.amount} 元，"
                f"期限 {loan.months} 个月。",
                submitted + dt.timedelta(minutes=5),
                "application",
                application_id=application_id,
            )
        )
        schedule = loan.schedule
        balance = Decimal("0.00")
        settled_on: dt.date | None = None
        if schedule is not None:
            balance, settled_on = self._repayments(ctx, loan, contract_id, schedule, messages)
            messages += self._prepayments(ctx, loan, contract_id, schedule)
            for k, segment in enumerate(schedule.segments()):
                due = schedule.periods[segment.first_period - 1].due_date
                ctx.rows.add(
                    "loan_rates",
                    {
                        "id": self._id("loan_rates"),
                        "contract_id": contract_id,
                        "effective_from": loan.disbursed_on if k == 0 else dt.date(due.year, 1, 1),
                        "annual_rate": segment.annual_rate,
                    },
                )
        else:
            ctx.rows.add(
                "loan_rates",
                {
                    "id": self._id("loan_rates"),
                    "contract_id": contract_id,
                    "effective_from": loan.signed_on or loan.applied_on,
                    "annual_rate": rate,
                },
            )
        if loan.state == "signed":
            assert loan.signed_on is not None
            messages.append(
                self._message(
                    ctx,
                    "借款合同签订",
                    f"您的借款合同【{loan.contract_no}】已签订，贷款将在抵押登记办结后发放。",
                    at(loan.signed_on, 16),
                    "loan",
                    application_id=application_id,
                )
            )
            messages.append(
                self._message(
                    ctx,
                    "办理抵押登记",
                    f"请于 15 日内携带购房合同到不动产登记中心办理借款合同【{loan.contract_no}】的抵押登记。",
                    at(loan.signed_on, 16, 5),
                    "todo",
                    due_days=15,
                    application_id=application_id,
                )
            )
        first_due = schedule.periods[0].due_date if schedule else None
        ctx.rows.add(
            "loan_contracts",
            {
                "id": contract_id,
                "contract_no": loan.contract_no,
                "member_id": ctx.member_id,
                "application_id": application_id,
                "amount": loan.amount,
                "term_months": loan.months,
                "method": loan.method.value,
                "status": loan.state,
                "first_home": loan.first_home,
                "signed_on": loan.signed_on,
                "disbursed_on": loan.disbursed_on,
                "first_due_date": first_due,
                "repayment_day": first_due.day if first_due else None,
                "balance": balance,
                "bank_name": loan.bank,
                "settled_on": settled_on,
                "created_at": submitted,
                "updated_at": submitted,
            },
        )
        return messages

    def _loan_nodes(
        self, ctx: _MemberContext, loan: _Loan, application_id: int, submitted: dt.datetime
    ) -> None:
        rng = ctx.rng
        if loan.state == "approving":
            done = rng.randint(0, 1)  # still at 申请受理, or accepted and under 审批
        elif loan.state == "signed":
            done = 3
        else:
            done = len(LOAN_NODES)
        stamps = [submitted]
        if loan.signed_on and loan.disbursed_on:
            stamps = [
                submitted,
                submitted + dt.timedelta(days=rng.randint(3, 10)),
                at(loan.signed_on, 10),
                at(loan.disbursed_on - dt.timedelta(days=rng.randint(1, 5)), 11),
                at(loan.disbursed_on, 14),
            ]
        elif loan.signed_on:
            stamps = [submitted, submitted + dt.timedelta(days=7), at(loan.signed_on, 10)]
        else:
            stamps = [submitted + dt.timedelta(hours=2)]
        for seq, name in enumerate(LOAN_NODES):
            state = "done" if seq < done else "current" if seq == done else "pending"
            opinion = handler = acted = None
            if state == "done":
                opinion = data.LOAN_OPINIONS[name]
                handler = rng.choice(data.HANDLERS)
                acted = stamps[min(seq, len(stamps) - 1)]
            elif state == "current":
                opinion = data.LOAN_PENDING_OPINIONS.get(name)
            self._node(ctx.rows, application_id, seq, name, state, opinion, handler, acted)

    def _repayments(
        self,
        ctx: _MemberContext,
        loan: _Loan,
        contract_id: int,
        schedule: amortisation.Schedule,
        messages: list[dict[str, Any]],
    ) -> tuple[Decimal, dt.date | None]:
        """Repayment rows as the schedule has them; returns (remaining principal, settled on)."""
        rng = ctx.rng
        cutoff = loan.settle_on or self.as_of
        due = [p for p in schedule.periods if p.due_date <= cutoff]
        if loan.state == "overdue":
            late = [p for p in due if p.due_date < self.as_of]
            loan.missed = min(loan.missed, max(len(late) - 1, 0))
            if loan.missed == 0:
                loan.state = "repaying"  # disbursed too recently to have missed a period
            due = late[: len(late) - loan.missed] if loan.missed else late
        add = ctx.rows.tables["loan_repayments"].append
        balance = schedule.principal
        for period in due:
            paid_on = period.due_date
            penalty = Decimal("0.00")
            channel = "entrusted" if rng.random() < 0.93 else "self"
            if rng.random() < 0.03:
                late_days = rng.randint(3, 20)
                if period.due_date + dt.timedelta(days=late_days) <= self.as_of:
                    paid_on = period.due_date + dt.timedelta(days=late_days)
                    penalty = rules.overdue_penalty(period.payment, late_days, period.annual_rate)
                    channel = "self"
            add(
                {
                    "id": self._id("loan_repayments"),
                    "contract_id": contract_id,
                    "period": period.period,
                    "due_date": period.due_date,
                    "paid_on": paid_on,
                    "principal": period.principal,
                    "interest": period.interest,
                    "penalty": penalty,
                    "balance_after": period.remaining,
                    "channel": channel,
                    "external_id": None,
                    "created_at": at(paid_on, 18),
                }
            )
            balance = period.remaining
        for period in due[-2:]:
            messages.append(
                self._message(
                    ctx,
                    "贷款还款成功",
                    f"您的借款合同【{loan.contract_no}】第 {period.period} 期应还 {period.payment} 元"
                    f"（本金 {period.principal} 元，利息 {period.interest} 元）已扣款成功，"
                    f"剩余本金 {period.remaining} 元。",
                    at(period.due_date, 19),
                    "loan",
                )
            )
        if loan.settle_on is not None:
            quote = prepayment_rules.quote_prepayment(
                schedule,
                loan.settle_on,
                prepayment_rules.PrepaymentKind.FULL,
                paid_periods=len(due),
            )
            add(
                {
                    "id": self._id("loan_repayments"),
                    "contract_id": contract_id,
                    "period": len(due) + 1,
                    "due_date": loan.settle_on,
                    "paid_on": loan.settle_on,
                    "principal": quote.prepaid_principal,
                    "interest": quote.accrued_interest,
                    "penalty": Decimal("0.00"),
                    "balance_after": Decimal("0.00"),
                    "channel": "self",
                    "external_id": None,
                    "created_at": at(loan.settle_on, 18),
                }
            )
            balance = Decimal("0.00")
        if loan.state == "settled":
            settled_on = loan.settle_on or schedule.end_date
            messages.append(
                self._message(
                    ctx,
                    "贷款结清",
                    f"您的借款合同【{loan.contract_no}】已于 {settled_on} 结清。请携带本人身份证到"
                    f"{loan.bank}办理抵押注销手续。",
                    at(settled_on, 17),
                    "loan",
                )
            )
            return Decimal("0.00"), settled_on
        if loan.state == "overdue":
            missed = [p for p in schedule.periods if p.due_date < self.as_of][len(due) :]
            owed = sum((p.payment for p in missed), Decimal("0.00"))
            penalty = sum(
                (
                    rules.overdue_penalty(
                        p.payment, rules.days_overdue(p.due_date, self.as_of), p.annual_rate
                    )
                    for p in missed
                ),
                Decimal("0.00"),
            )
            notice = (
                f"您的借款合同【{loan.contract_no}】已逾期 {len(missed)} 期，逾期本息 {owed} 元，"
                f"截至 {self.as_of} 罚息 {penalty} 元。请尽快归还，以免影响个人征信。"
            )
            sent = at(self.as_of - dt.timedelta(days=1), 9)
            messages.append(self._message(ctx, "贷款逾期提醒", notice, sent, "loan"))
            messages.append(self._message(ctx, "归还逾期贷款", notice, sent, "todo", due_days=10))
        return balance, None

    def _prepayments(
        self, ctx: _MemberContext, loan: _Loan, contract_id: int, schedule: amortisation.Schedule
    ) -> list[dict[str, Any]]:
        """提前还款申请 rows: the booked full prepayment of a loan settled early; for a repaying
        loan (the showcase, and some others) a pending one and, on the showcase, a refused one."""
        wanted = ctx.profile.prepayment
        messages: list[dict[str, Any]] = []
        if loan.settle_on is not None:
            quote = prepayment_rules.quote_prepayment(
                schedule, loan.settle_on, prepayment_rules.PrepaymentKind.FULL
            )
            no = self._prepayment(ctx, contract_id, loan, "full", None, quote, "booked")
            messages.append(
                self._message(
                    ctx,
                    "提前还款办理成功",
                    f"您的借款合同（{loan.contract_no}）提前还款申请（编号{no}）已于"
                    f"{loan.settle_on:%Y年%m月%d日}办理，归还本金{quote.prepaid_principal}元、"
                    f"利息{quote.accrued_interest}元，贷款已全部结清。",
                    at(loan.settle_on, 16),
                    "loan",
                )
            )
            return messages
        if loan.state != "repaying" or not (wanted == "pending" or ctx.rng.random() < 0.15):
            return messages
        paid = schedule.due_on_or_before(self.as_of)
        following = schedule.next_due(self.as_of)
        if len(paid) < 3 or following is None:
            return messages
        balance = paid[-1].remaining
        amount = max(
            Decimal("10000.00"),
            ((balance / 5 / 10000).to_integral_value() * 10000).quantize(rules.FEN),
        )
        if amount >= balance:
            return messages
        if wanted == "pending":
            earlier = paid[-3].due_date + dt.timedelta(days=10)
            refused = prepayment_rules.quote_prepayment(
                schedule, earlier, prepayment_rules.PrepaymentKind.REDUCE_INSTALMENT, amount
            )
            self._prepayment(
                ctx, contract_id, loan, "partial", "reduce_instalment", refused, "refused"
            )
        day = next(
            (
                self.as_of + dt.timedelta(days=d)
                for d in range(1, 32)
                if prepayment_rules.booking_refusal(
                    self.as_of + dt.timedelta(days=d),
                    today=self.as_of,
                    next_due=following.due_date,
                    repayment_day=schedule.periods[0].due_date.day,
                    paid_periods=len(paid),
                )
                is None
            ),
            None,
        )
        if day is None:
            return messages
        quote = prepayment_rules.quote_prepayment(
            schedule,
            day,
            prepayment_rules.PrepaymentKind.SHORTEN_TERM,
            amount,
            paid_periods=len(paid),
        )
        no = self._prepayment(ctx, contract_id, loan, "partial", "shorten_term", quote, "pending")
        messages.append(
            self._message(
                ctx,
                "提前还款申请",
                f"您的借款合同（{loan.contract_no}）部分提前还款（缩短期限）申请（编号{no}）已提交，"
                f"预约还款日期{day:%Y年%m月%d日}，预计应还{quote.amount_due}元。",
                at(self.as_of - dt.timedelta(days=1), 15),
                "loan",
            )
        )
        return messages

    def _prepayment(
        self,
        ctx: _MemberContext,
        contract_id: int,
        loan: _Loan,
        kind: str,
        option: str | None,
        quote: prepayment_rules.PrepaymentQuote,
        status: str,
    ) -> str:
        no = f"HK{quote.on:%Y%m%d}{next(self._prepay_seq):08d}"
        created = at(min(quote.on - dt.timedelta(days=5), self.as_of - dt.timedelta(days=1)), 10)
        decided = at(quote.on, 16) if status != "pending" else None
        ctx.rows.add(
            "loan_prepayments",
            {
                "id": self._id("loan_prepayments"),
                "prepayment_no": no,
                "contract_id": contract_id,
                "member_id": ctx.member_id,
                "kind": kind,
                "option": option,
                "amount": quote.prepaid_principal if kind == "partial" else None,
                "prepay_on": quote.on,
                "status": status,
                "quote": PrepaymentQuoteSchema().dump(
                    contract_quote(loan.contract_no, kind, option, quote)
                ),
                "opinion": "预约还款日还款账户余额不足，未能扣款" if status == "refused" else "",
                "decision_event_id": f"seed-{no}" if decided else None,
                "decision_hash": None,
                "booked_principal": quote.prepaid_principal if status == "booked" else None,
                "booked_interest": quote.accrued_interest if status == "booked" else None,
                "decided_at": decided,
                "created_at": created,
            },
        )
        return no

    # -- withdrawal applications -------------------------------------------------------------

    def _withdrawal_applications(self, ctx: _MemberContext) -> list[dict[str, Any]]:
        rng = ctx.rng
        messages: list[dict[str, Any]] = []
        recent = self.as_of - dt.timedelta(days=540)
        done = [e for e in ctx.ledger if e.kind == "withdrawal" and e.day >= recent][-3:]
        for entry in done:
            submitted = at(entry.day - dt.timedelta(days=rng.randint(3, 10)), rng.randint(9, 20))
            app_id = self._withdrawal_application(
                ctx, entry.reason or "rent", -entry.fen, submitted, "completed", entry.day
            )
            messages.append(
                self._message(
                    ctx,
                    "提取申请办结",
                    f"您的{data_reason(entry.reason)}提取申请已办结，{money(-entry.fen)} 元已支付至"
                    f"您的银行账户。",
                    at(entry.day, 15, 30),
                    "withdrawal",
                    application_id=app_id,
                )
            )
        if ctx.status != "normal" or ctx.balance < 100000:
            return messages
        if ctx.profile.open_withdrawal or rng.random() < 0.03:
            rent = yuan_floor(ctx.monthly * 6 // 10)
            submitted = at(self.as_of - dt.timedelta(days=rng.randint(1, 6)), rng.randint(9, 20))
            state = (
                "processing"
                if ctx.profile.open_withdrawal
                else rng.choice(("processing", "approved"))
            )
            app_id = self._withdrawal_application(ctx, "rent", rent, submitted, state, None)
            messages.append(
                self._message(
                    ctx,
                    "提取申请受理",
                    f"您的租房提取申请已受理，申请金额 {money(rent)} 元，请留意审批进度。",
                    submitted + dt.timedelta(minutes=3),
                    "application",
                    application_id=app_id,
                )
            )
            if state == "processing":
                messages.append(
                    self._message(
                        ctx,
                        "补充提取材料",
                        "您的租房提取申请需补充材料：请上传已备案的房屋租赁合同。",
                        submitted + dt.timedelta(hours=20),
                        "todo",
                        due_days=7,
                        application_id=app_id,
                    )
                )
        if ctx.profile.open_withdrawal or rng.random() < 0.03:
            amount = yuan_floor(ctx.balance // 2)
            submitted = at(self.as_of - dt.timedelta(days=rng.randint(20, 120)), 10)
            rejection = rng.choice(data.WITHDRAWAL_REJECTIONS)
            app_id = self._withdrawal_application(
                ctx, "purchase", amount, submitted, "rejected", None, rejection=rejection
            )
            messages.append(
                self._message(
                    ctx,
                    "提取申请未通过",
                    f"很抱歉，您的购房提取申请未通过审核：{rejection}",
                    submitted + dt.timedelta(days=2),
                    "application",
                    application_id=app_id,
                )
            )
        return messages

    def _withdrawal_application(
        self,
        ctx: _MemberContext,
        reason: str,
        fen: int,
        submitted: dt.datetime,
        status: str,
        paid_on: dt.date | None,
        *,
        rejection: str | None = None,
    ) -> int:
        rng = ctx.rng
        app_id = self._id("applications")
        bank = _pick(rng, _BANKS)
        card = "6217" + "".join(str(rng.randrange(10)) for _ in range(15))
        details: dict[str, Any] = {
            "reason_name": data_reason(reason),
            "account_no": ctx.account_no,
            "bank_name": bank,
            "bank_account_masked": card[:4] + "*" * (len(card) - 8) + card[-4:],
            "bank_account_enc": self.pii.encrypt(card),
            "closes_account": reason in ("retirement", "leaving"),
        }
        if reason == "purchase":
            details["document_no"] = (
                f"晋（{submitted.year}）太原市不动产权第{rng.randrange(10**7):07d}号"
            )
        completed = at(paid_on, 15) if paid_on else None
        current = {"processing": rng.randint(1, 2), "approved": 3, "rejected": 1}.get(status, 4)
        if status == "rejected":
            completed = submitted + dt.timedelta(days=2)
        ctx.rows.add(
            "applications",
            {
                "id": app_id,
                "application_no": f"TQ{submitted:%Y%m%d}{next(self._app_seq):08d}",
                "member_id": ctx.member_id,
                "kind": "withdrawal",
                "reason": reason,
                "amount": money(fen),
                "status": status,
                "details": details,
                "submitted_at": submitted,
                "completed_at": completed,
                "updated_at": completed or submitted,
            },
        )
        for seq, name in enumerate(WITHDRAWAL_NODES):
            acted: dt.datetime | None = None
            opinion: str | None
            handler: str | None
            if seq < current or (status == "rejected" and seq == current):
                state = "done"
                opinion = data.WITHDRAWAL_OPINIONS[name]
                if status == "rejected" and seq == current:
                    opinion = rejection
                handler = "网厅自动受理" if seq == 0 else rng.choice(data.HANDLERS)
                acted = submitted + dt.timedelta(hours=4 * seq + 1)
                if paid_on and seq == len(WITHDRAWAL_NODES) - 1:
                    acted = completed
            else:
                state = "current" if seq == current and status != "rejected" else "pending"
                opinion = handler = None
            self._node(ctx.rows, app_id, seq, name, state, opinion, handler, acted)
        return app_id

    def _node(
        self,
        rows: Rows,
        application_id: int,
        seq: int,
        name: str,
        state: str,
        opinion: str | None,
        handler: str | None,
        acted: dt.datetime | None,
    ) -> None:
        rows.add(
            "application_nodes",
            {
                "id": self._id("application_nodes"),
                "application_id": application_id,
                "seq": seq,
                "name": name,
                "state": state,
                "opinion": opinion,
                "handler": handler,
                "acted_at": acted,
            },
        )

    # -- messages ----------------------------------------------------------------------------

    def _ledger_messages(self, ctx: _MemberContext) -> list[dict[str, Any]]:
        rng = ctx.rng
        count = rng.randint(70, 90) if ctx.profile.many_messages else rng.randint(2, 6)
        messages = []
        for entry in ctx.ledger[-count:]:
            amount = money(abs(entry.fen))
            balance = money(entry.balance)
            if entry.kind in ("deposit", "supplementary"):
                name, family = "缴存到账", "deposit"
                text = f"您的住房公积金{entry.summary} {amount} 元已于 {entry.day} 到账"
            elif entry.kind == "interest":
                name, family = "结息通知", "deposit"
                text = f"您的住房公积金账户{entry.summary} {amount} 元已于 {entry.day} 入账"
            elif entry.kind == "withdrawal":
                name, family = "提取到账", "withdrawal"
                text = f"您的{entry.summary} {amount} 元已于 {entry.day} 支付至您的银行账户"
            else:
                name, family = "转移接续", "notice"
                text = f"您的住房公积金{entry.summary} {amount} 元已于 {entry.day} 办结"
            messages.append(
                self._message(
                    ctx,
                    name,
                    f"{text}，账户余额 {balance} 元。",
                    at(entry.day, rng.randint(10, 18), rng.randint(0, 59)),
                    family,
                )
            )
        return messages

    def _status_messages(
        self, ctx: _MemberContext, account: dict[str, Any]
    ) -> list[dict[str, Any]]:
        rng = ctx.rng
        if ctx.status == "frozen":
            day = self.as_of - dt.timedelta(days=rng.randint(30, 400))
            text = (
                "您的住房公积金账户已根据人民法院协助执行通知书被冻结，冻结期间不能办理提取业务。"
                "如有疑问请拨打 12329 咨询。"
            )
            return [self._message(ctx, "账户冻结", text, at(day, 11), "notice")]
        if ctx.status == "sealed" and ctx.ledger:
            day = ctx.ledger[-1].day + dt.timedelta(days=rng.randint(20, 40))
            day = min(day, self.as_of - dt.timedelta(days=2))
            text = (
                f"您的住房公积金账户已于 {day} 由原单位办理封存，封存期间账户余额照常计息。"
                "新单位可为您办理启封和转移。"
            )
            return [self._message(ctx, "账户封存", text, at(day, 11), "notice")]
        if ctx.status == "closed" and account["closed_on"] is not None:
            text = f"您的住房公积金账户已于 {account['closed_on']} 销户。"
            return [self._message(ctx, "账户销户", text, at(account["closed_on"], 16), "notice")]
        return []

    def _message(
        self,
        ctx: _MemberContext,
        business_name: str,
        content: str,
        sent_at: dt.datetime,
        business_type: str,
        *,
        application_id: int | None = None,
        due_days: int | None = None,
    ) -> dict[str, Any]:
        """A message, or with ``due_days`` a to-do (待办) due that many days after it was sent."""
        todo = due_days is not None
        return {
            "member_id": ctx.member_id,
            "kind": "todo" if todo else "message",
            "business_name": business_name,
            "content": content,
            "source_channel": "核心业务系统",
            "business_type": business_type,
            "sent_at": sent_at,
            "read_at": None,
            "deleted_at": None,
            "application_id": application_id,
            "due_at": sent_at + dt.timedelta(days=due_days) if due_days is not None else None,
            "done_at": None,
            "dedupe_key": None,
            "created_at": sent_at,
        }

    def _store_messages(self, ctx: _MemberContext, messages: list[dict[str, Any]]) -> None:
        """Older messages were read (a few deleted); the newest ones, and anything from the
        last two days, are unread."""
        rng = ctx.rng
        messages.sort(key=lambda m: m["sent_at"])
        unread = rng.randint(20, 30) if ctx.profile.many_messages else rng.randint(0, 3)
        fresh = at(self.as_of - ONE_DAY, 0)
        for position, message in enumerate(messages):
            message["id"] = self._id("messages")
            if position >= len(messages) - unread or message["sent_at"] >= fresh:
                continue
            if message["kind"] == "todo":
                continue
            message["read_at"] = message["sent_at"] + dt.timedelta(minutes=rng.randint(5, 1440))
            if rng.random() < 0.03 and not ctx.profile.many_messages:
                message["deleted_at"] = message["read_at"] + dt.timedelta(days=1)
        ctx.rows.tables["messages"].extend(messages)


def data_reason(reason: str | None) -> str:
    return {
        "rent": "租房",
        "purchase": "购房",
        "loan_repayment": "偿还贷款",
        "retirement": "离退休",
        "leaving": "离职",
    }.get(reason or "", "住房公积金")


@dataclass
class _MemberContext:
    rng: random.Random
    rows: Rows
    member_id: int
    account_no: str
    profile: Profile
    ledger: list[_Booked]
    balance: int
    monthly: int
    status: str
