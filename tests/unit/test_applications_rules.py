"""How core-system events move an application's nodes and status (pure rules)."""

import pytest

from backend.applications.rules import TransitionRefused, event_content, transition

START = ["current", "pending", "pending", "pending"]


def test_node_done_starts_next_node_when_current_closes():
    t = transition("withdrawal", "processing", START, "node_done", None)
    assert t.states == ["done", "current", "pending", "pending"]
    assert t.acted == 0 and t.status == "processing"


def test_node_current_sends_back_when_earlier_node_named():
    t = transition(
        "withdrawal", "processing", ["done", "done", "current", "pending"], "node_current", 1
    )
    assert t.states == ["done", "current", "pending", "pending"]


def test_node_current_closes_earlier_current_when_later_node_named():
    t = transition("withdrawal", "processing", START, "node_current", 2)
    assert t.states == ["done", "pending", "current", "pending"]
    assert t.touched == [0, 2]


def test_completed_closes_every_node_when_application_finishes():
    t = transition("withdrawal", "approved", ["done", "done", "done", "current"], "completed", None)
    assert t.states == ["done"] * 4 and t.status == "completed" and t.acted == 3


def test_rejected_leaves_nothing_current_when_core_rejects():
    t = transition(
        "withdrawal", "processing", ["done", "current", "pending", "pending"], "rejected", None
    )
    assert t.states == ["done", "done", "pending", "pending"] and t.status == "rejected"


@pytest.mark.parametrize("status", ["rejected", "completed", "cancelled"])
def test_any_event_refused_when_application_closed(status):
    with pytest.raises(TransitionRefused) as exc:
        transition("withdrawal", status, ["done"] * 4, "node_done", None)
    assert exc.value.code == "closed"


def test_node_done_refused_when_nothing_is_current():
    with pytest.raises(TransitionRefused) as exc:
        transition("withdrawal", "approved", ["done", "done"], "node_done", None)
    assert exc.value.code == "no_current_node"


def test_content_names_the_node_and_opinion_when_node_done():
    text = event_content("提取", "TQ1", "node_done", "审核", "材料齐全")
    assert text == "您的提取业务（编号TQ1）“审核”环节已办理完成。审批意见：材料齐全"


def test_approval_closes_earlier_open_nodes_when_it_names_a_later_one():
    t = transition("loan", "processing", ["current", "pending", "pending"], "approved", 1)
    assert t.status == "approved" and t.states == ["done", "done", "current"]
    assert sorted(t.touched) == [0, 1]


@pytest.mark.parametrize(
    ("kind", "status", "event"),
    [
        ("loan", "processing", "completed"),  # a loan completes only once approved (disbursal)
        ("loan", "approved", "rejected"),
        ("loan", "approved", "approved"),
        ("withdrawal", "approved", "approved"),
    ],
)
def test_event_is_refused_when_the_life_cycle_does_not_allow_it(kind, status, event):
    with pytest.raises(TransitionRefused) as caught:
        transition(kind, status, ["done", "current"], event, None)
    assert caught.value.code == "invalid_transition"


def test_cancellation_stops_the_current_node_when_still_open():
    t = transition("withdrawal", "approved", ["done", "current", "pending"], "cancelled", None)
    assert t.status == "cancelled" and t.states == ["done", "pending", "pending"]
