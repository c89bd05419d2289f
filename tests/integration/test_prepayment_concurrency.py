"""Concurrent prepayment bookings on PostgreSQL: the account row lock serialises the "one pending
per contract" check and the insert, so two bookings with different keys never both pend."""

import datetime as dt
import threading

import pytest
from sqlalchemy import func, select

from backend.loans.models import LoanPrepayment

pytestmark = [pytest.mark.postgres, pytest.mark.usefixtures("postgres_only")]


def test_only_one_prepayment_pends_when_two_bookings_race(
    app,
    make,
    login,
    session,
    clock,
    loan,  # noqa: F811
):
    clock.set(dt.datetime(2025, 6, 1, 2, 0, tzinfo=dt.UTC))  # 10:00 in Shanghai
    member = make.member(balance="80000.00")
    contract = loan(member, paid=14)
    code = make.transaction_code(member)
    headers = login(member)
    barrier = threading.Barrier(2)
    results = []

    def submit(key, option):
        client = app.test_client()
        barrier.wait()
        r = client.post(
            f"/api/v1/loans/{contract.contract_no}/prepayments",
            json={
                "kind": "partial",
                "option": option,
                "amount": "50000.00",
                "prepay_on": "2025-06-05",
                "sms_code": code,
            },
            headers=headers | {"Idempotency-Key": key},
        )
        results.append((r.status_code, r.get_json()))

    threads = [
        threading.Thread(target=submit, args=args)
        for args in (("race-a", "shorten_term"), ("race-b", "reduce_instalment"))
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert sorted(status for status, _ in results) == [201, 409], results
    loser = next(answer for status, answer in results if status == 409)
    assert loser["error_code"] == "loan.prepayment_pending"  # under the lock, not the SMS code
    session.expire_all()
    count = session.scalar(
        select(func.count()).select_from(LoanPrepayment).filter_by(contract_id=contract.id)
    )
    assert count == 1
