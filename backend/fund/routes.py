"""HTTP layer of the fund feature."""

from __future__ import annotations

from backend.api import Blueprint

blp = Blueprint(
    "fund", __name__, url_prefix="/api/v1", description="缴存支取信息与缴存证明、提取申请"
)
