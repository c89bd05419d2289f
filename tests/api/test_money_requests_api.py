"""Money-moving member requests share one shape (``backend.stepup.confirm_once``): the
member's account row is locked once per request, whoever the caller is."""

import uuid

import pytest
from sqlalchemy import event
from sqlalchemy.orm import ORMExecuteState, Session

from backend.accounts.models import FundAccount

pytestmark = pytest.mark.usefixtures("clock")


@pytest.fixture
def account_locks():
    """How many SELECT … FOR UPDATE of a fund account the sessions ran."""
    taken: list[str] = []

    def count(state: ORMExecuteState) -> None:
        stmt = state.statement
        if not state.is_select or getattr(stmt, "_for_update_arg", None) is None:
            return
        if any(d.get("entity") is FundAccount for d in stmt.column_descriptions):
            taken.append(str(stmt))

    event.listen(Session, "do_orm_execute", count)
    yield taken
    event.remove(Session, "do_orm_execute", count)


REQUESTS = {
    "withdrawal": (
        "/api/v1/withdrawals",
        {
            "reason": "purchase",
            "amount": "5000.00",
            "bank_name": "中国建设银行示范市分行",
            "bank_account": "6227001234567890123",
            "document_no": "HT2026110500012",
        },
    ),
    "rent arrangement": (
        "/api/v1/withdrawals/rent-arrangements",
        {
            "monthly_amount": "1000.00",
            "bank_name": "中国建设银行示范市分行",
            "bank_account": "6227001234567890123",
        },
    ),
    "transfer": (
        "/api/v1/transfers",
        {
            "direction": "in",
            "other_centre": "上海市住房公积金管理中心",
            "other_account_no": "310100123456",
        },
    ),
}


@pytest.mark.parametrize("kind", sorted(REQUESTS))
def test_account_row_is_locked_once_when_a_money_moving_request_is_made(
    client, make, login, account_locks, kind
):
    member = make.member(balance="20000.00")
    path, payload = REQUESTS[kind]
    code = make.transaction_code(member)
    r = client.post(
        path,
        json={**payload, "sms_code": code},
        headers={**login(member), "Idempotency-Key": uuid.uuid4().hex},
    )
    assert r.status_code == 201, r.json
    assert len(account_locks) == 1, account_locks
