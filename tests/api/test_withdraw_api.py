"""提取申请: eligibility, submission with step-up code and Idempotency-Key, every refusal."""

import datetime as dt
import uuid

import pytest
from sqlalchemy import func, select

from backend.applications.models import Application
from backend.audit.models import AuditEvent
from backend.inbox.models import Message
from backend.pii import compose_id_number

NOW = dt.datetime(2026, 11, 5, 4, 0, tzinfo=dt.UTC)
# A man born in March 1960: 60 in March 2020, before the gradual reform.
RETIREE = compose_id_number("140105", dt.date(1960, 3, 8), 11)


def body(**changes):
    base = {
        "reason": "purchase",
        "amount": "5000.00",
        "bank_name": "中国建设银行示范市分行",
        "bank_account": "6227001234567890123",
        "sms_code": "000000",
        "document_no": "HT2026110500012",
    }
    base.update(changes)
    return {k: v for k, v in base.items() if v is not None}


def submit(client, headers, payload, key=None):
    return client.post(
        "/api/v1/withdrawals",
        json=payload,
        headers={**headers, "Idempotency-Key": key or uuid.uuid4().hex},
    )


def applications(session, member):
    session.expire_all()
    return session.scalars(select(Application).filter_by(member_id=member.id)).all()


# --- eligibility -------------------------------------------------------------------------------


def test_eligibility_lists_every_reason_when_no_reason_given(client, make, login):
    member = make.member(balance="20000.00")
    r = client.get("/api/v1/withdrawals/eligibility", headers=login(member))
    assert r.status_code == 200
    assert r.json["balance"] == "20000.00" and r.json["available"] == "20000.00"
    by_reason = {x["reason"]: x for x in r.json["reasons"]}
    assert set(by_reason) == {"rent", "purchase", "loan_repayment", "retirement", "leaving"}
    assert by_reason["rent"]["eligible"] and by_reason["rent"]["withdrawable"] == "1152.00"
    assert by_reason["rent"]["reason_name"] == "租房"
    assert any("60%" in limit for limit in by_reason["rent"]["limits"])
    assert by_reason["retirement"]["full_balance_only"]
    assert by_reason["retirement"]["withdrawable"] == "0.00"  # born 1990: not retired
    assert by_reason["retirement"]["refusals"][0]["error_code"] == (
        "withdrawal.retirement_age_not_reached"
    )
    leaving = by_reason["leaving"]
    assert not leaving["eligible"] and leaving["withdrawable"] == "0.00"
    assert leaving["refusals"][0]["error_code"] == "withdrawal.account_not_sealed"


def test_eligibility_excludes_reserved_amounts_when_application_open(client, make, login):
    member = make.member(balance="20000.00")
    make.withdrawal_application(member, amount="3000.00")
    r = client.get("/api/v1/withdrawals/eligibility?reason=purchase", headers=login(member))
    assert r.json["reserved"] == "3000.00" and r.json["available"] == "17000.00"
    (purchase,) = r.json["reasons"]
    assert not purchase["eligible"]
    assert purchase["refusals"] == [
        {
            "error_code": "withdrawal.open_application_exists",
            "message": "您有一笔提取申请正在办理中，请待其办结后再申请",
        }
    ]


def test_eligibility_ignores_finished_applications_when_reserving(client, make, login):
    member = make.member(balance="20000.00")
    make.withdrawal_application(member, amount="3000.00", status="rejected")
    make.withdrawal_application(member, amount="2000.00", status="completed")
    r = client.get("/api/v1/withdrawals/eligibility?reason=purchase", headers=login(member))
    assert r.json["reserved"] == "0.00" and r.json["reasons"][0]["eligible"]


def test_eligibility_refuses_unknown_reason_when_asked(client, make, login):
    member = make.member(balance="100.00")
    r = client.get("/api/v1/withdrawals/eligibility?reason=holiday", headers=login(member))
    assert r.status_code == 422 and r.json["error_code"] == "withdrawal.reason_unknown"


def test_eligibility_is_404_when_member_has_no_account(client, make, login):
    member = make.member(account=False)
    r = client.get("/api/v1/withdrawals/eligibility", headers=login(member))
    assert r.status_code == 404 and r.json["error_code"] == "fund.account_missing"


# --- submission --------------------------------------------------------------------------------


def test_submission_creates_application_with_nodes_and_message_when_allowed(
    client, make, login, session
):
    member = make.member(balance="20000.00")
    code = make.transaction_code(member)
    r = submit(client, login(member), body(sms_code=code))
    assert r.status_code == 201, r.json
    app = r.json
    assert app["kind"] == "withdrawal" and app["kind_name"] == "提取"
    assert app["reason"] == "purchase" and app["reason_name"] == "购房"
    assert app["amount"] == "5000.00"
    assert app["status"] == "processing" and app["status_name"] == "办理中"
    assert [(n["name"], n["state"]) for n in app["nodes"]] == [
        ("受理", "current"),
        ("审核", "pending"),
        ("审批", "pending"),
        ("支付", "pending"),
    ]
    assert app["details"]["bank_account_masked"] == "6227***********0123"
    assert app["details"]["document_no"] == "HT2026110500012"
    assert "bank_account_enc" not in app["details"]
    assert "6227001234567890123" not in r.get_data(as_text=True)

    (stored,) = applications(session, member)
    assert stored.application_no == app["application_no"]
    assert stored.details["bank_account_enc"] != "6227001234567890123"
    # 我发起的 shows it at once, with the sealed account number left out
    mine = client.get(f"/api/v1/applications/{stored.id}", headers=login(member))
    assert mine.status_code == 200
    assert "bank_account_enc" not in mine.json["details"]
    assert mine.json["details"]["bank_account_masked"] == "6227***********0123"
    message = session.scalars(select(Message).filter_by(member_id=member.id)).one()
    assert message.business_type == "withdrawal" and message.application_id == stored.id
    assert app["application_no"] in message.content and "5000.00元" in message.content
    audit = session.scalars(select(AuditEvent).filter_by(action="withdrawal.submit")).one()
    assert audit.member_id == member.id


def test_submission_reserves_the_amount_when_created(client, make, login):
    member = make.member(balance="20000.00")
    headers = login(member)
    submit(client, headers, body(sms_code=make.transaction_code(member)))
    r = client.get("/api/v1/withdrawals/eligibility?reason=purchase", headers=headers)
    assert r.json["balance"] == "20000.00"  # money moves only when the core system pays
    assert r.json["reserved"] == "5000.00" and r.json["available"] == "15000.00"


def test_submission_refuses_json_number_amount_when_sent(client, make, login, session):
    # One money input for the whole API: a decimal string, never a JSON number (a float).
    member = make.member(balance="20000.00")
    r = submit(client, login(member), body(amount=1234.1, sms_code=make.transaction_code(member)))
    assert r.status_code == 422 and "amount" in r.json["errors"]
    assert applications(session, member) == []


def test_submission_refuses_wrong_sms_code_when_checked(client, make, login, session):
    member = make.member(balance="20000.00")
    code = make.transaction_code(member)
    wrong = "111111" if code != "111111" else "222222"
    r = submit(client, login(member), body(sms_code=wrong))
    assert r.status_code == 422 and r.json["error_code"] == "sms.code_invalid"
    assert applications(session, member) == []


def test_submission_refuses_when_no_code_was_sent(client, make, login, session):
    member = make.member(balance="20000.00")
    r = submit(client, login(member), body(sms_code="123456"))
    assert r.status_code == 422 and r.json["error_code"] == "sms.code_expired"
    assert applications(session, member) == []


def test_submission_refuses_member_without_reserved_phone_when_stepping_up(
    client, make, login, session
):
    member = make.member(balance="20000.00", phone=None)
    r = submit(client, login(member), body(sms_code="123456"))
    assert r.status_code == 403 and r.json["error_code"] == "stepup.no_reserved_phone"


def test_rule_refusal_keeps_the_sms_code_when_refused(client, make, login, session):
    member = make.member(balance="20000.00")
    headers = login(member)
    code = make.transaction_code(member)
    r = submit(client, headers, body(amount="20000.01", sms_code=code))
    assert r.json["error_code"] == "withdrawal.balance_insufficient"
    # the member corrects the amount and submits again with the same code
    assert submit(client, headers, body(sms_code=code)).status_code == 201


@pytest.mark.parametrize(
    ("account", "payload", "status", "error_code"),
    [
        ({"status": "frozen"}, {}, 409, "withdrawal.account_frozen"),
        ({"status": "closed"}, {}, 409, "withdrawal.account_closed"),
        ({"status": "sealed"}, {}, 409, "withdrawal.account_sealed"),
        ({}, {"reason": "leaving", "amount": "20000.00"}, 409, "withdrawal.account_not_sealed"),
        ({}, {"amount": "20000.01"}, 422, "withdrawal.balance_insufficient"),
        ({}, {"amount": "0.00"}, 422, "withdrawal.amount_invalid"),
        ({}, {"amount": "10.005"}, 422, "request.validation_failed"),  # the Amount field's
        ({}, {"document_no": None}, 422, "withdrawal.document_no_required"),
        (
            {},
            {"reason": "loan_repayment", "document_no": None},
            409,
            "withdrawal.no_repaying_loan",
        ),
        ({}, {"reason": "rent", "amount": "1152.01"}, 422, "withdrawal.rent_monthly_limit"),
        (
            {"id_number": RETIREE},
            {"reason": "retirement", "amount": "100.00"},
            422,
            "withdrawal.full_balance_required",
        ),
        (
            {},
            {"reason": "retirement", "amount": "20000.00"},
            409,
            "withdrawal.retirement_age_not_reached",
        ),
        ({}, {"reason": "holiday"}, 422, "withdrawal.reason_unknown"),
        ({"balance": "0.00"}, {}, 409, "withdrawal.nothing_withdrawable"),
    ],
)
def test_submission_is_refused_with_its_own_code_when_a_rule_fails(
    client, make, login, session, account, payload, status, error_code
):
    member = make.member(**{"balance": "20000.00", **account})
    r = submit(client, login(member), body(**payload))
    assert r.status_code == status, r.json
    assert r.json["error_code"] == error_code
    assert any("\u4e00" <= ch <= "\u9fff" for ch in r.json["message"])
    assert applications(session, member) == []


def test_second_application_is_refused_when_one_is_open(client, make, login, session):
    member = make.member(balance="20000.00")
    headers = login(member)
    assert submit(client, headers, body(sms_code=make.transaction_code(member))).status_code == 201
    r = submit(client, headers, body(amount="100.00"))
    assert r.status_code == 409 and r.json["error_code"] == "withdrawal.open_application_exists"
    assert len(applications(session, member)) == 1


def member_who_rented(make, submitted_at):
    member = make.member(balance="20000.00")
    make.withdrawal_application(
        member, amount="1000.00", reason="rent", status="completed", submitted_at=submitted_at
    )
    return member


def test_rent_is_refused_when_already_withdrawn_this_calendar_month(
    client, make, login, session, clock
):
    # 2026-11-01 00:30 in Shanghai: inside November there, still October in UTC
    member = member_who_rented(make, dt.datetime(2026, 10, 31, 16, 30, tzinfo=dt.UTC))
    clock.set(NOW)
    r = submit(client, login(member), body(reason="rent", amount="100.00"))
    assert r.status_code == 409 and r.json["error_code"] == "withdrawal.rent_once_per_month"


def test_rent_is_allowed_when_last_rent_was_last_month(client, make, login, session, clock):
    # 2026-10-31 23:59 in Shanghai
    member = member_who_rented(make, dt.datetime(2026, 10, 31, 15, 59, tzinfo=dt.UTC))
    code = make.transaction_code(member)
    clock.set(NOW)
    r = submit(client, login(member), body(reason="rent", amount="1152.00", sms_code=code))
    assert r.status_code == 201, r.json


def test_retirement_takes_the_full_balance_when_submitted(client, make, login):
    member = make.member(balance="20000.00", id_number=RETIREE)
    code = make.transaction_code(member)
    r = submit(client, login(member), body(reason="retirement", amount="20000.00", sms_code=code))
    assert r.status_code == 201 and r.json["details"]["closes_account"] is True


def test_leaving_is_allowed_when_account_sealed(client, make, login, clock):
    member = make.member(balance="8000.00", status="sealed", paid_through="2026-04")
    code = make.transaction_code(member)
    clock.set(NOW)
    r = submit(client, login(member), body(reason="leaving", amount="8000.00", sms_code=code))
    assert r.status_code == 201 and r.json["reason_name"] == "离职/户口迁出"


def test_leaving_is_refused_when_sealed_less_than_six_months(client, make, login, clock):
    member = make.member(balance="8000.00", status="sealed", paid_through="2026-06")
    clock.set(NOW)
    r = submit(client, login(member), body(reason="leaving", amount="8000.00"))
    assert r.status_code == 409 and r.json["error_code"] == "withdrawal.sealed_too_recent"
    assert "2026年12月" in r.json["message"]


def test_retirement_is_refused_when_a_25_year_old_asks_for_the_whole_balance(
    client, make, login, session, clock
):
    young = compose_id_number("140105", dt.date(2001, 5, 17), 13)
    member = make.member(balance="20000.00", id_number=young)
    headers = login(member)
    clock.set(NOW)
    eligibility = client.get("/api/v1/withdrawals/eligibility?reason=retirement", headers=headers)
    r = submit(client, headers, body(reason="retirement", amount="20000.00"))
    (retirement,) = eligibility.json["reasons"]
    assert not retirement["eligible"] and retirement["withdrawable"] == "0.00"
    assert r.status_code == 409 and r.json["error_code"] == "withdrawal.retirement_age_not_reached"
    assert "法定退休年龄" in r.json["message"] and "2064年05月17日" in r.json["message"]
    assert applications(session, member) == []


def test_retirement_is_allowed_when_the_core_system_recorded_it(client, make, login, clock):
    # A woman worker born in 1975 retired at 50y3m; the ID number alone says cadre (56y5m).
    woman = compose_id_number("140105", dt.date(1975, 6, 1), 24)
    member = make.member(balance="20000.00", id_number=woman, retired_on=dt.date(2025, 9, 1))
    code = make.transaction_code(member)
    clock.set(NOW)
    r = submit(client, login(member), body(reason="retirement", amount="20000.00", sms_code=code))
    assert r.status_code == 201, r.json


def test_loan_repayment_is_allowed_only_for_the_members_repaying_contract(
    client, make, login, session
):
    member = make.member(balance="20000.00")
    own = make.loan(member, balance="8000.00")
    other = make.loan(make.member())
    headers = login(member)
    payload = {"reason": "loan_repayment", "document_no": None}
    foreign = submit(client, headers, body(**payload, loan_contract_no=other.contract_no))
    too_much = submit(
        client, headers, body(**payload, amount="8000.01", loan_contract_no=own.contract_no)
    )
    code = make.transaction_code(member)
    ok = submit(
        client,
        headers,
        body(**payload, amount="8000.00", loan_contract_no=own.contract_no, sms_code=code),
    )
    assert foreign.status_code == 422
    assert foreign.json["error_code"] == "withdrawal.loan_contract_unknown"
    assert too_much.status_code == 422
    assert too_much.json["error_code"] == "withdrawal.exceeds_loan_balance"
    assert ok.status_code == 201, ok.json


def test_rent_is_refused_when_the_member_repays_a_fund_loan(client, make, login):
    member = make.member(balance="20000.00")
    make.loan(member)
    r = submit(client, login(member), body(reason="rent", amount="100.00"))
    assert r.status_code == 409 and r.json["error_code"] == "withdrawal.rent_loan_outstanding"


def test_purchase_is_refused_when_the_document_was_used_by_an_earlier_withdrawal(
    client, make, login
):
    member = make.member(balance="20000.00")
    make.withdrawal_application(
        member,
        amount="3000.00",
        status="completed",
        details={"document_no": "HT2026110500012"},
    )
    r = submit(client, login(member), body())
    assert r.status_code == 409 and r.json["error_code"] == "withdrawal.document_already_used"


def test_submission_validates_fields_when_malformed(client, make, login):
    member = make.member(balance="20000.00")
    r = submit(client, login(member), body(bank_account="62-27", bank_name=None))
    assert r.status_code == 422
    assert {"bank_account", "bank_name"} <= set(r.json["errors"])


# --- idempotency -------------------------------------------------------------------------------


def test_replay_returns_the_first_answer_when_key_reused_with_same_body(
    client, make, login, session
):
    member = make.member(balance="20000.00")
    headers = login(member)
    payload = body(sms_code=make.transaction_code(member))
    first = submit(client, headers, payload, key="key-1")
    again = submit(client, headers, payload, key="key-1")
    assert first.status_code == again.status_code == 201
    assert again.json == first.json
    assert again.headers.get("Idempotency-Replayed") == "true"
    assert len(applications(session, member)) == 1
    assert session.scalar(select(func.count()).select_from(Message)) == 1


def test_replay_ignores_a_new_sms_code_when_body_otherwise_same(client, make, login, session):
    member = make.member(balance="20000.00")
    headers = login(member)
    first = submit(client, headers, body(sms_code=make.transaction_code(member)), key="k")
    again = submit(client, headers, body(sms_code="999999"), key="k")
    assert again.status_code == 201 and again.json == first.json


def test_same_key_with_different_body_is_409_when_reused(client, make, login, session):
    member = make.member(balance="20000.00")
    headers = login(member)
    submit(client, headers, body(sms_code=make.transaction_code(member)), key="key-2")
    r = submit(client, headers, body(amount="4000.00"), key="key-2")
    assert r.status_code == 409 and r.json["error_code"] == "idempotency.key_reused"
    assert len(applications(session, member)) == 1


def test_submission_needs_an_idempotency_key_when_posted(client, make, login):
    member = make.member(balance="20000.00")
    r = client.post("/api/v1/withdrawals", json=body(), headers=login(member))
    assert r.status_code == 422 and r.json["error_code"] == "idempotency.key_missing"


def test_refused_request_stores_no_answer_when_retried_with_same_key(client, make, login, session):
    member = make.member(balance="20000.00")
    headers = login(member)
    r = submit(client, headers, body(amount="99999.00"), key="key-3")
    assert r.json["error_code"] == "withdrawal.balance_insufficient"
    code = make.transaction_code(member)
    r = submit(client, headers, body(sms_code=code), key="key-3")
    assert r.status_code == 201


def test_keys_are_per_member_when_two_members_use_the_same_key(client, make, login, session):
    one, two = make.member(balance="20000.00"), make.member(balance="20000.00")
    r1 = submit(client, login(one), body(sms_code=make.transaction_code(one)), key="same")
    r2 = submit(client, login(two), body(sms_code=make.transaction_code(two)), key="same")
    assert r1.status_code == r2.status_code == 201
    assert r1.json["application_no"] != r2.json["application_no"]


def test_submitted_application_appears_in_my_applications_when_listed(client, make, login):
    member = make.member(balance="20000.00")
    headers = login(member)
    created = submit(client, headers, body(sms_code=make.transaction_code(member))).json
    listed = client.get("/api/v1/applications?kind=withdrawal", headers=headers).json["items"]
    assert [a["application_no"] for a in listed] == [created["application_no"]]
    assert listed[0]["current_node"] == "受理"
    detail = client.get(f"/api/v1/applications/{created['id']}", headers=headers).json
    assert [n["name"] for n in detail["nodes"]] == ["受理", "审核", "审批", "支付"]
