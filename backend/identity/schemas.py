"""Request and response shapes of the identity endpoints.

Field errors reach members in Chinese: the API's 422 handler translates marshmallow's defaults.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import marshmallow as ma
from marshmallow import fields, validate

from backend.identity.passwords import password_meets_policy
from backend.pii import is_valid_id_number, is_valid_phone

if TYPE_CHECKING:
    from backend.identity.sessions import SessionStarted

PASSWORD_POLICY = "登录密码为6-18位数字和字母组合"  # noqa: S105 - the policy text, not a password


class _Check(validate.Validator):
    """A predicate from ``backend.pii``/``passwords`` as a validator with a Chinese message."""

    def __init__(self, predicate: Any, message: str) -> None:
        self.predicate = predicate
        self.error: str = message

    def __call__(self, value: Any) -> Any:
        if not self.predicate(value):
            raise ma.ValidationError(self.error)
        return value


def IdNumber(**kwargs: Any) -> fields.String:  # noqa: N802 - reads as a field type
    return fields.String(
        required=True,
        validate=_Check(is_valid_id_number, "证件号码不正确，请核对"),
        metadata={
            "description": "18 位居民身份证号码（GB 11643 校验）",
            "example": "11010519900517001X",
        },
        **kwargs,
    )


def Phone(**kwargs: Any) -> fields.String:  # noqa: N802
    return fields.String(
        required=True,
        validate=_Check(is_valid_phone, "手机号码格式不正确"),
        metadata={"description": "11 位手机号码"},
        **kwargs,
    )


def Password(**kwargs: Any) -> fields.String:  # noqa: N802
    return fields.String(
        required=True,
        load_only=True,
        validate=_Check(password_meets_policy, PASSWORD_POLICY),
        metadata={"description": PASSWORD_POLICY},
        **kwargs,
    )


def SmsCode() -> fields.String:  # noqa: N802
    return fields.String(
        required=True,
        validate=validate.Regexp(r"^\d{6}$", error="请输入 6 位短信验证码"),
        metadata={"description": "6 位短信验证码"},
    )


def _text(max_length: int, message: str = "此项为必填项") -> fields.String:
    return fields.String(
        required=True,
        validate=validate.Length(min=1, max=max_length, error=message),
        error_messages={"required": message},
    )


# --- captcha and SMS -----------------------------------------------------------------------


class CaptchaSchema(ma.Schema):
    captcha_id = fields.String(required=True)
    image = fields.String(
        required=True, metadata={"description": "data:image/png;base64,… (4 个字符，不区分大小写)"}
    )
    expires_in = fields.Integer(required=True, metadata={"description": "seconds"})


class CaptchaAnswerSchema(ma.Schema):
    captcha_id = _text(64, "请先获取图形验证码")
    captcha_code = _text(8, "请输入图形验证码")


class SmsCodeRequestSchema(CaptchaAnswerSchema):
    phone = Phone()
    scene = fields.String(
        required=True, validate=validate.OneOf(["register"], error="不支持的验证码用途")
    )


class CodeSentSchema(ma.Schema):
    resend_after = fields.Integer(
        required=True, metadata={"description": "seconds before a resend"}
    )
    expires_in = fields.Integer(required=True, metadata={"description": "seconds"})


class MaskedCodeSentSchema(CodeSentSchema):
    masked_phone = fields.String(required=True, metadata={"example": "138****5678"})


# --- registration, login, sessions ---------------------------------------------------------


class RegistrationSchema(ma.Schema):
    id_number = IdNumber()
    name = _text(50, "请输入姓名")
    phone = Phone()
    sms_code = SmsCode()
    password = Password()
    agree_terms = fields.Boolean(
        required=True,
        validate=validate.Equal(True, error="请阅读并同意《网上服务条款》"),
        metadata={"description": "已阅读并同意《网上服务条款》"},
    )


class NoticeSchema(ma.Schema):
    message = fields.String(required=True)


class LoginSchema(CaptchaAnswerSchema):
    username = _text(32, "请输入身份证号或手机号")
    password = fields.String(
        required=True, load_only=True, validate=validate.Length(min=1, max=64, error="请输入密码")
    )


class MemberBriefSchema(ma.Schema):
    id = fields.Integer(required=True)
    name = fields.String(required=True)
    masked_id_number = fields.String(attribute="id_number_masked", required=True)
    masked_phone = fields.String(attribute="phone_masked", allow_none=True)


class SessionSchema(ma.Schema):
    access_token = fields.String(required=True)
    refresh_token = fields.String(required=True)
    token_type = fields.String(required=True, metadata={"example": "Bearer"})
    expires_in = fields.Integer(
        required=True, metadata={"description": "access token idle timeout, seconds"}
    )
    member = fields.Nested(MemberBriefSchema, required=True)


class RefreshSchema(ma.Schema):
    refresh_token = _text(128, "缺少刷新令牌")


# --- passwords ---------------------------------------------------------------------------


class ResetStartSchema(CaptchaAnswerSchema):
    name = _text(50, "请输入姓名")
    id_number = IdNumber()


class ResetStartedSchema(ma.Schema):
    reset_id = fields.String(required=True)
    masked_phone = fields.String(required=True, metadata={"example": "138****5678"})
    expires_in = fields.Integer(required=True, metadata={"description": "seconds"})


class SmsCodeSchema(ma.Schema):
    sms_code = SmsCode()


class ResetVerifiedSchema(ma.Schema):
    verified = fields.Boolean(required=True)


class NewPasswordSchema(ma.Schema):
    new_password = Password()


class ChangePasswordSchema(NewPasswordSchema):
    old_password = fields.String(
        required=True, load_only=True, validate=validate.Length(min=1, max=64, error="请输入原密码")
    )


def session_body(started: SessionStarted) -> dict[str, Any]:
    """The answer of every login and refresh (SessionSchema's shape)."""
    pair = started.tokens
    return {
        "access_token": pair.access_token,
        "refresh_token": pair.refresh_token,
        "token_type": "Bearer",
        "expires_in": pair.expires_in,
        "member": started.member,
    }
