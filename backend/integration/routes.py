"""HTTP layer of the integration feature."""

from __future__ import annotations

from backend.api import Blueprint

blp = Blueprint(
    "integration",
    __name__,
    url_prefix="/internal/v1",
    description="核心业务系统内部接口（签名认证）",
)
