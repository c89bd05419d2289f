"""异地转移接续 rules (pure) and the transfer life cycle in the one transition table."""

from decimal import Decimal

import pytest

from backend.applications.rules import TransitionRefused, check_transition
from backend.transfers import rules
from backend.transfers.rules import TransferFacts

HERE = "示范市住房公积金管理中心"


def facts(**changes):
    base = dict(
        status="normal",
        balance=Decimal("1000.00"),
        repaying_loans=0,
        open_transfers=0,
        centre_name=HERE,
    )
    base.update(changes)
    return TransferFacts(**base)


def refused(direction, other="上海市住房公积金管理中心", **changes):
    refusal = rules.check_request(direction, other, facts(**changes))
    return refusal.error_code if refusal else None


@pytest.mark.parametrize(
    ("direction", "changes", "error_code"),
    [
        ("in", {}, None),
        ("in", {"status": "sealed"}, None),
        ("in", {"status": "frozen"}, "transfer.account_frozen"),
        ("in", {"status": "closed"}, "transfer.account_closed"),
        ("in", {"open_transfers": 1}, "transfer.open_application_exists"),
        ("out", {"status": "sealed"}, None),
        ("out", {}, "transfer.account_not_sealed"),
        ("out", {"status": "sealed", "repaying_loans": 1}, "transfer.loan_outstanding"),
        ("out", {"status": "sealed", "balance": Decimal("0.00")}, "transfer.nothing_to_transfer"),
        ("up", {}, "transfer.direction_unknown"),
    ],
)
def test_who_may_transfer(direction, changes, error_code):
    assert refused(direction, **changes) == error_code


def test_the_other_centre_must_be_another_one():
    assert refused("in", other=HERE) == "transfer.same_centre"


def test_ledger_kind_follows_the_direction():
    assert rules.ledger_kind("in") == "transfer_in" and rules.ledger_kind("out") == "transfer_out"


@pytest.mark.parametrize(
    ("status", "event", "allowed"),
    [
        ("processing", "node_done", True),
        ("processing", "completed", True),
        ("approved", "completed", True),
        ("processing", "rejected", True),
        ("approved", "rejected", False),
        ("approved", "cancelled", False),
        ("completed", "node_done", False),
    ],
)
def test_transfer_life_cycle(status, event, allowed):
    try:
        check_transition("transfer", status, event)
    except TransitionRefused:
        assert not allowed
    else:
        assert allowed
