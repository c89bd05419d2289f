"""Creating applications (我发起的) with their ordered approval nodes."""

from __future__ import annotations

import secrets
from decimal import Decimal
from typing import Any

from sqlalchemy.orm import Session

from backend.applications.models import Application, ApplicationNode
from backend.clock import utcnow

# The centre's node sequences; the core system moves applications along them.
WITHDRAWAL_NODES = ("受理", "审核", "审批", "支付")
LOAN_NODES = ("申请受理", "审批", "签订合同", "抵押登记", "放款")
NODES = {"withdrawal": WITHDRAWAL_NODES, "loan": LOAN_NODES}


def new_application_no(kind: str) -> str:
    prefix = {"withdrawal": "TQ", "loan": "DK"}.get(kind, "YW")
    return f"{prefix}{utcnow():%Y%m%d}{secrets.randbelow(10**8):08d}"


def create_application(
    session: Session,
    *,
    member_id: int,
    kind: str,
    reason: str,
    amount: Decimal | None,
    details: dict[str, Any] | None = None,
) -> Application:
    """Add an application (not committed): the first node is current (受理 happens on submit)."""
    now = utcnow()
    application = Application(
        application_no=new_application_no(kind),
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
