"""Racing twins on PostgreSQL: calls carrying one key arrive at once. Identical calls give one
write (201) and replays (200); calls that differ give one write and 409s, whoever wins."""

import threading
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from backend.accounts.models import FundAccount, FundTransaction
from backend.inbox.models import Message
from tests.security.internal import message_payload

pytestmark = [pytest.mark.postgres, pytest.mark.usefixtures("postgres_only")]

RACERS = 6


def _race(app, make, path, payloads):
    barrier = threading.Barrier(len(payloads))
    results = [None] * len(payloads)

    def run(i, payload):
        client = app.test_client()
        barrier.wait()
        r = make.signed(client, "POST", path, payload)
        results[i] = (r.status_code, r.get_json())

    threads = [threading.Thread(target=run, args=(i, p)) for i, p in enumerate(payloads)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    return results


def test_one_message_and_replays_when_identical_twins_race(app, make, session):
    member = make.member()

    results = _race(app, make, "/internal/v1/messages", [message_payload(member)] * RACERS)

    codes = sorted(code for code, _ in results)
    assert codes == [200] * (RACERS - 1) + [201], results
    assert len({body["id"] for _, body in results}) == 1
    assert session.scalar(select(func.count(Message.id))) == 1


def test_one_message_and_409s_when_twins_for_different_members_race(app, make, session):
    members = [make.member() for _ in range(RACERS)]

    results = _race(app, make, "/internal/v1/messages", [message_payload(m) for m in members])

    codes = sorted(code for code, _ in results)
    assert codes == [201] + [409] * (RACERS - 1), results
    assert {b["error_code"] for c, b in results if c == 409} == {"idempotency.key_reused"}
    winner = next(body for code, body in results if code == 201)
    messages = session.scalars(select(Message)).all()
    assert [m.member_id for m in messages] == [winner["member_id"]]


def test_one_entry_when_twins_for_different_accounts_race(app, make, session):
    members = [make.member(balance="100.00") for _ in range(RACERS)]
    accounts = session.scalars(select(FundAccount).order_by(FundAccount.id)).all()
    payloads = [
        {
            "account_no": account.account_no,
            "external_id": "HJ-race",
            "kind": "deposit",
            "amount": "10.00",
            "txn_date": "2026-03-10",
        }
        for account in accounts
    ]

    results = _race(app, make, "/internal/v1/fund/transactions", payloads)

    codes = sorted(code for code, _ in results)
    assert codes == [201] + [409] * (RACERS - 1), results
    session.expire_all()
    balances = sorted(a.balance for a in session.scalars(select(FundAccount)).all())
    assert balances == [Decimal("100.00")] * (len(members) - 1) + [Decimal("110.00")]
    assert session.scalar(select(func.count(FundTransaction.id))) == 1
