"""The error envelope: every error, ours or the framework's, leaves as

``{"code": 422, "status": "Unprocessable Entity", "message": "<中文>", "error_code": "<slug>", "errors": {…}}``.

Services raise :class:`AppError` subclasses; views never catch them; one handler renders them.
"""

from __future__ import annotations

import logging
import re
from http import HTTPStatus
from typing import Any

import marshmallow as ma

logger = logging.getLogger(__name__)


class AppError(Exception):
    """A failure the member (or caller) can act on. ``message`` is shown to people as is."""

    status_code: int = 400
    error_code: str = "request.invalid"
    message: str = "请求有误"

    def __init__(
        self,
        message: str | None = None,
        *,
        error_code: str | None = None,
        errors: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
        status_code: int | None = None,
        **extra: Any,
    ) -> None:
        self.message = message or self.message
        self.error_code = error_code or self.error_code
        self.errors = errors
        self.headers = headers or {}
        self.extra = extra
        if status_code is not None:
            self.status_code = status_code
        super().__init__(self.message)

    def to_payload(self) -> dict[str, Any]:
        payload = envelope(self.status_code, self.message, self.error_code, self.errors)
        payload.update(self.extra)
        return payload


class BadRequest(AppError):
    status_code = 400


class ValidationFailed(AppError):
    status_code = 422
    error_code = "request.validation_failed"
    message = "提交的信息有误，请检查后重试"


class Unauthorized(AppError):
    status_code = 401
    error_code = "auth.unauthorized"
    message = "请先登录"


class Forbidden(AppError):
    status_code = 403
    error_code = "auth.forbidden"
    message = "您无权进行此操作"


class NotFound(AppError):
    status_code = 404
    error_code = "resource.not_found"
    message = "未找到相关信息"


class Conflict(AppError):
    status_code = 409
    error_code = "resource.conflict"
    message = "请求与当前状态冲突"


class TooManyRequests(AppError):
    status_code = 429
    error_code = "request.too_many"
    message = "操作过于频繁，请稍后再试"


class ServiceUnavailable(AppError):
    status_code = 503
    error_code = "service.unavailable"
    message = "服务暂不可用，请稍后再试"


# Chinese texts for errors raised by the framework itself (routing, method, body parsing).
HTTP_MESSAGES: dict[int, tuple[str, str]] = {
    400: ("request.bad", "请求格式有误"),
    401: ("auth.unauthorized", "请先登录"),
    403: ("auth.forbidden", "您无权进行此操作"),
    404: ("resource.not_found", "未找到相关信息"),
    405: ("request.method_not_allowed", "不支持该请求方式"),
    406: ("request.not_acceptable", "不支持请求的响应格式"),
    409: ("resource.conflict", "请求与当前状态冲突"),
    413: ("request.too_large", "请求内容过大"),
    414: ("request.uri_too_long", "请求地址过长"),
    415: ("request.unsupported_media_type", "请以 JSON 格式提交"),
    422: ("request.validation_failed", "提交的信息有误，请检查后重试"),
    429: ("request.too_many", "操作过于频繁，请稍后再试"),
    431: ("request.headers_too_large", "请求头过大"),
    500: ("server.error", "系统繁忙，请稍后再试"),
    501: ("request.not_implemented", "不支持该请求"),
    503: ("service.unavailable", "服务暂不可用，请稍后再试"),
}


# marshmallow/webargs default messages → Chinese (our own validators already speak Chinese).
_ZH_FIELD_MESSAGES = {
    "Missing data for required field.": "此项为必填项",
    "Field may not be null.": "此项不能为空",
    "Unknown field.": "不支持的字段",
    "Not a valid string.": "应为文本",
    "Not a valid boolean.": "应为是或否",
    "Not a valid integer.": "应为整数",
    "Not a valid number.": "应为数字",
    "Not a valid decimal.": "应为金额数字",
    "Not a valid date.": "日期格式应为 YYYY-MM-DD",
    "Not a valid datetime.": "时间格式应为 ISO 8601",
    "Not a valid list.": "应为列表",
    "Not a valid mapping type.": "应为 JSON 对象",
    "Invalid input type.": "请以 JSON 对象提交",
    "Invalid value.": "取值无效",
    "Special numeric values (nan or infinity) are not permitted.": "应为有效数字",
}
_HAS_CJK = re.compile(r"[\u4e00-\u9fff]")


def translate_field_errors(messages: Any) -> Any:
    """Field errors with every English library message replaced by its Chinese text."""
    if isinstance(messages, dict):
        return {key: translate_field_errors(value) for key, value in messages.items()}
    if isinstance(messages, list):
        return [translate_field_errors(m) for m in messages]
    if isinstance(messages, str) and not _HAS_CJK.search(messages):
        if messages.startswith("Must be one of"):
            return "取值不在允许范围内"
        return _ZH_FIELD_MESSAGES.get(messages, "格式不正确")
    return messages


def envelope(
    code: int, message: str, error_code: str, errors: dict[str, Any] | None = None
) -> dict[str, Any]:
    try:
        status = HTTPStatus(code).phrase
    except ValueError:
        status = "Error"
    payload: dict[str, Any] = {
        "code": code,
        "status": status,
        "message": message,
        "error_code": error_code,
    }
    if errors:
        payload["errors"] = errors
    return payload


def http_envelope(code: int, errors: dict[str, Any] | None = None) -> dict[str, Any]:
    error_code, message = HTTP_MESSAGES.get(code, ("request.error", "请求未能完成"))
    return envelope(code, message, error_code, errors)


class ErrorSchema(ma.Schema):
    """The error envelope (documentation only: the handler builds the payload). An error may
    add fields of its own (``AppError(**extra)``, e.g. ``retry_after``), so more are allowed."""

    class Meta:
        unknown = ma.INCLUDE

    code = ma.fields.Integer(required=True, metadata={"description": "HTTP status code"})
    status = ma.fields.String(required=True, metadata={"description": "HTTP status phrase"})
    message = ma.fields.String(
        required=True, metadata={"description": "Message a member can read (Chinese)"}
    )
    error_code = ma.fields.String(
        required=True, metadata={"description": "Stable machine-readable error slug"}
    )
    errors = ma.fields.Dict(metadata={"description": "Field errors, when there are any"})
