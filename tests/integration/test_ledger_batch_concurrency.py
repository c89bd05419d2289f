"""Ledger batches racing on PostgreSQL: two core-system calls booking on the same accounts at once
(listed in opposite orders) both book every entry, with exact running balances and no deadlock."""

import threading
from decimal import Decimal

import pytest
from sqlalchemy import select

from backend.accounts.models import FundAccount, FundTransaction

pytestmark = [pytest.mark.postgres, pytest.mark.usefixtures("postgres_only")]

PATH = "/internal/v1/fund/transactions/batch"


def _entries(accounts, prefix, amount):
    return [
        {
            "account_no": account.account_no,
            "external_id": f"{prefix}-{account.account_no}",
            "kind": "interest",
            "amount": amount,
            "txn_date": "2026-06-30",
        }
        for account in accounts
    ]


def test_two_batches_on_the_same_accounts_book_everything_with_exact_running_balances(
    app, make, session
):
    for _ in range(20):
        make.member(balance="100.00")
    accounts = session.scalars(select(FundAccount).order_by(FundAccount.id)).all()
    calls = [
        _entries(accounts, "A", "1.00"),
        _entries(list(reversed(accounts)), "B", "2.00"),
        _entries(accounts[::2], "C", "4.00") + _entries(accounts[::2], "A", "1.00"),
    ]
    barrier = threading.Barrier(len(calls))
    answers = [None] * len(calls)

    def run(i):
        client = app.test_client()
        barrier.wait()
        r = make.signed(client, "POST", PATH, {"entries": calls[i]})
        answers[i] = (r.status_code, r.get_json())

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(calls))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)

    assert [code for code, _ in answers] == [200, 200, 200], answers
    # "A-…" twice (calls 0 and 2): booked once, whoever came first; the other is its replay.
    statuses = [x["status"] for _, body in answers for x in body["results"]]
    assert statuses.count("created") == 50 and statuses.count("replayed") == 10
    session.expire_all()
    for n, account in enumerate(session.scalars(select(FundAccount).order_by(FundAccount.id))):
        expected = Decimal("103.00") + (Decimal("4.00") if n % 2 == 0 else 0)
        assert account.balance == expected
        rows = session.scalars(
            select(FundTransaction)
            .where(FundTransaction.account_id == account.id)
            .order_by(FundTransaction.id)
        ).all()
        running = Decimal("100.00")
        for row in rows:  # every balance_after is the one before plus its amount
            running += row.amount
            assert row.balance_after == running
        assert running == expected
