"""Concurrent loan applications on PostgreSQL: the account row lock serialises the checks and the
insert, so two submissions with different keys can never open two loan applications."""

import datetime as dt
import json
import threading

import pytest
from sqlalchemy import func, select

from backend.accounts.models import FundAccount
from backend.applications.models import Application
from backend.identity.stepup import send_transaction_code
from backend.loans import amortisation

pytestmark = [pytest.mark.postgres, pytest.mark.usefixtures("postgres_only")]


def test_only_one_loan_application_is_opened_when_two_submissions_race(
    app, make, login, session, runtime, clock
):
    clock.set(dt.datetime(2025, 6, 20, 2, 0, tzinfo=dt.UTC))  # 10:00 in Shanghai
    member = make.member(balance="0.00")
    account = session.scalars(select(FundAccount).filter_by(member_id=member.id)).one()
    make.transaction(account, txn_date=dt.date(2024, 11, 1), amount="74240.00", kind="transfer_in")
    for month in range(6):
        day = amortisation.add_months(dt.date(2024, 12, 10), month)
        make.transaction(account, txn_date=day, amount="960.00", period_month=day.strftime("%Y-%m"))
    send_transaction_code(runtime, member)
    with open(runtime.settings.sms_outbox, encoding="utf-8") as outbox:
        code = json.loads(outbox.readlines()[-1])["code"]
    body = {"amount": "600000.00", "term_months": 360, "method": "equal_installment"}
    headers = login(member)
    barrier = threading.Barrier(2)
    results = []

    def submit(key):
        client = app.test_client()
        barrier.wait()
        r = client.post(
            "/api/v1/loan-applications",
            json=body | {"sms_code": code},
            headers=headers | {"Idempotency-Key": key},
        )
        results.append((r.status_code, r.get_json()))

    threads = [threading.Thread(target=submit, args=(k,)) for k in ("race-a", "race-b")]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert sorted(status for status, _ in results) == [201, 409], results
    loser = next(answer for status, answer in results if status == 409)
    assert loser["error_code"].startswith("loan.")  # refused under the lock, not by the SMS code
    session.expire_all()
    count = session.scalar(
        select(func.count()).select_from(Application).filter_by(member_id=member.id, kind="loan")
    )
    assert count == 1
