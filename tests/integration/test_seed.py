"""The demo centre: ledgers that add up, loans that follow the engine, valid identities, a CSV
that matches the database, and the same centre from the same seed."""

from __future__ import annotations

import datetime as dt
import json
from collections import Counter, defaultdict
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from backend.accounts.models import FundAccount, FundTransaction
from backend.applications.models import Application, ApplicationNode
from backend.clock import SHANGHAI
from backend.identity.passwords import make_hasher, verify_password
from backend.inbox.models import Message
from backend.loans import amortisation, prepayment_rules
from backend.loans.models import LoanContract, LoanPrepayment, LoanRate, LoanRepayment
from backend.members.models import Credential, Employer, Member
from backend.models import Base
from backend.pii import is_valid_id_number, mask_id_number, mask_phone
from backend.runtime import Runtime
from backend.withdrawals.models import RentArrangement
from backend.withdrawals.retirement import (
    RetirementFacts,
    identity_from_id_number,
    retirement_reached,
)
from backend.withdrawals.rules import LEAVING_SEALED_MONTHS
from devtools.seed.csvfile import HEADER, read_members_csv
from devtools.seed.profiles import ACCOUNT_STATUSES, DEMO_PASSWORD, LOAN_STATES
from devtools.seed.runner import seed_centre

AS_OF = dt.date(2026, 11, 20)
MEMBERS = 30


def _seed(runtime: Runtime, csv_path: Path | None = None, seed: int = 7) -> Any:
    return seed_centre(
        runtime, members=MEMBERS, seed=seed, as_of=AS_OF, csv_path=csv_path, progress=False
    )


@pytest.fixture
def csv_path(tmp_path: Path) -> Path:
    return tmp_path / "instance" / "demo-members.csv"


@pytest.fixture
def seeded(runtime: Runtime, csv_path: Path) -> Any:
    return _seed(runtime, csv_path)


def _ledgers(session: Session) -> dict[int, list[FundTransaction]]:
    ledgers: dict[int, list[FundTransaction]] = defaultdict(list)
    stmt = select(FundTransaction).order_by(FundTransaction.txn_date, FundTransaction.id)
    for txn in session.scalars(stmt):
        ledgers[txn.account_id].append(txn)
    return ledgers


def test_balances_are_running_sums_when_seeded(seeded: Any, session: Session) -> None:
    ledgers = _ledgers(session)
    accounts = session.scalars(select(FundAccount)).all()
    assert len(accounts) == MEMBERS
    for account in accounts:
        running = Decimal("0.00")
        for txn in ledgers[account.id]:
            running += txn.amount
            assert txn.balance_after == running, (account.account_no, txn.txn_date)
            assert running >= 0
        assert account.balance == running
        if account.status == "closed":
            assert account.balance == 0 and account.closed_on is not None


def test_deposits_follow_base_and_rates_when_seeded(seeded: Any, session: Session) -> None:
    ledgers = _ledgers(session)
    for account in session.scalars(select(FundAccount)):
        deposits = [t for t in ledgers[account.id] if t.kind in ("deposit", "supplementary")]
        periods = [t.period_month for t in deposits]
        assert len(periods) == len(set(periods)), "one deposit per month"
        assert account.paid_through == max(periods)
        expected = (account.deposit_base * account.employee_rate).quantize(Decimal("0.01")) + (
            account.deposit_base * account.employer_rate
        ).quantize(Decimal("0.01"))
        assert account.monthly_amount == expected
        latest = max(deposits, key=lambda t: t.period_month)
        assert latest.amount == account.monthly_amount


def test_interest_is_booked_on_30_june_when_seeded(seeded: Any, session: Session) -> None:
    interest = session.scalars(select(FundTransaction).where(FundTransaction.kind == "interest"))
    annual = [t for t in interest if t.summary == "年度结息"]
    assert annual
    assert all((t.txn_date.month, t.txn_date.day) == (6, 30) and t.amount > 0 for t in annual)


def test_loan_rows_follow_the_engine_when_seeded(seeded: Any, session: Session) -> None:
    for contract in session.scalars(select(LoanContract)):
        repayments = session.scalars(
            select(LoanRepayment)
            .where(LoanRepayment.contract_id == contract.id)
            .order_by(LoanRepayment.period)
        ).all()
        repaid = sum((r.principal for r in repayments), Decimal("0.00"))
        if contract.disbursed_on is None:
            assert contract.status in ("approving", "signed") and not repayments
            continue
        assert contract.balance == contract.amount - repaid
        if contract.status == "settled":
            assert contract.balance == 0 and contract.settled_on is not None
        rates = session.scalars(select(LoanRate).where(LoanRate.contract_id == contract.id)).all()
        schedule = amortisation.generate_schedule(
            contract.amount,
            contract.term_months,
            contract.method,
            [(r.effective_from, r.annual_rate) for r in rates],
            contract.disbursed_on,
            contract.first_due_date,
        )
        for repayment in repayments:
            period = schedule.periods[repayment.period - 1]
            if repayment.balance_after == 0 and repayment.due_date != period.due_date:
                continue  # the full prepayment that settled the loan
            assert (repayment.principal, repayment.interest, repayment.balance_after) == (
                period.principal,
                period.interest,
                period.remaining,
            )
        if contract.status == "overdue":
            late = [p for p in schedule.periods if p.due_date < AS_OF]
            assert len(repayments) < len(late)


def test_every_state_is_present_when_seeded(seeded: Any, session: Session) -> None:
    loan_states = set(session.scalars(select(LoanContract.status)))
    assert loan_states == set(LOAN_STATES)
    assert set(session.scalars(select(FundAccount.status))) == set(ACCOUNT_STATUSES)
    approving = session.scalars(
        select(LoanContract).where(LoanContract.status == "approving")
    ).first()
    assert approving is not None and approving.application_id is not None
    nodes = session.scalars(
        select(ApplicationNode).where(ApplicationNode.application_id == approving.application_id)
    ).all()
    assert [n.state for n in nodes].count("current") == 1
    assert {n.state for n in nodes} >= {"current", "pending"}
    kinds = Counter(session.scalars(select(Application.kind)))
    assert kinds["withdrawal"] and kinds["loan"]
    statuses = set(session.scalars(select(Application.status)))
    assert {"processing", "completed"} <= statuses


def test_inbox_has_a_long_list_and_unread_items_when_seeded(seeded: Any, session: Session) -> None:
    per_member = Counter(
        session.scalars(select(Message.member_id).where(Message.deleted_at.is_(None)))
    )
    assert max(per_member.values()) > 60
    messages = session.scalars(select(Message)).all()
    assert any(m.read_at is None for m in messages)
    assert any(m.read_at is not None for m in messages)
    assert any(m.kind == "todo" for m in messages)
    assert all(m.read_at is None or m.read_at >= m.sent_at for m in messages)


def test_identity_numbers_are_valid_and_unique_when_seeded(
    seeded: Any, session: Session, runtime: Runtime
) -> None:
    members = session.scalars(select(Member)).all()
    numbers = [runtime.pii.decrypt(m.id_number_enc) for m in members]
    assert len(set(numbers)) == len(numbers) == MEMBERS
    for member, number in zip(members, numbers, strict=True):
        assert is_valid_id_number(number)
        assert 1960 <= int(number[6:10]) <= 2002  # the showcase retiree is born 1960–1964
        assert member.id_number_masked == mask_id_number(number)
        assert member.id_number_hash == runtime.pii.id_lookup(number)
    phones = [runtime.pii.decrypt(m.phone_enc) for m in members if m.phone_enc]
    assert len(set(phones)) == len(phones) < MEMBERS  # some members have no reserved phone


def test_csv_matches_the_database_when_seeded(
    seeded: Any, session: Session, runtime: Runtime, csv_path: Path
) -> None:
    assert csv_path.read_text(encoding="utf-8").splitlines()[0] == ",".join(HEADER)
    rows = read_members_csv(csv_path)
    assert len(rows) == MEMBERS
    hasher = make_hasher(runtime.settings.argon2_time_cost, runtime.settings.argon2_memory_cost)
    flags = Counter()
    for row in rows:
        member = session.scalars(
            select(Member).where(Member.id_number_hash == runtime.pii.id_lookup(row["id_number"]))
        ).one()
        assert member.name == row["name"]
        phone = runtime.pii.decrypt(member.phone_enc) if member.phone_enc else ""
        assert phone == row["phone"]
        if phone:
            assert member.phone_masked == mask_phone(phone)
        credential = session.get(Credential, member.id)
        assert row["registered"] == ("true" if credential else "false")
        if credential:
            assert row["password"] == DEMO_PASSWORD
            assert verify_password(hasher, credential.password_hash, row["password"])
        else:
            assert row["password"] == ""
        loans = session.scalars(select(LoanContract).where(LoanContract.member_id == member.id))
        assert row["has_loan"] == ("true" if loans.first() else "false")
        flags[row["registered"], row["has_loan"]] += 1
    assert {key[0] for key in flags} == {"true", "false"}
    assert {key[1] for key in flags} == {"true", "false"}


def _natural_keys(session: Session) -> dict[str, dict[int, str]]:
    return {
        "member_id": dict(session.execute(select(Member.id, Member.id_number_hash)).all()),
        "employer_id": dict(session.execute(select(Employer.id, Employer.unit_account_no)).all()),
        "account_id": dict(session.execute(select(FundAccount.id, FundAccount.account_no)).all()),
        "contract_id": dict(
            session.execute(select(LoanContract.id, LoanContract.contract_no)).all()
        ),
        "application_id": dict(
            session.execute(select(Application.id, Application.application_no)).all()
        ),
        "rent_arrangement_id": dict(
            session.execute(select(RentArrangement.id, RentArrangement.arrangement_no)).all()
        ),
    }


def snapshot(session: Session, runtime: Runtime) -> dict[str, list[tuple[Any, ...]]]:
    """Every table's content without surrogate ids and ciphertexts (whose nonces are random):
    foreign keys become the natural keys they point at, ciphertexts their plain values."""
    keys = _natural_keys(session)
    hasher = make_hasher(runtime.settings.argon2_time_cost, runtime.settings.argon2_memory_cost)
    result = {}
    for table in Base.metadata.sorted_tables:
        rows = []
        for row in session.execute(select(table)).mappings():
            item = []
            for name, value in sorted(row.items()):
                if name == "id":
                    continue
                if name in keys and value is not None:
                    value = keys[name][value]
                elif name.endswith("_enc") and value is not None:
                    value = runtime.pii.decrypt(value)
                elif name == "password_hash":  # salted: compare what it accepts
                    value = verify_password(hasher, value, DEMO_PASSWORD)
                elif name == "details":
                    value = sorted((k, str(v)) for k, v in value.items() if not k.endswith("_enc"))
                item.append((name, value))
            rows.append(tuple(item))
        result[table.name] = sorted(rows, key=repr)
    return result


def _empty(runtime: Runtime) -> None:
    with runtime.engine.begin() as conn:
        for table in reversed(Base.metadata.sorted_tables):
            conn.execute(table.delete())


def test_same_seed_gives_the_same_centre_when_seeded_twice(
    runtime: Runtime, session: Session
) -> None:
    _seed(runtime)
    first = snapshot(session, runtime)
    session.rollback()
    _empty(runtime)
    _seed(runtime)
    assert snapshot(session, runtime) == first
    session.rollback()
    _empty(runtime)
    _seed(runtime, seed=8)
    assert snapshot(session, runtime)["members"] != first["members"]


def test_closures_and_retirements_follow_the_withdrawal_rules_when_seeded(
    seeded: Any, session: Session, runtime: Runtime
) -> None:
    """The seed is what the core system would hold: retirement closures only past the statutory
    age (or a recorded retirement), leaving closures only after six months sealed."""
    members = {m.id: m for m in session.scalars(select(Member))}
    accounts = {a.id: a for a in session.scalars(select(FundAccount))}
    retired = [a for a in accounts.values() if a.retired_on is not None]
    assert retired, "the showcase has a retired member"
    closures = session.scalars(
        select(FundTransaction).where(
            FundTransaction.kind == "withdrawal", FundTransaction.summary.like("%销户%")
        )
    ).all()
    for account in retired:
        number = runtime.pii.decrypt(members[account.member_id].id_number_enc)
        facts = RetirementFacts(identity_from_id_number(number))
        assert retirement_reached(facts, account.retired_on)[0]
    for txn in closures:
        account = accounts[txn.account_id]
        number = runtime.pii.decrypt(members[account.member_id].id_number_enc)
        facts = RetirementFacts(identity_from_id_number(number), account.retired_on)
        if txn.summary.startswith("离退休"):
            assert retirement_reached(facts, txn.txn_date)[0], txn.summary
        else:
            year, month = (int(x) for x in account.paid_through.split("-"))
            months = (txn.txn_date.year - year) * 12 + txn.txn_date.month - month
            assert months >= LEAVING_SEALED_MONTHS, (account.paid_through, txn.txn_date)


def test_every_prepayment_state_is_present_and_consistent_when_seeded(
    seeded: Any, session: Session
) -> None:
    rows = session.scalars(select(LoanPrepayment)).all()
    assert {p.status for p in rows} == {"pending", "booked", "refused"}
    for p in rows:
        contract = session.get(LoanContract, p.contract_id)
        assert contract is not None and contract.member_id == p.member_id
        assert p.quote["contract_no"] == contract.contract_no
        if p.status == "booked":  # a full prepayment that settled the loan early
            assert p.kind == "full" and contract.status == "settled"
            assert contract.settled_on == p.prepay_on
        if p.status == "pending":  # bookable: after the seed day, outside the deduction window
            assert contract.status == "repaying" and p.prepay_on > AS_OF
            assert contract.repayment_day is not None
            assert prepayment_rules.deduction_window(p.prepay_on, contract.repayment_day, 2) is None
    pending = Counter(p.contract_id for p in rows if p.status == "pending")
    assert max(pending.values()) == 1  # one pending per contract


def test_monthly_rent_arrangements_show_every_state_when_seeded(
    seeded: Any, session: Session
) -> None:
    arrangements = session.scalars(select(RentArrangement)).all()
    assert sorted(a.status for a in arrangements) == ["active", "stopped"]
    for arrangement in arrangements:
        (paid,) = session.scalars(
            select(FundTransaction).where(FundTransaction.rent_arrangement_id == arrangement.id)
        ).all()
        assert paid.kind == "withdrawal" and paid.txn_date == AS_OF
        assert -paid.amount == arrangement.monthly_amount
        account = session.get(FundAccount, arrangement.account_id)
        assert account is not None and account.status == "normal"
    stopped = next(a for a in arrangements if a.status == "stopped")
    assert stopped.stopped_by == "member"


def test_transfers_between_cities_show_every_state_when_seeded(
    seeded: Any, session: Session
) -> None:
    transfers = session.scalars(select(Application).where(Application.kind == "transfer")).all()
    by_status = {a.status: a for a in transfers}
    assert set(by_status) == {"processing", "completed"}
    moving = by_status["processing"]
    assert [n.state for n in moving.nodes] == ["done", "done", "current", "pending"]
    arrived = by_status["completed"]
    (entry,) = session.scalars(
        select(FundTransaction).where(
            FundTransaction.member_id == arrived.member_id, FundTransaction.kind == "transfer_in"
        )
    ).all()
    assert entry.amount == arrived.amount and entry.txn_date == AS_OF


def _dump(session: Session, runtime: Runtime) -> dict[str, list[tuple[Any, ...]]]:
    """Every table with its ids; ciphertexts as their plain values, salted hashes left out."""
    result = {}
    for table in Base.metadata.sorted_tables:
        rows = []
        for row in session.execute(select(table).order_by(*table.primary_key)).mappings():
            item = []
            for name, value in row.items():
                if name.endswith("_enc") and value is not None:
                    value = runtime.pii.decrypt(value)
                elif name == "password_hash":
                    continue
                elif name == "details":
                    value = sorted((k, str(v)) for k, v in value.items() if not k.endswith("_enc"))
                item.append((name, value))
            rows.append(tuple(item))
        result[table.name] = rows
    return result


def _index_names(session: Session) -> set[str]:
    query = text("SELECT indexname FROM pg_indexes WHERE schemaname = current_schema()")
    return set(session.scalars(query))


@pytest.mark.postgres
@pytest.mark.usefixtures("postgres_only")
def test_worker_processes_seed_the_centre_one_process_seeds_when_loading_in_parallel(
    runtime: Runtime, session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    from devtools.seed import parallel

    monkeypatch.setattr(parallel, "CHUNK", 70)
    members = 400
    alone = seed_centre(runtime, members=members, seed=5, as_of=AS_OF, progress=False, workers=1)
    first = _dump(session, runtime)
    indexes = _index_names(session)
    session.rollback()
    names = ", ".join(table.name for table in Base.metadata.sorted_tables)
    with runtime.engine.begin() as conn:  # the ids the live use cases take start again too
        conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY"))
    together = seed_centre(runtime, members=members, seed=5, as_of=AS_OF, progress=False, workers=3)
    assert _dump(session, runtime) == first
    assert together.counts == alone.counts and together.demo_members == alone.demo_members
    assert _index_names(session) == indexes  # the dropped ones are built again


@pytest.mark.postgres
@pytest.mark.usefixtures("postgres_only")
def test_binary_copy_stores_what_the_rows_say_when_bulk_written(
    runtime: Runtime, session: Session
) -> None:
    from devtools.seed.writer import BulkWriter

    created = dt.datetime(2026, 3, 1, 1, 30, tzinfo=dt.UTC)
    details = {"reason_name": "租房", "amount": "12.30", "closes_account": False, "n": None}
    member = {
        "id": 1,
        "name": "张三",
        "id_number_enc": "x",
        "id_number_hash": "h" * 64,
        "id_number_masked": "1401**********1234",
        "phone_enc": None,
        "phone_hash": None,
        "phone_masked": None,
        "online_access": True,
        "created_at": created,
        "updated_at": created,
    }
    application = {
        "id": 1,
        "application_no": "TQ2026030100000011",
        "member_id": 1,
        "kind": "withdrawal",
        "reason": "rent",
        "amount": Decimal("1234.50"),
        "status": "completed",
        "details": details,
        "submitted_at": created,
        "completed_at": None,
        "updated_at": created,
    }
    with runtime.engine.begin() as conn:
        writer = BulkWriter(conn)
        writer.write({"members": [member], "applications": [application]}, shift={"members": 40})
    stored = session.get(Application, 1)
    assert stored is not None and stored.member_id == 41  # the shift moved the reference
    assert (stored.amount, stored.details, stored.completed_at) == (
        Decimal("1234.50"),
        details,
        None,
    )
    assert stored.submitted_at == created
    # The json text is what json.dumps made (as the text COPY stored it): no escapes.
    raw = session.scalar(text("SELECT details::text FROM applications WHERE id = 1"))
    assert raw == json.dumps(details, ensure_ascii=False)
    assert session.scalar(select(Member.name).where(Member.id == 41)) == "张三"


def test_service_history_is_never_dated_after_the_seed_when_seeded_just_after_midnight(
    runtime: Runtime, session: Session, clock: Any
) -> None:
    """Seeded at 00:05 Beijing time on its own day, the services demo (transfers, monthly rent
    arrangements) must not be dated later that day: the member's next application would sort
    below it in every "newest first" list."""
    clock.set(dt.datetime.combine(AS_OF, dt.time(0, 5), SHANGHAI).astimezone(dt.UTC))
    _seed(runtime)
    newest_application = session.scalar(
        select(func.max(Application.submitted_at)).where(Application.kind == "transfer")
    )
    newest_arrangement = session.scalar(select(func.max(RentArrangement.created_at)))
    assert newest_application is not None and newest_arrangement is not None
    assert newest_application <= clock.now and newest_arrangement <= clock.now
