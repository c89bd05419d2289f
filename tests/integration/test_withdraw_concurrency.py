"""Concurrent withdrawal submissions on PostgreSQL: the account row lock serialises check and
create, so two requests can never make two applications (or reserve more than the balance), nor
two monthly rent arrangements or two open transfers."""

import threading
import uuid

import pytest
from sqlalchemy import select

from backend.applications.models import Application
from backend.withdrawals.models import RentArrangement

pytestmark = [pytest.mark.postgres, pytest.mark.usefixtures("postgres_only")]


def _race(app, headers, payloads_and_keys, path="/api/v1/withdrawals"):
    barrier = threading.Barrier(len(payloads_and_keys))
    results = [None] * len(payloads_and_keys)

    def run(i, payload, key):
        client = app.test_client()
        barrier.wait()
        r = client.post(path, json=payload, headers={**headers, "Idempotency-Key": key})
        results[i] = (r.status_code, r.get_json())

    threads = [
        threading.Thread(target=run, args=(i, p, k)) for i, (p, k) in enumerate(payloads_and_keys)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    return results


def _body(code, amount):
    return {
        "reason": "purchase",
        "amount": amount,
        "bank_name": "中国工商银行",
        "bank_account": "6222021234567890",
        "sms_code": code,
        "document_no": "HT-1",
    }


def test_only_one_application_is_created_when_two_submissions_race(app, make, login, session):
    member = make.member(balance="10000.00")
    code = make.transaction_code(member)
    results = _race(
        app,
        login(member),
        [(_body(code, "8000.00"), uuid.uuid4().hex), (_body(code, "9000.00"), uuid.uuid4().hex)],
    )
    statuses = sorted(status for status, _ in results)
    assert statuses == [201, 409], results
    loser = next(body for status, body in results if status == 409)
    # refused by the rule under the lock, not by the SMS code being already used
    assert loser["error_code"] == "withdrawal.open_application_exists"
    session.expire_all()
    created = session.scalars(select(Application).filter_by(member_id=member.id)).all()
    assert len(created) == 1 and created[0].amount <= 10000


def test_same_key_racing_gets_the_winners_answer_when_submitted_twice(app, make, login, session):
    member = make.member(balance="10000.00")
    code = make.transaction_code(member)
    payload = _body(code, "5000.00")
    results = _race(app, login(member), [(payload, "race-key"), (payload, "race-key")])
    assert [status for status, _ in results] == [201, 201], results
    assert results[0][1]["application_no"] == results[1][1]["application_no"]
    session.expire_all()
    assert len(session.scalars(select(Application).filter_by(member_id=member.id)).all()) == 1


def test_only_one_rent_arrangement_is_created_when_two_sign_ups_race(app, make, login, session):
    member = make.member(balance="10000.00")
    code = make.transaction_code(member)
    bodies = [
        {
            "monthly_amount": amount,
            "bank_name": "中国工商银行",
            "bank_account": "6222021234567890",
            "sms_code": code,
        }
        for amount in ("800.00", "900.00")
    ]
    results = _race(
        app,
        login(member),
        [(body, uuid.uuid4().hex) for body in bodies],
        path="/api/v1/withdrawals/rent-arrangements",
    )
    assert sorted(status for status, _ in results) == [201, 409], results
    loser = next(body for status, body in results if status == 409)
    assert loser["error_code"] == "withdrawal.rent_arrangement_exists"
    session.expire_all()
    assert len(session.scalars(select(RentArrangement).filter_by(member_id=member.id)).all()) == 1


def test_only_one_transfer_is_opened_when_two_applications_race(app, make, login, session):
    member = make.member(balance="10000.00")
    code = make.transaction_code(member)
    bodies = [
        {
            "direction": "in",
            "other_centre": "上海市住房公积金管理中心",
            "other_account_no": number,
            "sms_code": code,
        }
        for number in ("310100000001", "310100000002")
    ]
    results = _race(
        app, login(member), [(body, uuid.uuid4().hex) for body in bodies], path="/api/v1/transfers"
    )
    assert sorted(status for status, _ in results) == [201, 409], results
    loser = next(body for status, body in results if status == 409)
    assert loser["error_code"] == "transfer.open_application_exists"
    session.expire_all()
    created = session.scalars(
        select(Application).filter_by(member_id=member.id, kind="transfer")
    ).all()
    assert len(created) == 1
