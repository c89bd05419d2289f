"""The demo centre as plain dicts, one list per table, deterministic for a seed and a date.

Every member gets their own ``random.Random`` derived from (seed, index), so member 7 is the same
person whether 30 or 1,000,000 are generated, by one process or several. A member is made by the
parts of this package, each one reader's head: who they are (:mod:`.people`), their ten years of
ledger (:mod:`.ledger`), their loan (:mod:`.loans`), their withdrawal applications
(:mod:`.applications`) and their inbox (:mod:`.inbox`); the centre-wide rows are
:mod:`.centre`'s. Identity data goes through the PII vault (ciphertexts differ between runs; the
plain values do not).
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Sequence
from typing import Any

from backend.pii import mask_id_number, mask_phone
from backend.withdrawals.retirement import default_category, retirement_date
from devtools.seed import applications, inbox, ledger, loans, people
from devtools.seed import centre as centre_rows
from devtools.seed.common import Ids, Rows, Vault, at, fen_of, month_day, month_index
from devtools.seed.context import Centre, MemberContext, Numbers
from devtools.seed.people import Claimed, IdentityRegistry, draw_person
from devtools.seed.profiles import DemoMember

# The tables whose ids a member takes (the parallel load moves these, nothing else).
MEMBER_TABLES = (
    "members",
    "fund_accounts",
    "fund_transactions",
    "channel_identities",
    "applications",
    "application_nodes",
    "loan_contracts",
    "loan_rates",
    "loan_repayments",
    "loan_prepayments",
    "messages",
)


class CentreGenerator:
    """Generates employers, then members one by one, then the centre-wide rows, into
    :class:`Rows`."""

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
        self.password = password
        self.registry = IdentityRegistry()
        self.centre = Centre(
            seed=seed,
            as_of=as_of,
            pii=pii,
            password_hash=password_hash,
            ids=Ids(next_ids),
            members=members,
            first_member_id=next_ids.get("members", 1),
        )

    @property
    def seed(self) -> int:
        return self.centre.seed

    # -- ids ---------------------------------------------------------------------------------

    @property
    def next_ids(self) -> dict[str, int]:
        return dict(self.centre.ids.next_ids)

    def move_on(self, next_ids: dict[str, int]) -> None:
        """The ids the parallel load's workers gave out are taken."""
        self.centre.ids.next_ids.update(next_ids)

    def chunk(
        self, start: int, claims: Sequence[Claimed]
    ) -> tuple[dict[str, list[Any]], dict[str, int], list[DemoMember]]:
        """Members ``start``, ``start + 1``… (one per claim) with their ids counted from 0 in
        every table: (rows, how many ids each table took, the CSV lines). The caller moves the
        ids to the chunk's place in the centre when it writes the rows."""
        self.centre.ids = Ids(dict.fromkeys(MEMBER_TABLES, 0))
        rows = Rows()
        demo = [self.member(start + k, rows, claimed) for k, claimed in enumerate(claims)]
        return rows.take(), dict(self.centre.ids.next_ids), demo

    # -- the centre-wide rows ----------------------------------------------------------------

    def employers(self, rows: Rows) -> None:
        centre_rows.employers(self.centre, rows)

    def announcements(self, rows: Rows) -> None:
        centre_rows.announcements(self.centre, rows)

    def appointments(self, rows: Rows) -> None:
        centre_rows.appointments(self.centre, rows)

    # -- members -----------------------------------------------------------------------------

    def member(self, index: int, rows: Rows, claimed: Claimed | None = None) -> DemoMember:
        """Member ``index`` into ``rows``. ``claimed``: their ID number and phone as a registry of
        the whole centre made them unique (the parallel load); else this generator's registry."""
        person = draw_person(self.centre.seed, index)
        rng, profile, showcase = person.rng, person.profile, person.showcase
        male, name, birth = person.male, person.name, person.birth
        id_number, phone = claimed or self.registry.claim(person)
        counter = itertools.count(1)
        centre = self.centre

        member_id = centre.ids("members")
        employer = rng.choice(self.centre.employers)
        adult = month_index(birth) + 22 * 12 + 1
        first_open = max(centre.window_start, adult)
        # Loans need a deposit history before the application; closures and seals need a span.
        latest_open = centre.as_month - (40 if profile.loan or profile.many_messages else 9)
        if showcase or profile.many_messages or rng.random() < 0.5:
            open_month = first_open + rng.randint(0, 6)
        else:
            open_month = rng.randint(first_open, max(first_open, latest_open))
        open_month = min(open_month, max(latest_open, first_open))
        loan_state = profile.loan
        if loan_state and open_month > centre.as_month - 24:
            loan_state = None  # too young for a loan history: a depositor only
        opened_on = month_day(open_month, rng.randint(1, employer.deposit_day))

        loan = (
            loans.plan_loan(
                centre, rng, loan_state, open_month, index, prepaid=profile.prepayment == "booked"
            )
            if loan_state
            else None
        )
        account_id = centre.ids("fund_accounts")
        retires_on = retirement_date(birth, default_category(male))
        history, account = ledger.ledger(
            centre, rng, profile, employer, open_month, opened_on, retires_on, loan
        )
        created = at(opened_on, 9)
        rows.add(
            "members",
            {
                "id": member_id,
                "name": name,
                "id_number_enc": centre.pii.encrypt(id_number),
                "id_number_hash": centre.pii.id_lookup(id_number),
                "id_number_masked": mask_id_number(id_number),
                "phone_enc": centre.pii.encrypt(phone) if phone else None,
                "phone_hash": centre.pii.phone_lookup(phone) if phone else None,
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
                "updated_at": at(history[-1].day if history else opened_on, 18),
                **account,
            },
        )
        ledger.transactions(centre, rows, history, account_id, member_id)

        registered = profile.registered and phone is not None
        if registered:
            people.registration(centre, rng, rows, member_id, opened_on, id_number)
        ctx = MemberContext(
            rng=rng,
            rows=rows,
            member_id=member_id,
            account_no=account_no,
            profile=profile,
            ledger=history,
            balance=history[-1].balance if history else 0,
            monthly=fen_of(account["monthly_amount"]),
            status=account["status"],
            numbers=Numbers(index, counter),
        )
        messages = inbox.ledger_messages(centre, ctx) + inbox.status_messages(centre, ctx, account)
        messages += applications.withdrawal_applications(centre, ctx)
        if loan is not None:
            messages += loans.loan_rows(centre, ctx, loan)
        if phone is None:
            messages.append(
                inbox.message(
                    centre,
                    ctx,
                    "登记预留手机号",
                    "您尚未登记预留手机号，无法接收短信验证码。请携带本人身份证到公积金中心服务网点办理登记。",
                    at(centre.as_of - dt.timedelta(days=rng.randint(3, 60)), 9),
                    "todo",
                    due_days=30,
                )
            )
        inbox.store_messages(centre, ctx, messages)
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
