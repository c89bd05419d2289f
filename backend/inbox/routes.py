"""HTTP layer of the inbox feature."""

from __future__ import annotations

from backend.api import Blueprint

blp = Blueprint(
    "inbox", __name__, url_prefix="/api/v1", description="个人任务管理：消息、待办、已阅"
)
