"""Round trips of a member GET, counted (not timed): one Redis command for the session, only the
selects that carry the answer's data, no transaction bookkeeping, no pool pre-ping."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import event, select, text

from backend.accounts.models import FundAccount
from backend.loans.models import LoanContract, LoanRate

D = Decimal


@dataclass
class Trips:
    statements: list[str] = field(default_factory=list)
    # Whether the driver was in autocommit at each statement: then it sends no BEGIN/ROLLBACK.
    autocommit: list[bool] = field(default_factory=list)
    redis: list[str] = field(default_factory=list)


def _driver_autocommit(dbapi_connection: Any) -> bool:
    if hasattr(dbapi_connection, "autocommit"):  # psycopg
        return bool(dbapi_connection.autocommit)
    return dbapi_connection.isolation_level is None  # sqlite3 (Python 3.11)


@pytest.fixture
def trips(runtime) -> Any:
    """``with trips() as t: …`` records the SQL statements and Redis commands sent meanwhile."""

    @contextmanager
    def _count() -> Iterator[Trips]:
        seen = Trips()

        def before(conn, cursor, statement, parameters, context, executemany):
            seen.statements.append(statement)
            seen.autocommit.append(_driver_autocommit(conn.connection.dbapi_connection))

        client = runtime.redis
        original = client.execute_command

        def counting(*args: Any, **options: Any) -> Any:
            seen.redis.append(str(args[0]).upper())
            return original(*args, **options)

        original_pipeline = client.pipeline

        def counting_pipeline(*args: Any, **options: Any) -> Any:
            pipe = original_pipeline(*args, **options)
            execute = pipe.execute

            def counted(*a: Any, **k: Any) -> Any:  # one round trip for the whole stack
                names = ",".join(str(c[0][0]).upper() for c in pipe.command_stack)
                seen.redis.append(f"PIPELINE[{names}]")
                return execute(*a, **k)

            pipe.execute = counted
            return pipe

        event.listen(runtime.engine, "before_cursor_execute", before)
        client.execute_command = counting
        client.pipeline = counting_pipeline
        try:
            yield seen
        finally:
            del client.execute_command
            del client.pipeline
            event.remove(runtime.engine, "before_cursor_execute", before)

    return _count


@pytest.fixture
def member(make, session, clock):
    member = make.member(balance="80000.00", password="Passw0rd!")
    account = session.scalars(select(FundAccount).where(FundAccount.member_id == member.id)).one()
    make.transaction(account, txn_date=dt.date(2026, 10, 15), amount="1000.00")
    session.commit()
    make.message(member)
    return member


@pytest.fixture
def contract(session, member):
    contract = LoanContract(
        contract_no="HT2024000777",
        member_id=member.id,
        amount=D("600000.00"),
        term_months=360,
        method="equal_installment",
        status="repaying",
        signed_on=dt.date(2024, 3, 1),
        disbursed_on=dt.date(2024, 3, 15),
        balance=D("600000.00"),
        bank_name="中国建设银行示范市分行",
    )
    session.add(contract)
    session.flush()
    session.add(
        LoanRate(contract_id=contract.id, effective_from=dt.date(2024, 3, 15), annual_rate=D("3.1"))
    )
    session.commit()
    return contract


MEMBER_GETS = {
    "/api/v1/me": 1,
    "/api/v1/fund/account": 1,
    "/api/v1/fund/transactions?limit=20": 1,
    "/api/v1/messages?limit=20": 1,
    "/api/v1/loans": 1,
    "/api/v1/loans/{no}": 1,
    "/api/v1/loans/{no}/progress": 1,
    "/api/v1/loans/{no}/schedule": 1,
}


@pytest.mark.parametrize(("path", "selects"), MEMBER_GETS.items())
def test_member_get_sends_one_redis_command_and_only_data_selects_when_logged_in(
    client, login, member, contract, trips, runtime, path, selects
):
    headers = login(member)
    url = path.format(no=contract.contract_no)
    assert client.get(url, headers=headers).status_code == 200  # a computed plan is now cached
    with trips() as t:
        r = client.get(url, headers=headers)
    assert r.status_code == 200, r.json
    # Loan info reads its answer for the day, the schedule its plan's body: one command each.
    cached = {"/api/v1/loans/{no}": ["GET"], "/api/v1/loans/{no}/schedule": ["HGET"]}
    assert t.redis == ["EVALSHA", *cached.get(path, [])]
    assert len(t.statements) == selects, t.statements
    assert all(s.lstrip().upper().startswith("SELECT") for s in t.statements)
    assert all(t.autocommit), "a read sent transaction bookkeeping (BEGIN/ROLLBACK)"


def test_progress_reads_contract_application_and_nodes_in_one_select_when_applied_here(
    client, login, member, make, trips
):
    application = make.application(member, kind="loan", reason="购买自住住房", amount="300000.00")
    contract = make.loan(member, status="approving", application=application)
    headers = login(member)
    url = f"/api/v1/loans/{contract.contract_no}/progress"
    with trips() as t:
        r = client.get(url, headers=headers)
    assert r.status_code == 200, r.json
    assert r.json["application_no"] == application.application_no
    assert [n["seq"] for n in r.json["nodes"]] == sorted(n.seq for n in application.nodes)
    assert r.json["nodes"][0]["state"] == "current"
    assert len(t.statements) == 1, t.statements


def test_engine_does_not_ping_the_database_on_every_checkout_when_built(runtime):
    assert runtime.engine.pool._pre_ping is False


def test_disabled_member_is_refused_at_once_when_a_login_raced_the_switch_off(
    client, runtime, make, session
):
    """A token issued after the centre switched access off (a login that read the member just
    before) is refused: requests no longer load the member row, the Redis mark does it."""
    from backend.members.services import disable_online_access, enable_online_access

    member = make.member()
    disable_online_access(runtime.tokens, session, member.id)
    late = runtime.tokens.issue(member.id)
    headers = {"Authorization": f"Bearer {late.access_token}"}
    r = client.get("/api/v1/fund/account", headers=headers)
    assert r.status_code == 401
    assert r.json["error_code"] == "auth.access_disabled"
    assert runtime.tokens.resolve(late.access_token) is None  # its family was revoked
    enable_online_access(runtime.tokens, session, member.id)
    fresh = runtime.tokens.issue(member.id)
    headers = {"Authorization": f"Bearer {fresh.access_token}"}
    assert client.get("/api/v1/fund/account", headers=headers).status_code == 200


# --- the computed repayment plan is reused until something changes it --------------------------


def _plans_computed(t: Trips) -> int:
    return sum("HSET" in command for command in t.redis)


def test_loan_info_and_schedule_compute_the_plan_once_when_read_repeatedly(
    client, login, member, contract, trips
):
    headers = login(member)
    base = f"/api/v1/loans/{contract.contract_no}"
    with trips() as t:
        info = client.get(base, headers=headers)
        plan = client.get(f"{base}/schedule", headers=headers)
        again = client.get(base, headers=headers)
        client.get(f"{base}/schedule", headers=headers)
    assert _plans_computed(t) == 1
    assert sum("loan_repayments" in s and "count(" not in s for s in t.statements) == 1
    assert info.json == again.json
    assert info.json["monthly_payment"] == plan.json["schedule"][0]["payment"]
    assert info.json["remaining_periods"] == 360


def test_loan_info_answers_for_the_day_it_is_read_when_its_answer_is_cached(
    client, login, member, contract, clock
):
    headers = login(member)
    url = f"/api/v1/loans/{contract.contract_no}"
    clock.set(dt.datetime(2026, 12, 15, 2, 0, tzinfo=dt.UTC))  # 10:00 on a due day
    first = client.get(url, headers=headers).json
    assert first["next_due"]["due_date"] == "2026-12-15"
    assert client.get(url, headers=headers).json == first
    clock.advance(days=1)  # the instalment due yesterday is now overdue
    later = client.get(url, headers=headers).json
    assert later["overdue"]["days"] == first["overdue"]["days"] + 1
    assert later["overdue"]["periods"] == first["overdue"]["periods"] + 1
    assert later["next_due"]["due_date"] == "2027-01-15"


def test_loan_info_shows_a_contract_change_at_once_when_its_answer_is_cached(
    client, login, member, contract, session
):
    """A change made outside the application (no ``updated_at`` bump) is seen at the next read."""
    headers = login(member)
    url = f"/api/v1/loans/{contract.contract_no}"
    assert client.get(url, headers=headers).json["bank_name"] == "中国建设银行示范市分行"
    session.execute(
        text("UPDATE loan_contracts SET bank_name = '中国工商银行示范市分行' WHERE id = :id"),
        {"id": contract.id},
    )
    session.commit()
    assert client.get(url, headers=headers).json["bank_name"] == "中国工商银行示范市分行"


def _repay(make, client, contract_no, period, external_id, principal, interest, paid_on):
    return make.signed(
        client,
        "POST",
        f"/internal/v1/loans/{contract_no}/events",
        {
            "type": "repaid",
            "external_id": external_id,
            "period": period,
            "principal": principal,
            "interest": interest,
            "paid_on": paid_on,
            "channel": "entrusted",
        },
    )


def test_plan_is_recomputed_when_a_repayment_or_a_prepayment_arrives(
    client, login, member, contract, trips, make
):
    headers = login(member)
    base = f"/api/v1/loans/{contract.contract_no}"
    first = client.get(f"{base}/schedule", headers=headers).json["schedule"][0]
    r = _repay(
        make,
        client,
        contract.contract_no,
        1,
        "HK-1",
        first["principal"],
        first["interest"],
        first["due_date"],
    )
    assert r.status_code in (200, 201), r.json
    with trips() as t:
        info = client.get(base, headers=headers).json
        plan = client.get(f"{base}/schedule", headers=headers).json
    assert _plans_computed(t) == 1
    assert info["paid_periods"] == 1 and plan["schedule"][0]["paid"] is True
    # A prepayment booked on the next period re-amortises what is left.
    before = plan["schedule"][1]["payment"]
    r = _repay(make, client, contract.contract_no, 2, "HK-2", "100000.00", "0.00", "2024-05-01")
    assert r.status_code in (200, 201), r.json
    plan = client.get(f"{base}/schedule", headers=headers).json
    assert D(plan["schedule"][2]["payment"]) < D(before)
    assert client.get(base, headers=headers).json["paid_periods"] == 2


def test_plan_is_recomputed_when_the_rate_changes(client, login, member, contract, session, trips):
    headers = login(member)
    url = f"/api/v1/loans/{contract.contract_no}/schedule"
    before = client.get(url, headers=headers).json["schedule"]
    session.add(
        LoanRate(contract_id=contract.id, effective_from=dt.date(2025, 1, 1), annual_rate=D("2.6"))
    )
    session.commit()
    with trips() as t:
        after = client.get(url, headers=headers).json["schedule"]
    assert _plans_computed(t) == 1
    assert before[:9] == after[:9]  # due before the new rate applies
    assert D(after[-1]["payment"]) < D(before[-1]["payment"])


def test_schedule_body_is_what_the_documented_schema_dumps_when_formatted_fast(
    session, member, contract, make
):
    import json

    from backend.loans import services
    from backend.loans.schemas import LoanPlanSchema

    for method in ("equal_installment", "equal_principal"):
        contract.method = method
        session.commit()
        state = services.loan_state(session, contract)
        answer = services.plan_answer(contract, state)
        body = json.loads(services.to_json(answer))
        assert body == LoanPlanSchema().dump(answer)
        assert LoanPlanSchema().validate(body) == {}


def test_plan_version_reads_repayments_and_rates_once_each_when_loan_info_is_read(
    client, login, member, contract, trips
):
    """The plan's version aggregates a contract's repayments and rates in one pass per table. As
    separate subqueries, ``MAX(id)`` alone was planned by PostgreSQL as a backward walk of the
    whole primary key filtered by contract (23 ms a request at 100,000 repayments)."""
    headers = login(member)
    with trips() as t:
        assert (
            client.get(f"/api/v1/loans/{contract.contract_no}", headers=headers).status_code == 200
        )
    version_select = t.statements[0]
    assert version_select.count("FROM loan_repayments") == 1, version_select
    assert version_select.count("FROM loan_rates") == 1, version_select
