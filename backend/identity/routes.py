"""HTTP layer of the identity feature: captcha, SMS codes, registration, sessions, passwords."""

from __future__ import annotations

from typing import Any

from flask.views import MethodView

from backend.api import Blueprint, db, runtime
from backend.auth import current_family, current_member, member_view, origin
from backend.identity import common, password_reset, registration, sessions
from backend.identity.schemas import (
    CaptchaSchema,
    ChangePasswordSchema,
    CodeSentSchema,
    LoginSchema,
    MaskedCodeSentSchema,
    NewPasswordSchema,
    NoticeSchema,
    RefreshSchema,
    RegistrationSchema,
    ResetStartedSchema,
    ResetStartSchema,
    ResetVerifiedSchema,
    SessionSchema,
    SmsCodeRequestSchema,
    SmsCodeSchema,
    session_body,
)
from backend.identity.smscodes import CodeSent
from backend.identity.stepup import send_transaction_code

blp = Blueprint(
    "identity", __name__, url_prefix="/api/v1", description="身份：注册、登录、会话与密码"
)

INVALID = "Invalid input (field errors in `errors`), wrong or expired captcha or SMS code"
THROTTLED = "Too many attempts; `Retry-After` says when to try again"
QUOTA = (
    "Resend too soon (`sms.resend_too_soon`) or daily quota used (`sms.daily_quota`, by the "
    "Beijing calendar day); `Retry-After` says when to try again"
)


def _code_sent_to(sent: CodeSent, masked_phone: str | None) -> dict[str, Any]:
    """A code sent to the reserved phone: when to resend, how long it lasts, where it went."""
    return {
        "resend_after": sent.resend_after,
        "expires_in": sent.expires_in,
        "masked_phone": masked_phone,
    }


@blp.route("/captchas")
class Captchas(MethodView):
    @blp.response(201, CaptchaSchema)
    @blp.alt_response(429, description=THROTTLED)
    def post(self) -> Any:
        """New image captcha

        Four characters, case-insensitive, single use (a wrong answer spends it too: fetch a new
        one), valid for `expires_in` seconds."""
        return common.new_captcha(runtime(), origin())


@blp.route("/sms-codes")
class SmsCodes(MethodView):
    @blp.arguments(SmsCodeRequestSchema)
    @blp.response(202, CodeSentSchema)
    @blp.alt_response(422, description=INVALID)
    @blp.alt_response(429, description=QUOTA)
    def post(self, body: dict[str, Any]) -> Any:
        """Send a registration SMS code

        The image captcha must be answered first. Codes last 5 minutes; a resend needs 60 s."""
        del body["scene"]  # "register" is the only scene open without a login
        return registration.send_register_code(runtime(), origin=origin(), **body)


@blp.route("/sms-codes/transaction")
class TransactionCodes(MethodView):
    @member_view(blp)
    @blp.response(202, MaskedCodeSentSchema)
    @blp.alt_response(403, description="No reserved phone at the centre")
    @blp.alt_response(429, description=QUOTA)
    def post(self) -> Any:
        """Send a step-up code to the reserved phone

        Withdrawals and loan applications require it as `sms_code`."""
        member = current_member()
        sent = send_transaction_code(runtime(), member, ip=origin().ip)
        return _code_sent_to(sent, member.phone_masked)


@blp.route("/registrations")
class Registrations(MethodView):
    @blp.arguments(RegistrationSchema)
    @blp.response(201, NoticeSchema)
    @blp.alt_response(
        422,
        description=INVALID + "; any refusal of a valid code's holder (`register.refused`: one "
        "answer whatever the cause, the member is told the reason by SMS)",
    )
    def post(self, body: dict[str, Any]) -> Any:
        """Register for the web hall

        Answers `{"message": "注册成功"}`; the member then logs in with ID number or phone.
        Unknown person, name or phone not the centre's, already registered, access disabled or
        no reserved phone all answer `register.refused` after the same work, so the answer never
        tells who is a member; the reserved phone receives the real reason."""
        del body["agree_terms"]  # the schema accepts nothing but true
        registration.register(runtime(), db(), origin=origin(), **body)
        return {"message": "注册成功"}


@blp.route("/sessions")
class Sessions(MethodView):
    @blp.arguments(LoginSchema)
    @blp.response(201, SessionSchema)
    @blp.alt_response(
        401,
        description="Wrong user name or password, or online access disabled (one answer for all; "
        "a disabled member is told by SMS)",
    )
    @blp.alt_response(
        403,
        description="Too many wrong passwords for this name (`auth.account_locked`, with "
        "`locked_until` and `Retry-After`): 5 from one address lock that address out for 15 "
        "minutes, 50 from all addresses in 24 hours pause the name (the member is told by SMS; "
        "a password reset lifts it). Names nobody holds behave the same.",
    )
    @blp.alt_response(422, description=INVALID)
    @blp.alt_response(429, description=THROTTLED)
    def post(self, body: dict[str, Any]) -> Any:
        """Log in with ID number or phone and password"""
        return session_body(sessions.login(runtime(), db(), origin=origin(), **body))


@blp.route("/sessions/refresh")
class SessionRefresh(MethodView):
    @blp.arguments(RefreshSchema)
    @blp.response(201, SessionSchema)
    @blp.alt_response(
        401,
        description="Unknown or expired refresh token; a reused one (`auth.refresh_reused`) "
        "also ends the whole session",
    )
    def post(self, body: dict[str, Any]) -> Any:
        """Exchange a refresh token for a new token pair

        Refresh tokens are single use: each answer carries the next one."""
        return session_body(sessions.refresh(runtime(), db(), origin=origin(), **body))


@blp.route("/sessions/current")
class CurrentSession(MethodView):
    @member_view(blp)
    @blp.response(204)
    def delete(self) -> None:
        """Log out (退出系统)"""
        sessions.logout(
            runtime(), db(), member=current_member(), family=current_family(), origin=origin()
        )


@blp.route("/me/password")
class MyPassword(MethodView):
    @member_view(blp)
    @blp.arguments(ChangePasswordSchema)
    @blp.response(204)
    @blp.alt_response(
        422,
        description="Old password wrong, new one against the policy or equal to the old one",
    )
    def put(self, body: dict[str, Any]) -> None:
        """Change the password (修改密码)

        Every other session of the member ends; this one stays."""
        member, family = current_member(), current_family()
        password_reset.change_password(
            runtime(), db(), member=member, family=family, origin=origin(), **body
        )


RESET_GONE = "Unknown or expired reset (`reset.expired`): start again"
RESET_ORDER = "A step before this one is not done (`reset.step_skipped`)"


@blp.route("/password-resets")
class PasswordResets(MethodView):
    @blp.arguments(ResetStartSchema)
    @blp.response(201, ResetStartedSchema)
    @blp.alt_response(
        422,
        description=INVALID + "; name and ID number do not match, or no reserved phone "
        "(`reset.identity_mismatch`, one answer)",
    )
    def post(self, body: dict[str, Any]) -> Any:
        """Forgot password, step 1: verify name and ID number (信息验证)

        Answers the reserved phone, masked, and the `reset_id` of the next steps, whether or not
        the member is registered or may use the hall: the answer never tells. A member who may
        not reset receives the reason by SMS at step 2 instead of a code."""
        return password_reset.start_reset(runtime(), db(), origin=origin(), **body)


@blp.route("/password-resets/<reset_id>/sms-codes")
class PasswordResetCodes(MethodView):
    @blp.response(202, MaskedCodeSentSchema)
    @blp.alt_response(404, description=RESET_GONE)
    @blp.alt_response(429, description=QUOTA)
    def post(self, reset_id: str) -> Any:
        """Forgot password, step 2: send a code to the reserved phone"""
        sent, masked_phone = password_reset.send_reset_code(
            runtime(), db(), reset_id=reset_id, origin=origin()
        )
        return _code_sent_to(sent, masked_phone)


@blp.route("/password-resets/<reset_id>/verification")
class PasswordResetVerification(MethodView):
    @blp.arguments(SmsCodeSchema)
    @blp.response(200, ResetVerifiedSchema)
    @blp.alt_response(404, description=RESET_GONE)
    @blp.alt_response(409, description=RESET_ORDER)
    @blp.alt_response(422, description=INVALID)
    def post(self, body: dict[str, Any], reset_id: str) -> Any:
        """Forgot password, step 3: check the SMS code (下一步)"""
        password_reset.verify_reset_code(runtime(), db(), reset_id=reset_id, **body)
        return {"verified": True}


@blp.route("/password-resets/<reset_id>/password")
class PasswordResetPassword(MethodView):
    @blp.arguments(NewPasswordSchema)
    @blp.response(204, description="重置完成 — the client shows this text: a 204 has no body")
    @blp.alt_response(404, description=RESET_GONE)
    @blp.alt_response(409, description=RESET_ORDER)
    @blp.alt_response(422, description=INVALID)
    def put(self, body: dict[str, Any], reset_id: str) -> None:
        """Forgot password, step 4: set the new password (重置完成)

        On 204 the client shows 「重置完成」 and offers 【登录】. The reset also lifts a lock-out
        and ends every session of the member."""
        password_reset.finish_reset(runtime(), db(), reset_id=reset_id, origin=origin(), **body)
