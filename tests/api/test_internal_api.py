"""The core system's internal API: messages, to-dos, application events, ledger and loan events.

Every write that concerns a member leaves its message and its pending pushes, or nothing at all.
"""

import datetime as dt
from decimal import Decimal

import pytest
from sqlalchemy import event, func, select

from backend.accounts.models import FundAccount, FundTransaction
from backend.audit.models import AuditEvent
from backend.channels.models import ChannelIdentity
from backend.inbox.models import Message
from backend.loans.models import LoanContract, LoanRate, LoanRepayment
from backend.push.models import PushDelivery


def _count(session, model):
    session.expire_all()
    return session.scalar(select(func.count()).select_from(model))


def _bind_wechat(session, member):
    session.add(ChannelIdentity(member_id=member.id, channel="wechat", open_id=f"o-{member.id}"))
    session.commit()


def _account(session, member):
    session.expire_all()
    return session.scalars(select(FundAccount).filter_by(member_id=member.id)).one()


# --- POST /internal/v1/messages ---------------------------------------------------------------


def test_message_created_once_with_pushes_when_same_dedupe_key_sent_twice(make, client, session):
    member = make.member()
    _bind_wechat(session, member)
    payload = {
        "id_number": member.plain_id_number,
        "business_name": "缴存基数调整",
        "content": "您的缴存基数已调整为 9000.00 元。",
        "source_channel": "单位网厅",
        "business_type": "notice",
        "dedupe_key": "notice-2026-0001",
    }

    first = make.signed(client, "POST", "/internal/v1/messages", payload)
    second = make.signed(client, "POST", "/internal/v1/messages", payload)

    assert first.status_code == 201 and second.status_code == 200
    assert first.json == second.json
    assert first.json["member_id"] == member.id
    assert first.json["source_channel"] == "单位网厅"
    assert first.json["dedupe_key"] == "notice-2026-0001"
    assert first.json["sent_at"].endswith("+08:00")
    assert _count(session, Message) == 1
    deliveries = session.scalars(select(PushDelivery)).all()
    assert [(d.channel, d.status, d.message_id) for d in deliveries] == [
        ("wechat", "pending", first.json["id"])
    ]


def test_todo_with_due_time_and_application_reaches_member_when_posted(make, client, login):
    member = make.member()
    application = make.application(member, kind="loan", amount="300000.00")
    payload = {
        "account_no": _account(make.session, member).account_no,
        "kind": "todo",
        "business_name": "补充贷款材料",
        "content": "请于期限前上传收入证明。",
        "application_no": application.application_no,
        "due_at": "2026-04-01T17:00:00",  # no offset: the centre's local time
        "dedupe_key": "todo-1",
    }

    r = make.signed(client, "POST", "/internal/v1/messages", payload)

    assert r.status_code == 201, r.json
    assert r.json["kind"] == "todo"
    assert r.json["due_at"] == "2026-04-01T17:00:00+08:00"
    assert r.json["application_no"] == application.application_no
    todos = client.get("/api/v1/todos?status=open", headers=login(member)).json["items"]
    assert [t["id"] for t in todos] == [r.json["id"]]
    assert todos[0]["application"]["application_no"] == application.application_no


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"id_number": "110105199005170000"}, "id_number"),
        ({"business_name": ""}, "business_name"),
        ({"dedupe_key": "has space"}, "dedupe_key"),
        ({"kind": "letter"}, "kind"),
        ({"due_at": "2026-04-01T17:00:00+08:00"}, "due_at"),
        ({"account_no": "000000000001"}, "id_number"),
        ({"colour": "red"}, "colour"),
    ],
)
def test_message_refused_with_field_error_when_payload_bad(make, client, change, field):
    member = make.member()
    payload = {
        "id_number": member.plain_id_number,
        "business_name": "通知",
        "content": "内容",
        "dedupe_key": "k",
        **change,
    }

    r = make.signed(client, "POST", "/internal/v1/messages", payload)

    assert r.status_code == 422, r.json
    assert field in r.json["errors"]
    assert _count(make.session, Message) == 0


def test_message_answers_404_when_member_or_application_unknown(make, client):
    member = make.member()
    base = {"business_name": "通知", "content": "内容", "dedupe_key": "k"}
    stranger = make.id_number(dt.date(1985, 1, 1))
    other = make.member()
    theirs = make.application(other)

    unknown_member = make.signed(
        client, "POST", "/internal/v1/messages", {**base, "id_number": stranger}
    )
    not_theirs = make.signed(
        client,
        "POST",
        "/internal/v1/messages",
        {**base, "id_number": member.plain_id_number, "application_no": theirs.application_no},
    )

    assert (
        unknown_member.status_code == 404
        and unknown_member.json["error_code"] == "member.not_found"
    )
    assert (
        not_theirs.status_code == 404 and not_theirs.json["error_code"] == "application.not_found"
    )
    assert _count(make.session, Message) == 0


# --- POST /internal/v1/todos/{id}/done ------------------------------------------------------


def test_todo_done_when_core_system_says_so(make, client, login):
    member = make.member()
    todo = make.message(member, kind="todo")

    r = make.signed(
        client,
        "POST",
        f"/internal/v1/todos/{todo.id}/done",
        {"done_at": "2026-03-05T10:00:00+08:00"},
    )
    again = make.signed(client, "POST", f"/internal/v1/todos/{todo.id}/done", {})

    assert r.status_code == 200 and r.json["done"] is True
    assert again.json["done_at"] == r.json["done_at"] == "2026-03-05T10:00:00+08:00"
    headers = login(member)
    assert client.get("/api/v1/todos?status=open", headers=headers).json["items"] == []
    assert client.get(f"/api/v1/todos/{todo.id}", headers=headers).json["done"] is True


def test_todo_done_answers_404_when_id_is_a_message(make, client):
    msg = make.message(make.member())
    r = make.signed(client, "POST", f"/internal/v1/todos/{msg.id}/done", {})
    assert r.status_code == 404 and r.json["error_code"] == "todo.not_found"


# --- POST /internal/v1/applications/{no}/events ---------------------------------------------


def _event(make, client, application, **payload):
    return make.signed(
        client, "POST", f"/internal/v1/applications/{application.application_no}/events", payload
    )


def test_node_done_advances_and_tells_member_when_core_reports_it(make, client, login, session):
    member = make.member()
    _bind_wechat(session, member)
    application = make.application(member)

    r = _event(
        make,
        client,
        application,
        event_id="e1",
        type="node_done",
        opinion="材料齐全",
        handler="李四",
        at="2026-03-02T09:00:00+08:00",
    )

    assert r.status_code == 201, r.json
    assert [n["state"] for n in r.json["nodes"]] == ["done", "current", "pending", "pending"]
    assert r.json["nodes"][0]["opinion"] == "材料齐全" and r.json["nodes"][0]["handler"] == "李四"
    assert r.json["nodes"][0]["acted_at"] == "2026-03-02T09:00:00+08:00"
    detail = client.get(f"/api/v1/applications/{application.id}", headers=login(member)).json
    assert detail["current_node"] == "审核"
    inbox = client.get("/api/v1/messages?status=unread", headers=login(member)).json["items"]
    assert len(inbox) == 1
    assert "“受理”环节已办理完成" in inbox[0]["content"] and "材料齐全" in inbox[0]["content"]
    assert inbox[0]["application"]["application_no"] == application.application_no
    assert _count(session, PushDelivery) == 1


def test_application_walks_to_completed_when_events_arrive_in_order(make, client, login):
    member = make.member()
    application = make.application(member)
    steps = [
        {"event_id": "1", "type": "node_done", "handler": "窗口"},
        {"event_id": "2", "type": "node_done", "opinion": "审核通过"},
        {"event_id": "3", "type": "approved", "opinion": "同意提取", "handler": "科长"},
        {"event_id": "4", "type": "completed", "at": "2026-03-06T15:00:00+08:00"},
    ]

    answers = [_event(make, client, application, **s) for s in steps]

    assert [a.status_code for a in answers] == [201, 201, 201, 201]
    assert answers[2].json["status"] == "approved"
    assert answers[2].json["nodes"][2]["opinion"] == "同意提取"
    final = client.get(f"/api/v1/applications/{application.id}", headers=login(member)).json
    assert final["status"] == "completed" and final["status_name"] == "已办结"
    assert final["completed_at"] == "2026-03-06T15:00:00+08:00"
    assert {n["state"] for n in final["nodes"]} == {"done"}
    assert _count(make.session, Message) == 4


def test_rejection_closes_application_when_core_rejects(make, client):
    member = make.member()
    application = make.application(member)

    r = _event(
        make,
        client,
        application,
        event_id="r",
        type="rejected",
        node="审核",
        opinion="租房合同未备案",
    )
    late = _event(make, client, application, event_id="late", type="node_done")

    assert r.json["status"] == "rejected" and r.json["completed_at"]
    assert r.json["nodes"][1]["opinion"] == "租房合同未备案"
    assert "current" not in {n["state"] for n in r.json["nodes"]}
    assert late.status_code == 409 and late.json["error_code"] == "application.closed"


def test_event_replay_changes_nothing_when_event_id_repeats(make, client):
    application = make.application(make.member())

    first = _event(make, client, application, event_id="same", type="node_done")
    again = _event(make, client, application, event_id="same", type="node_done")

    assert (first.status_code, again.status_code) == (201, 200)
    assert [n["state"] for n in again.json["nodes"]] == ["done", "current", "pending", "pending"]
    assert _count(make.session, Message) == 1


def test_event_refused_when_node_unknown_or_application_missing(make, client):
    application = make.application(make.member())

    bad_node = _event(make, client, application, event_id="x", type="node_current", node="放款")
    missing = make.signed(
        client,
        "POST",
        "/internal/v1/applications/TQ000/events",
        {"event_id": "x", "type": "approved"},
    )
    bad_type = _event(make, client, application, event_id="y", type="teleported")

    assert bad_node.status_code == 422 and "node" in bad_node.json["errors"]
    assert missing.status_code == 404
    assert bad_type.status_code == 422 and "type" in bad_type.json["errors"]
    assert _count(make.session, Message) == 0


# --- POST /internal/v1/fund/transactions ----------------------------------------------------


def _txn(make, client, account, **payload):
    body = {"account_no": account.account_no, "txn_date": "2026-03-10", **payload}
    return make.signed(client, "POST", "/internal/v1/fund/transactions", body)


def test_deposit_moves_balance_and_books_once_when_replayed(make, client, login):
    member = make.member(balance="1000.00")
    account = _account(make.session, member)

    first = _txn(
        make,
        client,
        account,
        external_id="HJ-1",
        kind="deposit",
        amount="1920.00",
        period_month="2026-11",
        summary="2026年11月汇缴",
    )
    again = _txn(
        make,
        client,
        account,
        external_id="HJ-1",
        kind="deposit",
        amount="1920.00",
        period_month="2026-11",
        summary="2026年11月汇缴",
    )

    assert (first.status_code, again.status_code) == (201, 200)
    assert first.json == again.json
    assert first.json["balance_after"] == "2920.00" and first.json["kind_name"] == "汇缴"
    account = _account(make.session, member)
    assert account.balance == Decimal("2920.00")
    assert account.paid_through == "2026-11"
    assert _count(make.session, FundTransaction) == 1
    inbox = client.get("/api/v1/messages", headers=login(member)).json["items"]
    assert len(inbox) == 1 and "1920.00" in inbox[0]["content"] and "2920.00" in inbox[0]["content"]


def test_running_balance_follows_each_entry_when_several_booked(make, client):
    member = make.member(balance="0.00")
    account = _account(make.session, member)
    entries = [
        ("a", "deposit", "1000.00"),
        ("b", "supplementary", "250.50"),
        ("c", "withdrawal", "-600.00"),
        ("d", "interest", "12.34"),
        ("e", "transfer_out", "-100.00"),
        ("f", "transfer_in", "0.01"),
    ]

    afters = [
        _txn(make, client, account, external_id=e, kind=k, amount=a).json["balance_after"]
        for e, k, a in entries
    ]

    assert afters == ["1000.00", "1250.50", "650.50", "662.84", "562.84", "562.85"]
    assert _account(make.session, member).balance == Decimal("562.85")


def test_withdrawal_refused_when_balance_would_go_negative(make, client):
    member = make.member(balance="500.00")
    account = _account(make.session, member)

    r = _txn(make, client, account, external_id="TQ-1", kind="withdrawal", amount="-500.01")

    assert r.status_code == 422 and r.json["error_code"] == "fund.balance_insufficient"
    assert _account(make.session, member).balance == Decimal("500.00")
    assert _count(make.session, FundTransaction) == 0 and _count(make.session, Message) == 0


@pytest.mark.parametrize(
    ("kind", "amount"),
    [
        ("deposit", "-10.00"),
        ("withdrawal", "10.00"),
        ("interest", "0.00"),
        ("deposit", 10.5),
        ("deposit", "1.005"),
        ("deposit", "NaN"),
    ],
)
def test_entry_refused_when_amount_does_not_fit(make, client, kind, amount):
    account = _account(make.session, make.member(balance="100.00"))

    r = _txn(make, client, account, external_id="x", kind=kind, amount=amount)

    assert r.status_code == 422 and "amount" in r.json["errors"]


def test_withdrawal_paid_completes_its_application_when_named(make, client, login):
    member = make.member(balance="8000.00")
    account = _account(make.session, member)
    application = make.application(member, kind="withdrawal", amount="3000.00")

    r = _txn(
        make,
        client,
        account,
        external_id="ZF-1",
        kind="withdrawal",
        amount="-3000.00",
        application_no=application.application_no,
    )

    assert r.status_code == 201, r.json
    detail = client.get(f"/api/v1/applications/{application.id}", headers=login(member)).json
    assert detail["status"] == "completed" and detail["completed_at"]
    assert {n["state"] for n in detail["nodes"]} == {"done"}
    inbox = client.get("/api/v1/messages", headers=login(member)).json["items"]
    assert len(inbox) == 1
    assert application.application_no in inbox[0]["content"]


def test_entry_answers_404_or_409_when_account_unknown_or_id_reused(make, client):
    account = _account(make.session, make.member(balance="10.00"))
    ghost = FundAccount(account_no="999999999999")

    unknown = _txn(make, client, ghost, external_id="g", kind="deposit", amount="1.00")
    _txn(make, client, account, external_id="dup", kind="deposit", amount="1.00")
    reused = _txn(make, client, account, external_id="dup", kind="deposit", amount="2.00")

    assert unknown.status_code == 404 and unknown.json["error_code"] == "fund.account_not_found"
    assert reused.status_code == 409 and reused.json["error_code"] == "idempotency.key_reused"
    session = make.session
    session.expire_all()
    assert session.get(FundAccount, account.id).balance == Decimal("11.00")


def test_nothing_persists_when_write_fails_after_message_added(make, client, runtime, session):
    member = make.member(balance="100.00")
    _bind_wechat(session, member)
    account = _account(session, member)

    def fail_on_audit(sess, _ctx, _instances):
        # The audit row is added after the entry, the balance and the message: fail right there.
        if any(isinstance(obj, AuditEvent) for obj in sess.new):
            raise RuntimeError("disk full")

    event.listen(runtime.session_factory, "before_flush", fail_on_audit)
    try:
        r = _txn(make, client, account, external_id="boom", kind="deposit", amount="50.00")
    finally:
        event.remove(runtime.session_factory, "before_flush", fail_on_audit)

    assert r.status_code == 500
    assert _account(session, member).balance == Decimal("100.00")
    for model in (FundTransaction, Message, PushDelivery, AuditEvent):
        assert _count(session, model) == 0, model
    retry = _txn(make, client, account, external_id="boom", kind="deposit", amount="50.00")
    assert retry.status_code == 201 and retry.json["balance_after"] == "150.00"


# --- POST /internal/v1/loans/{contract_no}/events -------------------------------------------


def _loan(make, client, contract_no, **payload):
    return make.signed(client, "POST", f"/internal/v1/loans/{contract_no}/events", payload)


def _approved_loan_application(make, client, member, amount="200000.00"):
    application = make.application(member, kind="loan", amount=amount)
    approved = _event(make, client, application, event_id="ok", type="approved", node="审批")
    assert approved.status_code == 201 and approved.json["status"] == "approved"
    return application


def _sign(make, client, contract_no, application, event_id="s"):
    return _loan(
        make,
        client,
        contract_no,
        type="signed",
        event_id=event_id,
        date="2026-03-01",
        application_no=application.application_no,
        amount="200000.00",
        term_months=120,
        method="equal_installment",
        bank_name="工商银行",
    )


def _disburse(make, client, contract_no, event_id="d"):
    return _loan(
        make,
        client,
        contract_no,
        type="disbursed",
        event_id=event_id,
        amount="200000.00",
        date="2026-03-15",
        first_due_date="2026-04-20",
        annual_rate="2.85",
    )


def test_signing_is_refused_when_the_application_is_still_in_review(make, client, session):
    member = make.member()
    application = make.application(member, kind="loan", amount="200000.00")

    r = _sign(make, client, "JK2026009", application)

    assert r.status_code == 409 and r.json["error_code"] == "loan.application_not_approved"
    assert _count(session, LoanContract) == 0 and _count(session, Message) == 0
    session.expire_all()
    nodes = [n.state for n in session.get(type(application), application.id).nodes]
    assert nodes == ["current", "pending", "pending", "pending", "pending"]


def test_disbursal_is_refused_when_the_contract_is_not_signed(make, client):
    member = make.member()
    application = _approved_loan_application(make, client, member)
    contract = make.loan(member, status="approving", application=application)

    r = _disburse(make, client, contract.contract_no)

    assert r.status_code == 409 and r.json["error_code"] == "loan.invalid_transition"


def test_application_progress_follows_the_contract_when_signed_and_disbursed(make, client, login):
    member = make.member()
    application = _approved_loan_application(make, client, member)
    headers = login(member)
    url = f"/api/v1/applications/{application.id}"

    assert _sign(make, client, "JK2026010", application).status_code == 201
    after_signing = client.get(url, headers=headers).json
    assert _disburse(make, client, "JK2026010").status_code == 201
    after_disbursal = client.get(url, headers=headers).json

    states = [(n["name"], n["state"]) for n in after_signing["nodes"]]
    assert after_signing["status"] == "approved"
    assert states == [
        ("申请受理", "done"),
        ("审批", "done"),
        ("签订合同", "done"),
        ("抵押登记", "current"),
        ("放款", "pending"),
    ]
    assert after_disbursal["status"] == "completed"
    assert {n["state"] for n in after_disbursal["nodes"]} == {"done"}


def test_loan_application_completion_is_refused_when_not_approved(make, client):
    application = make.application(make.member(), kind="loan", amount="200000.00")

    r = _event(make, client, application, event_id="c", type="completed")

    assert r.status_code == 409 and r.json["error_code"] == "application.invalid_transition"


def test_application_is_cancelled_when_the_core_system_says_so(make, client):
    application = make.application(make.member(), kind="loan", amount="200000.00")

    r = _event(make, client, application, event_id="x", type="cancelled", opinion="申请人撤回")
    again = _event(make, client, application, event_id="y", type="approved")

    assert r.status_code == 201 and r.json["status"] == "cancelled"
    assert again.status_code == 409 and again.json["error_code"] == "application.closed"


def test_contract_lives_from_signing_to_settlement_when_events_arrive(make, client, login, session):
    member = make.member()
    application = _approved_loan_application(make, client, member)

    signed = _sign(make, client, "JK2026001", application)
    disbursed = _disburse(make, client, "JK2026001")
    first_repayment = {
        "type": "repaid",
        "external_id": "HK-1",
        "period": 1,
        "principal": "1200.00",
        "interest": "475.00",
        "paid_on": "2026-04-20",
        "channel": "fund_offset",
    }
    repaid = _loan(make, client, "JK2026001", **first_repayment)
    replay = _loan(make, client, "JK2026001", **first_repayment)
    overdue = _loan(make, client, "JK2026001", type="overdue", event_id="o2", period=2)
    repaid2 = _loan(
        make,
        client,
        "JK2026001",
        type="repaid",
        external_id="HK-2",
        period=2,
        principal="1203.00",
        interest="472.00",
        penalty="3.20",
        paid_on="2026-05-25",
        channel="self",
    )
    settled = _loan(make, client, "JK2026001", type="settled", event_id="z", date="2026-06-01")

    assert [
        a.status_code for a in (signed, disbursed, repaid, replay, overdue, repaid2, settled)
    ] == [201, 201, 201, 200, 201, 201, 201]
    assert signed.json["status"] == "signed" and signed.json["status_name"] == "已签合同未放款"
    assert disbursed.json["status"] == "repaying" and disbursed.json["balance"] == "200000.00"
    assert repaid.json["balance"] == "198800.00"
    assert repaid.json["repayment"]["channel_name"] == "公积金冲还"
    assert repaid.json["repayment"]["due_date"] == "2026-04-20"
    assert replay.json["balance"] == "198800.00"
    assert overdue.json["status"] == "overdue"
    assert repaid2.json["status"] == "repaying" and repaid2.json["balance"] == "197597.00"
    assert repaid2.json["repayment"]["due_date"] == "2026-05-20"
    assert settled.json["status"] == "settled" and settled.json["settled_on"] == "2026-06-01"
    contract = session.scalars(select(LoanContract).filter_by(contract_no="JK2026001")).one()
    assert contract.member_id == member.id and contract.application_id == application.id
    assert session.scalars(select(LoanRate.annual_rate)).all() == [Decimal("2.8500")]
    assert _count(session, LoanRepayment) == 2
    names = [
        m["business_name"]
        for m in client.get("/api/v1/messages?limit=50", headers=login(member)).json["items"]
    ]
    assert names == [
        "贷款结清",
        "贷款还款",
        "贷款逾期提醒",
        "贷款还款",
        "贷款发放",
        "贷款合同签订",
        "贷款申请业务办理进度",
    ]


def test_repayment_refused_when_principal_exceeds_balance(make, client):
    contract = make.loan(make.member(), balance="1000.00")

    r = _loan(
        make,
        client,
        contract.contract_no,
        type="repaid",
        external_id="big",
        period=3,
        principal="1000.01",
        interest="1.00",
        paid_on="2026-03-20",
    )

    assert r.status_code == 422 and r.json["error_code"] == "loan.principal_exceeds_balance"
    assert _count(make.session, LoanRepayment) == 0 and _count(make.session, Message) == 0


def test_loan_event_refused_when_contract_unknown_or_state_wrong(make, client):
    contract = make.loan(make.member(), status="settled", balance="0.00")

    unknown = _loan(make, client, "JK-NONE", type="overdue", event_id="1")
    wrong = _loan(
        make,
        client,
        contract.contract_no,
        type="disbursed",
        event_id="2",
        amount="1.00",
        date="2026-01-01",
        first_due_date="2026-02-01",
        annual_rate="2.6",
    )
    missing = _loan(make, client, contract.contract_no, type="repaid", period=1)

    assert unknown.status_code == 404 and unknown.json["error_code"] == "loan.contract_not_found"
    assert wrong.status_code == 409 and wrong.json["error_code"] == "loan.invalid_transition"
    assert missing.status_code == 422 and {"external_id", "principal", "paid_on"} <= set(
        missing.json["errors"]
    )


def test_every_internal_write_is_audited_as_the_caller_when_accepted(make, client, session):
    member = make.member(balance="10.00")
    application = make.application(member)
    account = _account(session, member)
    _txn(make, client, account, external_id="a1", kind="deposit", amount="1.00")
    _event(make, client, application, event_id="e", type="node_done")

    actions = session.scalars(
        select(AuditEvent.action).where(AuditEvent.actor == "internal:core")
    ).all()

    assert sorted(actions) == ["internal.application_event", "internal.fund_transaction"]


def test_racing_twin_answers_as_replay_when_it_commits_first(make, client, runtime, session):
    from sqlalchemy.orm import Session

    member = make.member()
    payload = {
        "id_number": member.plain_id_number,
        "business_name": "通知",
        "content": "内容",
        "dedupe_key": "race-1",
    }
    twin_ids = []

    def twin_commits_first(sess, _ctx, _instances):
        # Another worker handling the same call commits between our check and our write.
        if twin_ids or not any(isinstance(o, Message) for o in sess.new):
            return
        with Session(runtime.engine) as other:
            twin = Message(
                member_id=member.id, business_name="通知", content="内容", dedupe_key="msg:race-1"
            )
            other.add(twin)
            other.commit()
            twin_ids.append(twin.id)

    event.listen(runtime.session_factory, "before_flush", twin_commits_first)
    try:
        r = make.signed(client, "POST", "/internal/v1/messages", payload)
    finally:
        event.remove(runtime.session_factory, "before_flush", twin_commits_first)

    assert r.status_code == 200, r.json
    assert r.json["id"] == twin_ids[0]
    assert _count(session, Message) == 1 and _count(session, PushDelivery) == 0


# --- POST /internal/v1/fund/transactions/batch ---------------------------------------------------


def _batch(make, client, entries):
    return make.signed(client, "POST", "/internal/v1/fund/transactions/batch", {"entries": entries})


def _interest(account, external_id, amount):
    return {
        "account_no": account.account_no,
        "external_id": external_id,
        "kind": "interest",
        "amount": amount,
        "txn_date": "2026-06-30",
        "summary": "2026年度结息",
    }


def test_batch_books_every_entry_once_with_exact_running_balances_when_replayed(
    make, client, session, login
):
    members = [make.member(balance="1000.00") for _ in range(3)]
    for member in members:
        _bind_wechat(session, member)
    accounts = [_account(session, m) for m in members]
    entries = [_interest(a, f"JX-{i}", "15.00") for i, a in enumerate(accounts)]
    # Two entries on one account: each locks it in turn, the second sees the first's balance.
    entries.append(_interest(accounts[0], "JX-extra", "0.35"))

    first = _batch(make, client, entries)
    again = _batch(make, client, entries)

    assert first.status_code == 200, first.json
    assert (first.json["created"], first.json["replayed"], first.json["refused"]) == (4, 0, 0)
    assert [r["transaction"]["balance_after"] for r in first.json["results"]] == [
        "1015.00",
        "1015.00",
        "1015.00",
        "1015.35",
    ]
    assert (again.json["created"], again.json["replayed"]) == (0, 4)
    assert [r["transaction"] for r in again.json["results"]] == [
        r["transaction"] for r in first.json["results"]
    ]
    assert _account(session, members[0]).balance == Decimal("1015.35")
    assert _count(session, FundTransaction) == 4
    assert _count(session, Message) == 4 and _count(session, PushDelivery) == 4
    inbox = client.get("/api/v1/messages", headers=login(members[1])).json["items"]
    assert len(inbox) == 1 and inbox[0]["business_name"] == "结息到账"


def test_batch_answers_each_refused_entry_and_books_the_others_when_some_are_bad(make, client):
    member = make.member(balance="10.00")
    account = _account(make.session, member)
    assert _batch(make, client, [_interest(account, "JX-1", "1.00")]).status_code == 200
    entries = [
        _interest(account, "JX-1", "2.00"),  # known external_id, other content
        {**_interest(account, "JX-2", "1.00"), "account_no": "999999999999"},
        _interest(account, "JX-3", "3.00"),
    ]
    r = _batch(make, client, entries)
    assert r.status_code == 200
    statuses = [(x["status"], x["error"] and x["error"]["error_code"]) for x in r.json["results"]]
    assert statuses == [
        ("refused", "idempotency.key_reused"),
        ("refused", "fund.account_not_found"),
        ("created", None),
    ]
    assert r.json["results"][2]["transaction"]["balance_after"] == "14.00"
    assert _account(make.session, member).balance == Decimal("14.00")


def test_batch_refused_whole_when_an_entry_is_malformed_or_batch_empty(make, client):
    member = make.member(balance="10.00")
    account = _account(make.session, member)
    bad = [_interest(account, "JX-1", "1.00"), _interest(account, "JX-2", "-1.00")]
    r = _batch(make, client, bad)
    assert r.status_code == 422 and r.json["error_code"]
    assert "entries" in r.json["errors"]
    assert _batch(make, client, []).status_code == 422
    assert _count(make.session, FundTransaction) == 0
