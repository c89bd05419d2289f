"""提前还款申请: booked by the member (dates, options, SMS step-up, Idempotency-Key, one pending
per contract), decided by the core system (signed, idempotent on the whole request), and the
booked one re-amortised by the one schedule engine (plan, instalment, term and end date)."""

import datetime as dt
from decimal import Decimal

import pytest
from sqlalchemy import select

from backend.channels.models import ChannelIdentity
from backend.inbox.models import Message
from backend.loans import prepayment_rules
from backend.loans.models import LoanContract, LoanPrepayment
from backend.push.models import PushDelivery
from tests.factories import seeded_schedule

D = Decimal
TODAY = dt.datetime(2025, 6, 1, 2, 0, tzinfo=dt.UTC)  # 10:00 Beijing; 14 periods paid by then
ON = dt.date(2025, 6, 5)  # next due 2025-06-15, deduction window 06-13 … 06-17


@pytest.fixture
def member(make):
    return make.member(balance="80000.00")


@pytest.fixture
def contract(member, loan, clock):  # noqa: F811
    clock.set(TODAY)
    return loan(member, paid=14)


@pytest.fixture(autouse=True)
def _resend_gap(clock, monkeypatch):
    """Each new SMS code is asked for a minute after the previous one (the resend gap)."""
    from tests import factories

    original = factories.Factory.transaction_code

    def spaced(self, member):
        clock.advance(seconds=61)
        return original(self, member)

    monkeypatch.setattr(factories.Factory, "transaction_code", spaced)


def book(client, make, login, member, contract, key="k-1", code=None, **body):
    payload = {"kind": "partial", "option": "shorten_term", "amount": "100000.00"} | body
    payload.setdefault("prepay_on", ON.isoformat())
    payload["sms_code"] = code or make.transaction_code(member)
    return client.post(
        f"/api/v1/loans/{contract.contract_no}/prepayments",
        json={k: v for k, v in payload.items() if v is not None},
        headers=login(member) | {"Idempotency-Key": key},
    )


def decide(make, client, contract, prepayment_no, payload):
    return make.signed(
        client,
        "POST",
        f"/internal/v1/loans/{contract.contract_no}/prepayments/{prepayment_no}/events",
        payload,
    )


def expected_quote(kind, amount=None, on=ON):
    return prepayment_rules.quote_prepayment(seeded_schedule_14(), on, kind, amount, window_days=2)


def seeded_schedule_14():
    return seeded_schedule(LoanContract(method="equal_installment"))


def messages(session, member, business_name):
    session.expire_all()
    return session.scalars(
        select(Message).filter_by(member_id=member.id, business_name=business_name)
    ).all()


def test_shorten_term_prepayment_shortens_the_contract_and_plan_when_booked(
    client, make, login, member, contract, session
):
    r = book(client, make, login, member, contract)
    assert r.status_code == 201, r.json
    booked = r.json
    quote = expected_quote("shorten_term", D("100000.00"))
    assert booked["status"] == "pending" and booked["status_label"] == "待中心确认"
    assert booked["quote"]["new_months"] == quote.new_months < quote.old_months == 346
    assert booked["quote"]["new_end_date"] == quote.new_end_date.isoformat()
    assert len(messages(session, member, "提前还款申请")) == 1

    listed = make.signed(client, "GET", "/internal/v1/loan-prepayments")
    assert [p["prepayment_no"] for p in listed.json["items"]] == [booked["prepayment_no"]]

    decision = {
        "type": "booked",
        "event_id": "pp-1",
        "principal": "100000.00",
        "interest": str(quote.accrued_interest),
    }
    first = decide(make, client, contract, booked["prepayment_no"], decision)
    assert first.status_code == 201, first.json
    assert first.json["status"] == "booked"
    assert first.json["term_months"] == 14 + quote.new_months

    info = client.get(f"/api/v1/loans/{contract.contract_no}", headers=login(member)).json
    assert info["term_months"] == 14 + quote.new_months
    assert info["end_date"] == quote.new_end_date.isoformat()
    assert info["remaining_balance"] == str(quote.balance - D("100000.00"))
    assert info["monthly_payment"] == str(quote.new_payment)
    assert D(info["monthly_payment"]) <= quote.old_payment

    plan = client.get(f"/api/v1/loans/{contract.contract_no}/schedule", headers=login(member)).json
    assert len(plan["schedule"]) == 14 + quote.new_months
    assert plan["schedule"][-1]["due_date"] == quote.new_end_date.isoformat()
    assert plan["schedule"][-1]["remaining"] == "0.00"
    assert plan["schedule"][14]["payment"] == str(quote.new_payment)
    [done] = messages(session, member, "提前还款办理成功")
    assert f"贷款期限为{14 + quote.new_months}个月" in done.content
    assert f"到期日{quote.new_end_date:%Y年%m月%d日}" in done.content


def test_reduce_instalment_prepayment_keeps_the_term_and_lowers_the_payment_when_booked(
    client, make, login, member, contract
):
    booked = book(client, make, login, member, contract, option="reduce_instalment").json
    quote = expected_quote("reduce_instalment", D("100000.00"))
    r = decide(
        make,
        client,
        contract,
        booked["prepayment_no"],
        {"type": "booked", "event_id": "pp-1", "principal": "100000.00", "interest": "0.00"},
    )
    assert r.status_code == 201, r.json
    info = client.get(f"/api/v1/loans/{contract.contract_no}", headers=login(member)).json
    assert info["term_months"] == 360
    assert info["monthly_payment"] == str(quote.new_payment)
    assert D(info["monthly_payment"]) < quote.old_payment


def test_full_prepayment_settles_the_contract_when_booked(
    client, make, login, member, contract, session
):
    booked = book(client, make, login, member, contract, kind="full", option=None, amount=None)
    assert booked.status_code == 201, booked.json
    quote = expected_quote("full")
    wrong = decide(
        make,
        client,
        contract,
        booked.json["prepayment_no"],
        {"type": "booked", "event_id": "pp-0", "principal": "100.00", "interest": "0.00"},
    )
    assert wrong.status_code == 422
    assert wrong.json["error_code"] == "loan.prepayment_principal_mismatch"
    r = decide(
        make,
        client,
        contract,
        booked.json["prepayment_no"],
        {
            "type": "booked",
            "event_id": "pp-1",
            "principal": str(quote.balance),
            "interest": str(quote.accrued_interest),
        },
    )
    assert r.status_code == 201, r.json
    assert r.json["contract_status"] == "settled" and r.json["balance"] == "0.00"
    session.expire_all()
    assert session.get(LoanContract, contract.id).settled_on == ON
    plan = client.get(f"/api/v1/loans/{contract.contract_no}/schedule", headers=login(member)).json
    assert plan["totals"]["remaining_periods"] == 0


def test_decision_replays_only_the_same_request_when_sent_again(
    client, make, login, contract, member
):
    booked = book(client, make, login, member, contract).json
    decision = {"type": "refused", "event_id": "pp-9", "reason": "还款账户余额不足"}
    first = decide(make, client, contract, booked["prepayment_no"], decision)
    again = decide(make, client, contract, booked["prepayment_no"], decision)
    assert first.status_code == 201 and again.status_code == 200
    assert first.json == again.json
    other = decide(make, client, contract, booked["prepayment_no"], decision | {"reason": "其他"})
    assert other.status_code == 409
    assert other.json["error_code"] == "loan.prepayment_event_conflict"
    later = decide(
        make,
        client,
        contract,
        booked["prepayment_no"],
        {"type": "booked", "event_id": "pp-10", "principal": "100000.00", "interest": "0.00"},
    )
    assert later.status_code == 409 and later.json["error_code"] == "loan.prepayment_closed"
    mine = client.get(f"/api/v1/loans/{contract.contract_no}/prepayments", headers=login(member))
    assert mine.json["items"][0]["status"] == "refused"
    assert mine.json["items"][0]["opinion"] == "还款账户余额不足"


def test_booking_is_refused_in_the_deduction_window_without_burning_the_code(
    client, make, login, member, contract, session
):
    code = make.transaction_code(member)
    r = book(client, make, login, member, contract, code=code, prepay_on="2025-06-14")
    assert r.status_code == 422
    assert r.json["error_code"] == "loan.prepayment_deduction_window"
    assert "2025-06-13至2025-06-17" in r.json["message"] and "prepay_on" in r.json["errors"]
    # the refused request left the code usable
    assert book(client, make, login, member, contract, key="k-2", code=code).status_code == 201


@pytest.mark.parametrize(
    ("prepay_on", "error_code"),
    [
        ("2025-06-01", "loan.prepayment_date_not_future"),
        ("2025-06-20", "loan.prepayment_date_too_late"),
    ],
)
def test_booking_is_refused_when_the_date_is_not_bookable(
    client, make, login, member, contract, prepay_on, error_code
):
    r = book(client, make, login, member, contract, prepay_on=prepay_on)
    assert r.status_code == 422 and r.json["error_code"] == error_code
    assert r.json["message"]


def test_second_booking_is_refused_while_one_is_pending(client, make, login, member, contract):
    assert book(client, make, login, member, contract).status_code == 201
    r = book(client, make, login, member, contract, key="k-2", option="reduce_instalment")
    assert r.status_code == 409 and r.json["error_code"] == "loan.prepayment_pending"


def test_same_key_replays_and_other_content_is_refused_when_retried(
    client, make, login, member, contract, session
):
    first = book(client, make, login, member, contract)
    again = book(client, make, login, member, contract)  # fresh code, same request
    assert again.status_code == 201 and again.json == first.json
    assert again.headers.get("Idempotency-Replayed") == "true"
    other = book(client, make, login, member, contract, amount="90000.00")
    assert other.status_code == 409 and other.json["error_code"] == "idempotency.key_reused"
    assert len(session.scalars(select(LoanPrepayment)).all()) == 1


def test_booking_needs_the_sms_code_and_the_key_when_submitted(
    client, make, login, member, contract
):
    r = book(client, make, login, member, contract, code="000000")
    assert r.status_code == 422 and r.json["error_code"].startswith("sms.")
    r = client.post(
        f"/api/v1/loans/{contract.contract_no}/prepayments",
        json={"kind": "full", "prepay_on": ON.isoformat(), "sms_code": "123456"},
        headers=login(member),
    )
    assert r.status_code == 422 and r.json["error_code"].startswith("idempotency.")


def test_booking_is_404_when_the_contract_is_another_members(client, make, login, contract):
    stranger = make.member(balance="100.00")
    r = book(client, make, login, stranger, contract)
    assert r.status_code == 404 and r.json["error_code"] == "loan.not_found"


def test_decision_writes_the_message_and_queues_its_push_when_the_member_chose_a_channel(
    client, make, login, member, contract, session
):
    session.add(ChannelIdentity(member_id=member.id, channel="wechat", open_id=f"o-{member.id}"))
    session.commit()
    booked = book(client, make, login, member, contract).json
    r = decide(
        make,
        client,
        contract,
        booked["prepayment_no"],
        {"type": "refused", "event_id": "pp-1", "reason": "还款账户余额不足"},
    )
    assert r.status_code == 201
    [refused] = messages(session, member, "提前还款申请未通过")
    assert "还款账户余额不足" in refused.content and booked["prepayment_no"] in refused.content
    pushes = session.scalars(select(PushDelivery).filter_by(message_id=refused.id)).all()
    assert [(p.channel, p.status) for p in pushes] == [("wechat", "pending")]


def test_booking_is_refused_when_an_instalment_is_overdue(
    client,
    make,
    login,
    member,
    loan,  # noqa: F811
    clock,
):
    clock.set(TODAY)
    late = loan(member, paid=12)  # periods due 15 April and 15 May 2025 unpaid on 1 June
    r = book(client, make, login, member, late)
    assert r.status_code == 422 and r.json["error_code"] == "loan.prepayment_overdue"
    assert "逾期" in r.json["message"]
