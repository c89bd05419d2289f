"""The core system records (corrects, clears) a member's retirement: PUT
/internal/v1/fund/accounts/{account_no}/retirement, idempotent by ``event_id``."""

import datetime as dt
import uuid

import pytest
from sqlalchemy import func, select

from backend.accounts.models import FundAccount
from backend.inbox.models import Message
from backend.pii import compose_id_number

# A woman born in June 1975: a woman worker retires at 50y3m (2025-09), but the ID number alone
# makes her a cadre (56y5m, in 2031), so only a recorded retirement opens the withdrawal for her.
WOMAN_WORKER = compose_id_number("140105", dt.date(1975, 6, 1), 24)


pytestmark = pytest.mark.usefixtures("clock")  # business date 2026-11-26


def path(account_no):
    return f"/internal/v1/fund/accounts/{account_no}/retirement"


def account(session, member):
    session.expire_all()
    return session.scalars(select(FundAccount).filter_by(member_id=member.id)).one()


def put(make, client, member, **payload):
    return make.signed(client, "PUT", path(account(make.session, member).account_no), payload)


def messages(session, member):
    session.expire_all()
    return session.scalar(
        select(func.count()).select_from(Message).where(Message.member_id == member.id)
    )


def withdraw_all(client, headers, code):
    return client.post(
        "/api/v1/withdrawals",
        json={
            "reason": "retirement",
            "amount": "20000.00",
            "bank_name": "中国建设银行示范市分行",
            "bank_account": "6227001234567890123",
            "sms_code": code,
        },
        headers={**headers, "Idempotency-Key": uuid.uuid4().hex},
    )


def test_woman_worker_retired_at_50_can_withdraw_once_the_core_records_it(
    client, make, login, session
):
    member = make.member(balance="20000.00", id_number=WOMAN_WORKER)
    headers = login(member)
    before = withdraw_all(client, headers, "000000")
    r = put(make, client, member, event_id="ret-1", retired_on="2025-09-01")
    after = withdraw_all(client, headers, make.transaction_code(member))
    assert before.status_code == 409
    assert before.json["error_code"] == "withdrawal.retirement_age_not_reached"
    assert r.status_code == 200, r.json
    assert r.json["retired_on"] == "2025-09-01"
    assert r.json["account_no"] == account(session, member).account_no
    assert account(session, member).retired_on == dt.date(2025, 9, 1)
    assert after.status_code == 201, after.json


def test_replay_with_same_body_changes_nothing_and_answers_the_same(client, make, session):
    member = make.member(id_number=WOMAN_WORKER)
    first = put(make, client, member, event_id="ret-1", retired_on="2025-09-01")
    count = messages(session, member)
    second = put(make, client, member, event_id="ret-1", retired_on="2025-09-01")
    assert first.status_code == second.status_code == 200
    assert first.json == second.json
    assert messages(session, member) == count == 1


def test_same_event_id_with_other_content_is_409(client, make, session):
    member = make.member(id_number=WOMAN_WORKER)
    put(make, client, member, event_id="ret-1", retired_on="2025-09-01")
    r = put(make, client, member, event_id="ret-1", retired_on="2025-10-01")
    assert r.status_code == 409 and r.json["error_code"] == "idempotency.key_reused"
    assert account(session, member).retired_on == dt.date(2025, 9, 1)


def test_correction_and_clearing_take_effect_with_new_event_ids(client, make, login, session):
    member = make.member(balance="20000.00", id_number=WOMAN_WORKER)
    put(make, client, member, event_id="ret-1", retired_on="2025-09-01")
    corrected = put(make, client, member, event_id="ret-2", retired_on="2025-08-01")
    assert corrected.json["retired_on"] == "2025-08-01"
    cleared = put(make, client, member, event_id="ret-3", retired_on=None)
    assert cleared.status_code == 200 and cleared.json["retired_on"] is None
    assert account(session, member).retired_on is None
    r = withdraw_all(client, login(member), make.transaction_code(member))
    assert r.status_code == 409
    assert r.json["error_code"] == "withdrawal.retirement_age_not_reached"
    assert messages(session, member) == 3


def test_unknown_account_is_404_and_bad_payload_422(client, make):
    member = make.member()
    missing = make.signed(
        client, "PUT", path("999999999999"), {"event_id": "e", "retired_on": None}
    )
    no_event = put(make, client, member, retired_on="2025-09-01")
    bad_date = put(make, client, member, event_id="e", retired_on="2025-13-01")
    no_date = put(make, client, member, event_id="e")
    assert missing.status_code == 404 and missing.json["error_code"] == "fund.account_not_found"
    for r in (no_event, bad_date, no_date):
        assert r.status_code == 422 and r.json["message"]


def test_retirement_date_in_the_future_is_refused(client, make):
    member = make.member()
    r = put(make, client, member, event_id="e", retired_on="2026-11-27")
    assert r.status_code == 422 and r.json["error_code"] == "fund.retired_on_in_future"


def test_unsigned_call_is_401(client, make, session):
    member = make.member()
    r = client.put(
        path(account(session, member).account_no), json={"event_id": "e", "retired_on": None}
    )
    assert r.status_code == 401
