"""The set-based statements of backend.db (insert_many, update_many, one_of) write and read what
row-by-row statements would, on SQLite and on PostgreSQL: money exact to the fen, UTC times,
JSON details, NULLs, Python defaults, onupdate columns."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from sqlalchemy import select

from backend.accounts.models import FundAccount, FundTransaction
from backend.audit.models import AuditEvent
from backend.db import insert_many, one_of, update_many


def _account(make, session, **kwargs):
    member = make.member(**kwargs)
    return session.scalars(select(FundAccount).where(FundAccount.member_id == member.id)).one()


def _rows(account, count):
    return [
        {
            "account_id": account.id,
            "member_id": account.member_id,
            "txn_date": dt.date(2026, 6, 30),
            "kind": "interest",
            "amount": Decimal("0.01") * (n + 1) + Decimal("9999999999.98") * (n == 0),
            "balance_after": Decimal("123.45"),
            "period_month": None if n % 2 else "2026-05",
            "summary": f"结息 “{n}” \\ ' \" 单元",
            "external_id": f"BULK-{n}",
            "rent_arrangement_id": None,
        }
        for n in range(count)
    ]


def test_insert_many_writes_what_it_is_given_when_rows_carry_money_text_and_nulls(make, session):
    account = _account(make, session, balance="100.00")
    rows = _rows(account, 7)
    returned = insert_many(session, FundTransaction, rows, returning=("external_id", "id"))
    session.commit()
    ids = dict(returned)
    assert sorted(ids) == sorted(row["external_id"] for row in rows)
    stored = {
        t.external_id: t
        for t in session.scalars(
            select(FundTransaction).where(one_of(session, FundTransaction.external_id, list(ids)))
        )
    }
    for row in rows:
        txn = stored[row["external_id"]]
        assert txn.id == ids[row["external_id"]]
        assert txn.amount == row["amount"] and isinstance(txn.amount, Decimal)
        assert (txn.period_month, txn.summary, txn.txn_date) == (
            row["period_month"],
            row["summary"],
            row["txn_date"],
        )
        assert txn.created_at.tzinfo is not None  # the Python default, filled in


def test_insert_many_writes_json_details_and_utc_times_when_given_audit_rows(make, session):
    member = make.member()
    when = dt.datetime(2026, 6, 30, 18, 30, tzinfo=dt.timezone(dt.timedelta(hours=8)))
    insert_many(
        session,
        AuditEvent,
        [
            {
                "member_id": member.id,
                "actor": "internal:core",
                "action": "internal.fund_transaction",
                "ip": "127.0.0.1",
                "request_id": "r1",
                "detail": {"external_id": "X-1", "amount": "1.50", "replayed": True},
                "created_at": when,
            }
        ],
    )
    session.commit()
    event = session.scalars(select(AuditEvent).where(AuditEvent.request_id == "r1")).one()
    assert event.detail == {"external_id": "X-1", "amount": "1.50", "replayed": True}
    assert event.created_at == when


def test_insert_many_refuses_the_amount_when_it_exceeds_the_money_column(make, session):
    account = _account(make, session)
    rows = _rows(account, 1)
    rows[0]["amount"] = Decimal("10000000000000.00")
    with pytest.raises(Exception, match="NUMERIC"):
        insert_many(session, FundTransaction, rows)
    session.rollback()


def test_update_many_sets_each_row_by_key_when_given_many(make, session):
    accounts = [_account(make, session, balance="100.00") for _ in range(3)]
    session.commit()
    before = {a.id: a.updated_at for a in accounts}
    update_many(
        session,
        FundAccount,
        [
            {"id": a.id, "balance": Decimal("100.01") + n, "paid_through": f"2026-0{n + 1}"}
            for n, a in enumerate(accounts)
        ],
    )
    session.commit()
    for n, account in enumerate(accounts):
        session.refresh(account)
        assert account.balance == Decimal("100.01") + n
        assert account.paid_through == f"2026-0{n + 1}"
        assert account.updated_at >= before[account.id]
