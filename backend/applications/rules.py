"""How core-system events move an application (我发起的) along its nodes. Pure: no I/O."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

EVENT_TYPES = {
    "node_done": "环节办结",
    "node_current": "进入环节",
    "approved": "审批通过",
    "rejected": "审批未通过",
    "completed": "办结",
    "cancelled": "撤销",
}
TERMINAL_STATUSES = ("rejected", "completed", "cancelled")
# The reason codes of the kinds that have a fixed list, with their Chinese names (the application
# list shows them; a loan application's purpose is free text): withdrawals and transfers check
# their requests against these.
REASON_NAMES: dict[str, dict[str, str]] = {
    "withdrawal": {
        "rent": "租房",
        "purchase": "购房",
        "loan_repayment": "偿还贷款",
        "retirement": "离退休",
        "leaving": "离职/户口迁出",
    },
    "transfer": {"in": "转入", "out": "转出"},
}
# The life cycle, the one table every status change is checked against: event → the statuses it
# may leave, per kind. An application is submitted and reviewed (processing: its nodes move), then
# approved or rejected; it may be cancelled (撤销) until it is done. A loan application completes
# only when its contract is disbursed after approval (and signing: see ``backend.loans.rules``); a
# withdrawal completes when the core system pays it, which it only does once it has approved it,
# so the payment may arrive while the hall still shows it processing.
ALLOWED_FROM: dict[str, dict[str, tuple[str, ...]]] = {
    "withdrawal": {
        "node_done": ("processing", "approved"),
        "node_current": ("processing", "approved"),
        "approved": ("processing",),
        "rejected": ("processing", "approved"),
        "completed": ("processing", "approved"),
        "cancelled": ("processing", "approved"),
    },
    # A transfer between cities (转移接续): the former (转出地) centre reviews it, the funds move,
    # this centre confirms the arrival; the transfer_in ledger entry completes it. The former
    # centre may refuse until the money has moved.
    "transfer": {
        "node_done": ("processing", "approved"),
        "node_current": ("processing", "approved"),
        "approved": ("processing",),
        "rejected": ("processing",),
        "completed": ("processing", "approved"),
        "cancelled": ("processing",),
    },
    "loan": {
        "node_done": ("processing", "approved"),
        "node_current": ("processing", "approved"),
        "approved": ("processing",),
        "rejected": ("processing",),
        "completed": ("approved",),
        "cancelled": ("processing", "approved"),
    },
}
STATUS_NAMES = {
    "processing": "办理中",
    "approved": "已审批",
    "rejected": "未通过",
    "completed": "已办结",
    "cancelled": "已撤销",
}


class TransitionRefused(ValueError):
    """The event does not fit the application's state; ``code`` is the error slug's tail."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class Transition:
    status: str
    states: list[str]
    # Nodes whose opinion/handler/time the event sets: the one acted on and any closed with it.
    touched: list[int]
    acted: int | None


def current_index(states: Sequence[str]) -> int | None:
    for i, state in enumerate(states):
        if state == "current":
            return i
    return None


def _close(states: list[str], index: int) -> list[int]:
    """Node ``index`` done; when nothing is current any more the next pending node starts."""
    states[index] = "done"
    if current_index(states) is None:
        for j in range(index + 1, len(states)):
            if states[j] == "pending":
                states[j] = "current"
                break
    return [index]


def check_transition(kind: str, status: str, event: str) -> None:
    """Refuse ``event`` on an application of ``kind`` in ``status`` unless the life cycle allows
    it (``ALLOWED_FROM``)."""
    if event not in EVENT_TYPES:
        raise TransitionRefused("unknown_event", "未知的事件类型")
    if status in TERMINAL_STATUSES:
        raise TransitionRefused("closed", "该业务已办结，不能再变更")
    if status not in ALLOWED_FROM.get(kind, ALLOWED_FROM["withdrawal"])[event]:
        raise TransitionRefused(
            "invalid_transition",
            f"该业务当前状态为“{STATUS_NAMES.get(status, status)}”，不能办理“{EVENT_TYPES[event]}”",
        )


def transition(
    kind: str, status: str, states: Sequence[str], event: str, index: int | None
) -> Transition:
    """The application's status and node states after ``event`` on node ``index`` (``None``:
    the current node)."""
    check_transition(kind, status, event)
    new = list(states)
    target = index if index is not None else current_index(new)
    new_status = status
    touched: list[int] = []
    if event == "node_done":
        if target is None:
            raise TransitionRefused("no_current_node", "该业务没有正在办理的环节，请指明环节")
        touched = _close(new, target)
    elif event == "node_current":
        if index is None:
            raise TransitionRefused("node_required", "请指明进入的环节")
        for j, state in enumerate(new):
            if j < index and state == "current":
                new[j] = "done"
                touched.append(j)
            elif j > index and state == "current":
                new[j] = "pending"  # sent back (退回) to an earlier node
        new[index] = "current"
        touched.append(index)
    elif event == "approved":
        if target is not None:
            # Approval closes the node it names and any earlier one still open.
            touched = [j for j in range(target) if new[j] == "current"]
            for j in touched:
                new[j] = "done"
            touched += _close(new, target)
        new_status = "approved"
    elif event == "rejected":
        if target is not None:
            new[target] = "done"
            touched = [target]
        new = ["pending" if s == "current" else s for s in new]
        new_status = "rejected"
    elif event == "completed":
        touched = [j for j, s in enumerate(new) if s != "done"]
        new = ["done"] * len(new)
        new_status = "completed"
        if target is None and new:
            target = len(new) - 1
    else:  # cancelled: nothing more is done; the node it stopped at keeps its opinion
        new = ["pending" if s == "current" else s for s in new]
        new_status = "cancelled"
    return Transition(status=new_status, states=new, touched=touched, acted=target)


def event_content(
    kind_name: str, application_no: str, event: str, node: str | None, opinion: str | None
) -> str:
    """The member's inbox text for an event on their application."""
    head = f"您的{kind_name}业务（编号{application_no}）"
    if event == "node_done":
        text = f"{head}“{node}”环节已办理完成。"
    elif event == "node_current":
        text = f"{head}已进入“{node}”环节。"
    elif event == "approved":
        text = f"{head}已审批通过。"
    elif event == "rejected":
        text = f"{head}未通过审批。"
    elif event == "cancelled":
        text = f"{head}已撤销。"
    else:
        text = f"{head}已办结。"
    if opinion:
        text += f"审批意见：{opinion}"
    return text
