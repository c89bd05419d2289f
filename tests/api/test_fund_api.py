"""缴存支取信息: the account header and the ledger by date range."""

import contextlib
import datetime as dt
from decimal import Decimal

from sqlalchemy import event, select

from backend.accounts.models import FundAccount

NOW = dt.datetime(2026, 11, 5, 4, 0, tzinfo=dt.UTC)  # 2026-11-05 12:00 in Shanghai


@contextlib.contextmanager
def counted_statements(engine):
    statements = []

    def _count(conn, cursor, statement, parameters, context, executemany):
        statements.append(statement)

    event.listen(engine, "before_cursor_execute", _count)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", _count)


def account_of(session, member):
    return session.scalars(select(FundAccount).filter_by(member_id=member.id)).one()


def test_account_shows_header_figures_when_member_has_account(client, make, login, session):
    employer = make.employer("示范市第一建筑有限公司")
    member = make.member(balance="12345.60", deposit_base=Decimal("8000.00"), employer=employer)
    r = client.get("/api/v1/fund/account", headers=login(member))
    assert r.status_code == 200
    body = r.json
    account = account_of(session, member)
    assert body["account_no"] == account.account_no
    assert body["status"] == "normal" and body["status_name"] == "正常"
    assert body["balance"] == "12345.60"
    assert body["deposit_base"] == "8000.00"
    assert body["employee_rate"] == "12%" and body["employer_rate"] == "12%"
    assert body["monthly_amount"] == "1920.00"
    assert body["paid_through"] == "2026-10"
    assert body["opened_on"] == "2018-03-01"
    assert body["employer"] == {
        "name": "示范市第一建筑有限公司",
        "unit_account_no": employer.unit_account_no,
    }


def test_account_shows_chinese_status_when_sealed(client, make, login):
    member = make.member(status="sealed")
    body = client.get("/api/v1/fund/account", headers=login(member)).json
    assert (body["status"], body["status_name"]) == ("sealed", "封存")


def test_account_is_404_when_member_has_no_account(client, make, login):
    member = make.member(account=False)
    r = client.get("/api/v1/fund/account", headers=login(member))
    assert r.status_code == 404 and r.json["error_code"] == "fund.account_missing"


def test_account_needs_login_when_no_token(client):
    assert client.get("/api/v1/fund/account").status_code == 401


def test_account_takes_one_statement_when_loaded(client, make, login, engine):
    member = make.member(balance="100.00")
    headers = login(member)
    with counted_statements(engine) as statements:
        assert client.get("/api/v1/fund/account", headers=headers).status_code == 200
    # the account with its employer; auth needs no member row (the session carries the id)
    assert len(statements) == 1, statements


def _ledger(make, session, member, *dates):
    account = account_of(session, member)
    return [
        make.transaction(account, txn_date=d, amount="1920.00", period_month=f"{d:%Y-%m}")
        for d in dates
    ]


def test_transactions_default_to_last_twelve_months_when_no_range(
    client, make, login, session, clock
):
    member = make.member()
    days = (dt.date(2025, 11, 4), dt.date(2025, 11, 5), dt.date(2026, 11, 5), dt.date(2026, 11, 6))
    _ledger(make, session, member, *days)
    clock.set(NOW)
    r = client.get("/api/v1/fund/transactions", headers=login(member))
    assert r.status_code == 200
    assert (r.json["start"], r.json["end"]) == ("2025-11-05", "2026-11-05")
    assert [i["txn_date"] for i in r.json["items"]] == ["2026-11-05", "2025-11-05"]


def test_transactions_include_both_ends_when_range_given(client, make, login, session):
    member = make.member()
    days = (dt.date(2026, 1, 31), dt.date(2026, 2, 1), dt.date(2026, 2, 28), dt.date(2026, 3, 1))
    _ledger(make, session, member, *days)
    r = client.get(
        "/api/v1/fund/transactions?start=2026-02-01&end=2026-02-28", headers=login(member)
    )
    assert [i["txn_date"] for i in r.json["items"]] == ["2026-02-28", "2026-02-01"]


def test_transaction_items_carry_kind_signed_amount_and_balance_when_listed(
    client, make, login, session
):
    member = make.member()
    account = account_of(session, member)
    make.transaction(
        account, txn_date=dt.date(2026, 5, 10), amount="5000.00", period_month="2026-05"
    )
    make.transaction(
        account,
        txn_date=dt.date(2026, 6, 1),
        amount="-1200.50",
        kind="withdrawal",
        summary="租房提取",
    )
    r = client.get(
        "/api/v1/fund/transactions?start=2026-01-01&end=2026-12-31", headers=login(member)
    )
    newest, oldest = r.json["items"]
    assert newest["kind"] == "withdrawal" and newest["kind_name"] == "提取"
    assert newest["amount"] == "-1200.50" and newest["balance_after"] == "3799.50"
    assert newest["summary"] == "租房提取" and newest["period_month"] is None
    assert oldest["kind_name"] == "汇缴" and oldest["amount"] == "5000.00"
    assert oldest["period_month"] == "2026-05"


def test_transactions_hide_other_members_rows_when_listed(client, make, login, session):
    me, other = make.member(), make.member()
    _ledger(make, session, other, dt.date(2026, 5, 1))
    r = client.get("/api/v1/fund/transactions?start=2026-01-01&end=2026-12-31", headers=login(me))
    assert r.json["items"] == []


def test_transactions_page_by_cursor_when_more_than_limit(client, make, login, session):
    member = make.member()
    # two rows on one day: the id breaks the tie in the keyset
    dates = [dt.date(2026, 1, d) for d in (1, 2, 3, 3, 4)]
    _ledger(make, session, member, *dates)
    headers = login(member)
    url = "/api/v1/fund/transactions?start=2026-01-01&end=2026-01-31&limit=2"
    seen, cursor, pages = [], None, 0
    while True:
        r = client.get(url + (f"&cursor={cursor}" if cursor else ""), headers=headers)
        assert r.status_code == 200
        seen += [(i["txn_date"], i["id"]) for i in r.json["items"]]
        cursor, pages = r.json["next_cursor"], pages + 1
        if cursor is None:
            break
    assert pages == 3
    assert seen == sorted(seen, reverse=True) and len(set(seen)) == 5


def test_transactions_refuse_bad_cursor_when_tampered(client, make, login):
    member = make.member()
    r = client.get("/api/v1/fund/transactions?cursor=bm9wZQ", headers=login(member))
    assert r.status_code == 422 and r.json["error_code"] == "pagination.invalid_cursor"


def test_transactions_refuse_more_than_five_years_when_range_too_long(client, make, login):
    member = make.member()
    r = client.get(
        "/api/v1/fund/transactions?start=2021-01-01&end=2026-01-02", headers=login(member)
    )
    assert r.status_code == 422
    assert r.json["error_code"] == "fund.range_too_long"
    assert "5年" in r.json["message"]


def test_transactions_accept_exactly_five_years_when_queried(client, make, login):
    member = make.member()
    r = client.get(
        "/api/v1/fund/transactions?start=2021-01-02&end=2026-01-02", headers=login(member)
    )
    assert r.status_code == 200


def test_transactions_refuse_start_after_end_when_reversed(client, make, login):
    member = make.member()
    r = client.get(
        "/api/v1/fund/transactions?start=2026-03-02&end=2026-03-01", headers=login(member)
    )
    assert r.status_code == 422 and r.json["error_code"] == "fund.range_reversed"
    assert r.json["message"] == "开始日期不能晚于结束日期，请重新选择查询范围"


def test_transactions_refuse_malformed_dates_when_not_iso(client, make, login):
    member = make.member()
    for query in ("start=2026-02-30", "end=20260101", "start=yesterday", "limit=101"):
        r = client.get(f"/api/v1/fund/transactions?{query}", headers=login(member))
        assert r.status_code == 422, query
        assert r.json["code"] == 422 and r.json["message"] and "errors" in r.json


def test_transactions_take_one_statement_per_page_when_listed(client, make, login, session, engine):
    member = make.member()
    _ledger(make, session, member, *[dt.date(2026, 1, d) for d in range(1, 26)])
    headers = login(member)
    url = "/api/v1/fund/transactions?start=2026-01-01&end=2026-01-31&limit=10"
    with counted_statements(engine) as first:
        r = client.get(url, headers=headers)
    with counted_statements(engine) as second:
        client.get(url + "&cursor=" + r.json["next_cursor"], headers=headers)
    # one indexed page query, however many rows: no N+1 (auth needs no member row)
    assert len(first) == 1, first
    assert len(second) == 1, second
    assert "fund_transactions" in first[0] and "LIMIT" in first[0].upper()
