"""Shapes of 我发起的 (applications with their approval nodes)."""

from __future__ import annotations

from typing import Any

import marshmallow as ma

from backend.applications.models import APPLICATION_KINDS, APPLICATION_STATUS, NODE_STATES
from backend.applications.rules import REASON_NAMES
from backend.fields import LocalDateTime
from backend.pagination import PageArgsSchema


class ApplicationListArgsSchema(PageArgsSchema):
    kind = ma.fields.String(
        load_default=None,
        validate=ma.validate.OneOf(
            tuple(APPLICATION_KINDS), error="业务类型应为 withdrawal、loan 或 transfer"
        ),
        metadata={
            "description": "withdrawal = 提取, loan = 贷款申请, transfer = 转移接续; omitted: all"
        },
    )


class NodeSchema(ma.Schema):
    seq = ma.fields.Integer()
    name = ma.fields.String(metadata={"description": "环节名称"})
    state = ma.fields.String(metadata={"description": "done | current | pending"})
    state_name = ma.fields.Function(lambda n: NODE_STATES.get(n.state, n.state))
    opinion = ma.fields.String(allow_none=True, metadata={"description": "审批意见"})
    handler = ma.fields.String(allow_none=True, metadata={"description": "经办人/经办机构"})
    acted_at = LocalDateTime(allow_none=True, metadata={"description": "办理时间"})


def _reason_name(application: Any) -> str:
    """The reason's Chinese name: a withdrawal's reason, a transfer's direction (转入/转出); a loan
    application's purpose is already text."""
    names = REASON_NAMES.get(application.kind, {})
    return str(names.get(application.reason, application.reason))


def _current_node(application: object) -> str | None:
    for node in getattr(application, "nodes", []):
        if node.state == "current":
            return str(node.name)
    return None


class ApplicationSummarySchema(ma.Schema):
    id = ma.fields.Integer()
    application_no = ma.fields.String(metadata={"description": "业务编号"})
    kind = ma.fields.String(metadata={"description": "withdrawal | loan | transfer"})
    kind_name = ma.fields.Function(lambda a: APPLICATION_KINDS.get(a.kind, a.kind))
    reason = ma.fields.String(metadata={"description": "提取原因 / 贷款用途 / 转移方向 code"})
    reason_name = ma.fields.Function(_reason_name, metadata={"description": "its Chinese name"})
    amount = ma.fields.Decimal(as_string=True, places=2, allow_none=True)
    status = ma.fields.String(
        metadata={"description": "processing | approved | rejected | completed | cancelled"}
    )
    status_name = ma.fields.Function(lambda a: APPLICATION_STATUS.get(a.status, a.status))
    current_node = ma.fields.Function(_current_node, allow_none=True)
    submitted_at = LocalDateTime()
    completed_at = LocalDateTime(allow_none=True)


def _public_details(application: Any) -> dict[str, Any]:
    # Sealed values (``*_enc``: the full bank account the payment needs) stay in the database.
    return {k: v for k, v in (application.details or {}).items() if not k.endswith("_enc")}


class ApplicationSchema(ApplicationSummarySchema):
    nodes = ma.fields.List(ma.fields.Nested(NodeSchema))
    details = ma.fields.Function(
        _public_details,
        metadata={"type": "object", "description": "non-identity details of the request"},
    )


class ApplicationPageSchema(ma.Schema):
    items = ma.fields.List(ma.fields.Nested(ApplicationSummarySchema))
    next_cursor = ma.fields.String(allow_none=True)
