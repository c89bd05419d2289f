"""异地转移接续 (transfer between cities, issue 16): apply with the SMS step-up and an
Idempotency-Key, follow the nodes the core system moves, and the money arriving as transfer_in."""

import uuid

import pytest
from sqlalchemy import func, select

from backend.applications.models import Application
from backend.inbox.models import Message

pytestmark = pytest.mark.usefixtures("clock")

BASE = "/api/v1/transfers"
FORMER = "上海市住房公积金管理中心"


def body(**changes):
    base = {
        "direction": "in",
        "other_centre": FORMER,
        "other_account_no": "310100123456",
        "sms_code": "000000",
    }
    base.update(changes)
    return base


def apply(client, headers, payload, key=None):
    return client.post(
        BASE, json=payload, headers={**headers, "Idempotency-Key": key or uuid.uuid4().hex}
    )


def applied(client, make, login, member, **changes):
    headers = login(member)
    r = apply(client, headers, body(sms_code=make.transaction_code(member), **changes))
    assert r.status_code == 201, r.json
    return headers, r.json


def event(make, client, application_no, event_id, type_, **extra):
    return make.signed(
        client,
        "POST",
        f"/internal/v1/applications/{application_no}/events",
        {"event_id": event_id, "type": type_, **extra},
    )


def nodes(shown):
    return [(n["name"], n["state"]) for n in shown["nodes"]]


def test_transfer_in_runs_through_its_nodes_and_the_money_arrives(client, make, login, session):
    member = make.member(balance="1000.00")
    headers, transfer = applied(client, make, login, member)
    no = transfer["application_no"]
    assert transfer["kind"] == "transfer" and transfer["direction_name"] == "转入"
    assert transfer["details"]["from_centre"] == FORMER
    assert nodes(transfer) == [
        ("申请", "done"),
        ("转出地审核", "current"),
        ("资金划转", "pending"),
        ("转入确认", "pending"),
    ]

    reviewed = event(make, client, no, "t-1", "node_done", node="转出地审核", handler=FORMER)
    assert reviewed.status_code == 201, reviewed.json
    money = make.signed(
        client,
        "POST",
        "/internal/v1/fund/transactions",
        {
            "id_number": member.plain_id_number,
            "external_id": "zy-1",
            "kind": "transfer_in",
            "amount": "52345.67",
            "txn_date": "2026-11-26",
            "summary": "异地转入",
            "application_no": no,
        },
    )
    assert money.status_code == 201, money.json
    assert money.json["balance_after"] == "53345.67"

    (shown,) = client.get(BASE, headers=headers).json["items"]
    assert shown["status"] == "completed" and shown["amount"] == "52345.67"
    assert {state for _, state in nodes(shown)} == {"done"}
    in_my_applications = client.get("/api/v1/applications?kind=transfer", headers=headers).json
    assert [(a["application_no"], a["reason_name"]) for a in in_my_applications["items"]] == [
        (no, "转入")
    ]
    session.expire_all()
    texts = session.scalars(select(Message.content).where(Message.member_id == member.id)).all()
    assert any("转出地审核" in t for t in texts) and any("52345.67" in t for t in texts)


def test_money_must_match_the_transfers_direction(client, make, login):
    member = make.member(balance="1000.00")
    _, transfer = applied(client, make, login, member)
    wrong = make.signed(
        client,
        "POST",
        "/internal/v1/fund/transactions",
        {
            "id_number": member.plain_id_number,
            "external_id": "zy-2",
            "kind": "withdrawal",
            "amount": "-10.00",
            "txn_date": "2026-11-26",
            "application_no": transfer["application_no"],
        },
    )
    assert wrong.status_code == 422 and wrong.json["error_code"] == "fund.application_mismatch"


def test_former_centre_may_refuse_but_not_after_the_money_moved(client, make, login):
    member = make.member(balance="1000.00")
    _, first = applied(client, make, login, member)
    refused = event(make, client, first["application_no"], "t-1", "rejected", opinion="账号不符")
    assert refused.status_code == 201 and refused.json["status"] == "rejected"


def test_only_one_open_transfer_and_replays_follow_the_whole_request(client, make, login, session):
    member = make.member(balance="1000.00")
    headers = login(member)
    first = apply(client, headers, body(sms_code=make.transaction_code(member)), key="k-1")
    again = apply(client, headers, body(sms_code="123456"), key="k-1")
    other = apply(client, headers, body(other_account_no="310100999999"), key="k-1")
    second = apply(client, headers, body())
    assert first.status_code == again.status_code == 201 and again.json == first.json
    assert other.status_code == 409 and other.json["error_code"] == "idempotency.key_reused"
    assert second.status_code == 409
    assert second.json["error_code"] == "transfer.open_application_exists"
    session.expire_all()
    assert session.scalar(select(func.count()).select_from(Application)) == 1


@pytest.mark.parametrize(
    ("setup", "payload", "error_code", "status"),
    [
        ({"status": "frozen"}, {}, "transfer.account_frozen", 409),
        ({"status": "closed"}, {}, "transfer.account_closed", 409),
        ({}, {"direction": "out"}, "transfer.account_not_sealed", 409),
        (
            {"status": "sealed", "loan": True},
            {"direction": "out"},
            "transfer.loan_outstanding",
            409,
        ),
        ({}, {"other_centre": "示范市住房公积金管理中心"}, "transfer.same_centre", 422),
    ],
)
def test_refusals_name_the_rule(client, make, login, setup, payload, error_code, status):
    member = make.member(balance="1000.00", status=setup.get("status", "normal"))
    if setup.get("loan"):
        make.loan(member)
    r = apply(client, login(member), body(**payload))
    assert r.status_code == status and r.json["error_code"] == error_code
    assert r.json["message"]


def test_transfer_out_of_a_sealed_account_is_allowed(client, make, login):
    member = make.member(balance="1000.00", status="sealed")
    headers = login(member)
    eligibility = client.get(f"{BASE}/eligibility", headers=headers).json
    by_direction = {d["direction"]: d for d in eligibility["directions"]}
    assert by_direction["out"]["eligible"] and by_direction["in"]["eligible"]
    _, transfer = applied(client, make, login, member, direction="out", other_centre=FORMER)
    assert transfer["details"]["to_centre"] == FORMER


def test_bad_payload_is_422_with_chinese_messages(client, make, login):
    member = make.member()
    r = apply(client, login(member), body(direction="sideways", other_account_no="x"))
    assert r.status_code == 422
    assert {"direction", "other_account_no"} <= set(r.json["errors"])
