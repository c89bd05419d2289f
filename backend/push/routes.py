"""HTTP layer of the push feature."""

from __future__ import annotations

from backend.api import Blueprint

blp = Blueprint("push", __name__, url_prefix="/api/v1", description="订阅消息授权")
