"""租房按月提取 (monthly rent withdrawal, issue 16): sign up with the SMS step-up and an
Idempotency-Key, the core system pays each month through the ledger API, the member sees each
month's transfer and stops the arrangement."""

import uuid

import pytest
from sqlalchemy import func, select

from backend.accounts.models import FundTransaction
from backend.channels.models import ChannelIdentity
from backend.inbox.models import Message
from backend.push.models import PushDelivery
from backend.withdrawals.models import RentArrangement

pytestmark = pytest.mark.usefixtures("clock")  # 2026-11-26 10:00 in Shanghai

BASE = "/api/v1/withdrawals/rent-arrangements"
# Deposit base 8000.00 at 12 % + 12 %: 1920.00 a month; the city allows 60 % of it for rent.
CAP = "1152.00"


def body(**changes):
    base = {
        "monthly_amount": "1000.00",
        "bank_name": "中国建设银行示范市分行",
        "bank_account": "6227001234567890123",
        "sms_code": "000000",
    }
    base.update(changes)
    return base


def sign_up(client, headers, payload, key=None):
    return client.post(
        BASE, json=payload, headers={**headers, "Idempotency-Key": key or uuid.uuid4().hex}
    )


def signed_up(client, make, login, member, **changes):
    headers = login(member)
    r = sign_up(client, headers, body(sms_code=make.transaction_code(member), **changes))
    assert r.status_code == 201, r.json
    return headers, r.json


def pay(make, client, member, arrangement_no, *, external_id, amount="-1000.00", day="2026-11-26"):
    return make.signed(
        client,
        "POST",
        "/internal/v1/fund/transactions",
        {
            "id_number": member.plain_id_number,
            "external_id": external_id,
            "kind": "withdrawal",
            "amount": amount,
            "txn_date": day,
            "summary": "租房按月提取",
            "rent_arrangement_no": arrangement_no,
        },
    )


def count(session, model, **where):
    session.expire_all()
    return session.scalar(select(func.count()).select_from(model).filter_by(**where))


def test_eligibility_shows_the_monthly_limit_and_conditions(client, make, login):
    member = make.member(balance="20000.00")
    r = client.get(f"{BASE}/eligibility", headers=login(member))
    assert r.status_code == 200
    assert r.json["eligible"] is True and r.json["monthly_limit"] == CAP
    assert any("60%" in limit for limit in r.json["limits"])


def test_sign_up_creates_an_active_arrangement_with_a_message(client, make, login, session):
    member = make.member(balance="20000.00")
    headers, arrangement = signed_up(client, make, login, member)
    assert arrangement["status"] == "active" and arrangement["status_name"] == "委托中"
    assert arrangement["monthly_amount"] == "1000.00"
    assert arrangement["bank_account_masked"] == "6227***********0123"
    assert arrangement["transfers"] == [] and arrangement["total_transferred"] == "0.00"
    listed = client.get(BASE, headers=headers).json["items"]
    assert [a["arrangement_no"] for a in listed] == [arrangement["arrangement_no"]]
    assert count(session, Message, member_id=member.id, business_name="租房按月提取") == 1
    stored = session.scalars(select(RentArrangement)).one()
    assert "6227001234567890123" not in stored.bank_account_enc


def test_amount_above_the_citys_monthly_limit_is_refused(client, make, login, session):
    member = make.member(balance="20000.00")
    r = sign_up(client, login(member), body(monthly_amount="1152.01"))
    assert r.status_code == 422 and r.json["error_code"] == "withdrawal.rent_monthly_limit"
    assert CAP in r.json["message"] and r.json["errors"]["amount"]
    assert count(session, RentArrangement) == 0


@pytest.mark.parametrize(
    ("setup", "error_code"),
    [
        ({"status": "sealed"}, "withdrawal.account_sealed"),
        ({"status": "frozen"}, "withdrawal.account_frozen"),
        ({"loan": True}, "withdrawal.rent_loan_outstanding"),
    ],
)
def test_sign_up_is_refused_when_a_rule_fails(client, make, login, setup, error_code):
    member = make.member(balance="20000.00", status=setup.get("status", "normal"))
    if setup.get("loan"):
        make.loan(member)
    headers = login(member)
    eligibility = client.get(f"{BASE}/eligibility", headers=headers).json
    r = sign_up(client, headers, body())
    assert r.status_code == 409 and r.json["error_code"] == error_code
    assert not eligibility["eligible"] and eligibility["refusals"][0]["error_code"] == error_code


def test_only_one_active_arrangement_and_no_one_off_rent_alongside(client, make, login):
    member = make.member(balance="20000.00")
    headers, _ = signed_up(client, make, login, member)
    second = sign_up(client, headers, body())  # refused by the rules before the code
    one_off = client.get("/api/v1/withdrawals/eligibility?reason=rent", headers=headers).json
    assert second.status_code == 409
    assert second.json["error_code"] == "withdrawal.rent_arrangement_exists"
    codes = [r["error_code"] for r in one_off["reasons"][0]["refusals"]]
    assert "withdrawal.rent_arrangement_active" in codes


def test_replay_with_same_body_returns_first_answer_and_other_body_is_409(
    client, make, login, session
):
    member = make.member(balance="20000.00")
    headers = login(member)
    first = sign_up(client, headers, body(sms_code=make.transaction_code(member)), key="k-1")
    again = sign_up(client, headers, body(sms_code="999999"), key="k-1")
    other = sign_up(client, headers, body(monthly_amount="900.00"), key="k-1")
    assert first.status_code == again.status_code == 201
    assert again.json == first.json and again.headers.get("Idempotency-Replayed") == "true"
    assert other.status_code == 409 and other.json["error_code"] == "idempotency.key_reused"
    assert count(session, RentArrangement) == 1


def test_wrong_sms_code_is_refused_and_needs_a_key(client, make, login, session):
    member = make.member(balance="20000.00")
    make.transaction_code(member)
    headers = login(member)
    wrong = sign_up(client, headers, body(sms_code="000001"))
    keyless = client.post(BASE, json=body(), headers=headers)
    assert wrong.status_code == 422 and wrong.json["error_code"].startswith("sms.")
    assert keyless.status_code in (400, 422) and keyless.json["message"]
    assert count(session, RentArrangement) == 0


def test_core_pays_each_month_linked_to_the_arrangement_with_message_and_push(
    client, make, login, session
):
    member = make.member(balance="20000.00")
    session.add(ChannelIdentity(member_id=member.id, channel="wechat", open_id="o-rent"))
    session.commit()
    headers, arrangement = signed_up(client, make, login, member)
    no = arrangement["arrangement_no"]

    r = pay(make, client, member, no, external_id="rent-2026-11")
    replay = pay(make, client, member, no, external_id="rent-2026-11")
    changed = pay(make, client, member, no, external_id="rent-2026-11", amount="-900.00")
    unlinked = make.signed(
        client,
        "POST",
        "/internal/v1/fund/transactions",
        {
            "id_number": member.plain_id_number,
            "external_id": "rent-2026-11",
            "kind": "withdrawal",
            "amount": "-1000.00",
            "txn_date": "2026-11-26",
        },
    )

    assert r.status_code == 201, r.json
    assert r.json["rent_arrangement_no"] == no and r.json["balance_after"] == "19000.00"
    assert replay.status_code == 200 and replay.json == r.json
    assert changed.status_code == 409 and unlinked.status_code == 409
    shown = client.get(f"{BASE}/{no}", headers=headers).json
    assert shown["transfers"] == [
        {
            "txn_date": "2026-11-26",
            "month": "2026-11",
            "amount": "1000.00",
            "balance_after": "19000.00",
            "summary": "租房按月提取",
        }
    ]
    assert shown["total_transferred"] == "1000.00" and shown["transfer_count"] == 1
    message = session.scalars(select(Message).where(Message.dedupe_key == "txn:rent-2026-11")).one()
    assert message.business_name == "租房按月提取" and no in message.content
    assert count(session, PushDelivery, message_id=message.id, channel="wechat") == 1


def test_core_payment_is_refused_twice_a_month_above_the_amount_or_after_stop(
    client, make, login, session
):
    member = make.member(balance="20000.00")
    headers, arrangement = signed_up(client, make, login, member)
    no = arrangement["arrangement_no"]
    october = pay(make, client, member, no, external_id="r-10", day="2026-10-20")
    november = pay(make, client, member, no, external_id="r-11")
    twice = pay(make, client, member, no, external_id="r-11b", day="2026-11-27")
    too_much = pay(
        make, client, member, no, external_id="r-12", amount="-1000.01", day="2026-12-20"
    )
    stopped = client.post(f"{BASE}/{no}/stop", headers=headers)
    stopped_again = client.post(f"{BASE}/{no}/stop", headers=headers)
    after_stop = pay(make, client, member, no, external_id="r-12b", day="2026-12-20")

    assert october.status_code == november.status_code == 201
    assert twice.status_code == 409 and twice.json["error_code"] == "withdrawal.rent_once_per_month"
    assert too_much.status_code == 422
    assert too_much.json["error_code"] == "withdrawal.rent_monthly_limit"
    assert stopped.status_code == 200 and stopped.json["status"] == "stopped"
    assert stopped.json["stopped_by"] == "member" and stopped.json["transfer_count"] == 2
    assert stopped_again.status_code == 200 and stopped_again.json == stopped.json
    assert after_stop.status_code == 409
    assert after_stop.json["error_code"] == "withdrawal.rent_arrangement_not_active"
    assert count(session, FundTransaction, member_id=member.id) == 2
    assert count(session, Message, member_id=member.id, business_name="租房按月提取") == 4


def test_core_payment_under_another_accounts_arrangement_or_unknown_is_refused(client, make, login):
    owner = make.member(balance="20000.00")
    _, arrangement = signed_up(client, make, login, owner)
    other = make.member(balance="20000.00")
    foreign = pay(make, client, other, arrangement["arrangement_no"], external_id="x-1")
    unknown = pay(make, client, other, "AY000", external_id="x-2")
    assert foreign.status_code == 422
    assert foreign.json["error_code"] == "withdrawal.rent_arrangement_mismatch"
    assert unknown.status_code == 404
    assert unknown.json["error_code"] == "withdrawal.rent_arrangement_not_found"


def test_another_members_arrangement_is_not_found(client, make, login):
    owner = make.member(balance="20000.00")
    _, arrangement = signed_up(client, make, login, owner)
    stranger = login(make.member(balance="20000.00"))
    no = arrangement["arrangement_no"]
    assert client.get(f"{BASE}/{no}", headers=stranger).status_code == 404
    assert client.post(f"{BASE}/{no}/stop", headers=stranger).status_code == 404


def test_a_new_arrangement_may_be_signed_after_stopping(client, make, login, clock):
    member = make.member(balance="20000.00")
    headers, first = signed_up(client, make, login, member)
    client.post(f"{BASE}/{first['arrangement_no']}/stop", headers=headers)
    clock.advance(minutes=2)  # the next SMS code may be sent
    r = sign_up(client, headers, body(sms_code=make.transaction_code(member), monthly_amount=CAP))
    assert r.status_code == 201, r.json
    statuses = [a["status"] for a in client.get(BASE, headers=headers).json["items"]]
    assert statuses == ["active", "stopped"]
