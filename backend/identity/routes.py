"""HTTP layer of the identity feature."""

from __future__ import annotations

from backend.api import Blueprint

blp = Blueprint(
    "identity", __name__, url_prefix="/api/v1", description="身份：注册、登录、会话与密码"
)
