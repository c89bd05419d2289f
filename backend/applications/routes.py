"""HTTP layer of the applications feature."""

from __future__ import annotations

from backend.api import Blueprint

blp = Blueprint(
    "applications", __name__, url_prefix="/api/v1", description="我发起的：提取与贷款申请的办理情况"
)
