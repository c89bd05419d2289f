"""HTTP layer of the channels feature."""

from __future__ import annotations

from backend.api import Blueprint

blp = Blueprint("channels", __name__, url_prefix="/api/v1", description="支付宝、微信登录与绑定")
