"""HTTP layer of the loans feature."""

from __future__ import annotations

from backend.api import Blueprint

blp = Blueprint(
    "loans",
    __name__,
    url_prefix="/api/v1",
    description="贷款：合同、进度、信息、还款明细与计划、计算器、申请",
)
