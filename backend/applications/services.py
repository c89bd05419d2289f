"""Creating applications (我发起的) with their ordered approval nodes."""

from __future__ import annotations

import datetime as dt
import secrets
from decimal import Decimal
from typing import Any

from sqlalchemy.orm import Session

from backend.applications.models import APPLICATION_KINDS, Application, ApplicationNode
from backend.applications.rules import (
    TERMINAL_STATUSES,
    TransitionRefused,
    event_content,
    transition,
)
from backend.clock import utcnow
from backend.errors import Conflict, ValidationFailed
from backend.events import MemberNotified, record

# The centre's node sequences; the core system moves applications along them.
WITHDRAWAL_NODES = ("受理", "审核", "审批", "支付")
LOAN_NODES = ("申请受理", "审批", "签订合同", "抵押登记", "放款")
# 异地转移接续: 申请 → 转出地审核 → 资金划转 → 转入确认 (the same four nodes either way).
TRANSFER_NODES = ("申请", "转出地审核", "资金划转", "转入确认")
NODES = {"withdrawal": WITHDRAWAL_NODES, "loan": LOAN_NODES, "transfer": TRANSFER_NODES}


def new_application_no(kind: str) -> str:
    prefix = {"withdrawal": "TQ", "loan": "DK", "transfer": "ZY"}.get(kind, "YW")
    return f"{prefix}{utcnow():%Y%m%d}{secrets.randbelow(10**8):08d}"


def create_application(
    session: Session,
    *,
    member_id: int,
    kind: str,
    reason: str,
    amount: Decimal | None,
    details: dict[str, Any] | None = None,
    application_no: str | None = None,
) -> Application:
    """Add an application (not committed): the first node is current (受理 happens on submit).
    ``application_no`` only for demo data, which must be the same on every run."""
    now = utcnow()
    application = Application(
        application_no=application_no or new_application_no(kind),
        member_id=member_id,
        kind=kind,
        reason=reason,
        amount=amount,
        status="processing",
        details=details or {},
        submitted_at=now,
    )
    application.nodes = [
        ApplicationNode(seq=i, name=name, state="current" if i == 0 else "pending")
        for i, name in enumerate(NODES[kind])
    ]
    session.add(application)
    session.flush()
    return application


def apply_event(
    session: Session,
    application: Application,
    *,
    event: str,
    node: str | None = None,
    opinion: str | None = None,
    handler: str | None = None,
    at: dt.datetime | None = None,
    dedupe_key: str | None = None,
    request_hash: str | None = None,
    notify: bool = True,
) -> None:
    """Move the application along its nodes on the core system's word and tell the member
    (not committed: the inbox posts the message at commit, see :class:`MemberNotified`). ``node``
    names the node acted on; omitted, the current one. ``notify=False`` when the caller writes
    its own message about the same change."""
    at = at or utcnow()
    nodes = list(application.nodes)
    index = None
    if node is not None:
        names = [n.name for n in nodes]
        if node not in names:
            raise ValidationFailed(
                "环节名称不存在",
                error_code="application.unknown_node",
                errors={"node": [f"应为以下之一：{'、'.join(names)}"]},
            )
        index = names.index(node)
    try:
        result = transition(
            application.kind, application.status, [n.state for n in nodes], event, index
        )
    except TransitionRefused as exc:
        raise Conflict(exc.message, error_code=f"application.{exc.code}") from exc
    for n, state in zip(nodes, result.states, strict=True):
        n.state = state
    for i in result.touched:
        nodes[i].acted_at = at
    if result.acted is not None:
        acted = nodes[result.acted]
        acted.acted_at = at
        if opinion is not None:
            acted.opinion = opinion
        if handler is not None:
            acted.handler = handler
    application.status = result.status
    if result.status in TERMINAL_STATUSES:
        application.completed_at = at
    application.updated_at = utcnow()
    if not notify:
        return
    kind_name = APPLICATION_KINDS.get(application.kind, application.kind)
    node_name = nodes[result.acted].name if result.acted is not None else None
    record(
        session,
        MemberNotified(
            member_id=application.member_id,
            business_name=f"{kind_name}业务办理进度",
            content=event_content(kind_name, application.application_no, event, node_name, opinion),
            business_type="application",
            application_id=application.id,
            dedupe_key=dedupe_key,
            request_hash=request_hash,
        ),
    )
