"""HTTP layer of the members feature."""

from __future__ import annotations

from backend.api import Blueprint

blp = Blueprint("members", __name__, url_prefix="/api/v1", description="个人基本信息与偏好")
