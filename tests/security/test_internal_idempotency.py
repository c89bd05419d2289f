"""Exact idempotency on the signed internal API: a key (``dedupe_key``, ``external_id``,
``event_id``) replayed with the whole request unchanged answers 200 with the first answer; the same
key with anything else (another member, account, date, content, contract) is a 409
``idempotency.key_reused`` and writes nothing."""

import threading
from decimal import Decimal

import pytest
from sqlalchemy import event, func, select

from backend.accounts.models import FundAccount, FundTransaction
from backend.inbox.models import Message
from backend.loans.models import LoanRepayment
from tests.security.internal import message_payload

REUSED = "idempotency.key_reused"


def _count(session, model, *where):
    session.expire_all()
    return session.scalar(select(func.count()).select_from(model).where(*where))


def _account(session, member):
    session.expire_all()
    return session.scalars(select(FundAccount).filter_by(member_id=member.id)).one()


def test_message_refused_409_when_dedupe_key_reused_for_another_member(make, client, session):
    first_member, second_member = make.member(), make.member()

    first = make.signed(client, "POST", "/internal/v1/messages", message_payload(first_member))
    second = make.signed(client, "POST", "/internal/v1/messages", message_payload(second_member))

    assert first.status_code == 201
    assert second.status_code == 409, second.json
    assert second.json["error_code"] == REUSED and second.json["code"] == 409
    assert second.json["message"]
    assert _count(session, Message, Message.member_id == second_member.id) == 0


@pytest.mark.parametrize(
    "change",
    [
        {"content": "您的缴存基数已调整为 9500.00 元。"},
        {"business_name": "缴存比例调整"},
        {"kind": "todo"},
        {"sent_at": "2026-11-20T09:00:00+08:00"},
    ],
)
def test_message_refused_409_when_dedupe_key_reused_with_other_content(
    make, client, session, change
):
    member = make.member()

    first = make.signed(client, "POST", "/internal/v1/messages", message_payload(member))
    second = make.signed(client, "POST", "/internal/v1/messages", message_payload(member, **change))

    assert (first.status_code, second.status_code) == (201, 409)
    assert second.json["error_code"] == REUSED
    assert _count(session, Message) == 1


def test_message_replay_answers_200_when_the_same_request_is_spelt_differently(make, client):
    member = make.member()
    first = make.signed(
        client,
        "POST",
        "/internal/v1/messages",
        message_payload(member, sent_at="2026-11-20T09:00:00"),
    )
    # the defaults written out, the same instant with its offset, the ID number's x in lower case
    same = message_payload(
        member,
        kind="message",
        sent_at="2026-11-20T01:00:00+00:00",
        id_number=member.plain_id_number.lower(),
    )

    again = make.signed(client, "POST", "/internal/v1/messages", same)

    assert (first.status_code, again.status_code) == (201, 200), again.json
    assert again.json == first.json


def _txn(make, client, account, **payload):
    body = {
        "account_no": account.account_no,
        "external_id": "HJ-1",
        "kind": "deposit",
        "amount": "1920.00",
        "txn_date": "2026-03-10",
        **payload,
    }
    return make.signed(client, "POST", "/internal/v1/fund/transactions", body)


def test_entry_refused_409_when_external_id_reused_for_another_account(make, client, session):
    first_account = _account(session, make.member(balance="100.00"))
    second_member = make.member(balance="100.00")
    second_account = _account(session, second_member)

    first = _txn(make, client, first_account)
    second = _txn(make, client, second_account)

    assert first.status_code == 201
    assert second.status_code == 409, second.json
    assert second.json["error_code"] == REUSED
    assert _account(session, second_member).balance == Decimal("100.00")


@pytest.mark.parametrize(
    "change",
    [
        {"txn_date": "2026-03-11"},
        {"summary": "补记"},
        {"period_month": "2026-02"},
        {"amount": "1920.01"},
    ],
)
def test_entry_refused_409_when_external_id_reused_with_other_content(
    make, client, session, change
):
    member = make.member(balance="100.00")
    account = _account(session, member)

    first = _txn(make, client, account)
    second = _txn(make, client, account, **change)

    assert (first.status_code, second.status_code) == (201, 409)
    assert second.json["error_code"] == REUSED
    assert _count(session, FundTransaction) == 1
    assert _account(session, member).balance == Decimal("2020.00")


def test_entry_replay_answers_200_with_first_entry_when_the_request_is_the_same(
    make, client, session
):
    account = _account(session, make.member(balance="100.00"))

    first = _txn(make, client, account, amount="1920.00")
    again = _txn(make, client, account, amount="1920.0", summary="")

    assert (first.status_code, again.status_code) == (201, 200), again.json
    assert again.json == first.json


def _event(make, client, application, **payload):
    path = f"/internal/v1/applications/{application.application_no}/events"
    return make.signed(client, "POST", path, payload)


def test_application_event_refused_409_when_event_id_reused_with_other_content(make, client):
    application = make.application(make.member())

    first = _event(make, client, application, event_id="e-1", type="node_done", opinion="同意")
    other = _event(make, client, application, event_id="e-1", type="node_done", opinion="退回")
    same = _event(make, client, application, event_id="e-1", type="node_done", opinion="同意")

    assert (first.status_code, other.status_code, same.status_code) == (201, 409, 200)
    assert other.json["error_code"] == REUSED
    assert [n["opinion"] for n in same.json["nodes"]][0] == "同意"


def _loan(make, client, contract_no, **payload):
    return make.signed(client, "POST", f"/internal/v1/loans/{contract_no}/events", payload)


REPAID = {
    "type": "repaid",
    "external_id": "HK-1",
    "period": 1,
    "principal": "1200.00",
    "interest": "475.00",
    "paid_on": "2026-04-20",
}


@pytest.mark.parametrize(
    "change", [{"interest": "476.00"}, {"paid_on": "2026-04-21"}, {"channel": "self"}]
)
def test_repayment_refused_409_when_external_id_reused_with_other_content(
    make, client, session, change
):
    contract = make.loan(make.member(), balance="10000.00")

    first = _loan(make, client, contract.contract_no, **REPAID)
    second = _loan(make, client, contract.contract_no, **{**REPAID, **change})

    assert (first.status_code, second.status_code) == (201, 409), second.json
    assert second.json["error_code"] == REUSED
    assert _count(session, LoanRepayment) == 1


def test_repayment_refused_409_when_external_id_reused_on_another_contract(make, client, session):
    contract = make.loan(make.member(), balance="10000.00")
    other = make.loan(make.member(), balance="10000.00")

    first = _loan(make, client, contract.contract_no, **REPAID)
    second = _loan(make, client, other.contract_no, **REPAID)

    assert (first.status_code, second.status_code) == (201, 409), second.json
    assert second.json["error_code"] == REUSED


def test_loan_event_refused_409_when_event_id_reused_with_other_content(make, client):
    contract = make.loan(make.member(), balance="10000.00")

    first = _loan(make, client, contract.contract_no, type="overdue", event_id="o-1", period=2)
    other = _loan(make, client, contract.contract_no, type="overdue", event_id="o-1", period=3)
    same = _loan(make, client, contract.contract_no, type="overdue", event_id="o-1", period=2)

    assert (first.status_code, other.status_code, same.status_code) == (201, 409, 200)
    assert other.json["error_code"] == REUSED


def test_racing_twin_with_other_content_answers_409_when_it_commits_first(
    make, app, client, runtime, session
):
    """The twin commits between our look-up and our write: the unique key refuses ours, and the
    winner's fingerprint decides (another member's message: 409, not the winner's body)."""
    first_member, second_member = make.member(), make.member()
    first_payload = message_payload(first_member)
    started, twins = [], []

    def twin_commits_first(sess, _ctx, _instances):
        # Another worker handling the first member's call commits right before our write.
        if started or not any(isinstance(o, Message) for o in sess.new):
            return
        started.append(sess)
        # (In a thread of its own: a request nested in this thread would share our session.)
        twin = threading.Thread(
            target=lambda: twins.append(
                make.signed(app.test_client(), "POST", "/internal/v1/messages", first_payload)
            )
        )
        twin.start()
        twin.join()

    event.listen(runtime.session_factory, "before_flush", twin_commits_first)
    try:
        loser = make.signed(client, "POST", "/internal/v1/messages", message_payload(second_member))
    finally:
        event.remove(runtime.session_factory, "before_flush", twin_commits_first)

    assert twins[0].status_code == 201
    assert loser.status_code == 409, loser.json
    assert loser.json["error_code"] == REUSED
    assert _count(session, Message, Message.member_id == second_member.id) == 0
