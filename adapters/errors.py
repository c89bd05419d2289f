"""Typed channel errors and the one table that classifies platform error codes.

Every error carries the channel, the platform's raw code (and Alipay's ``sub_code``), the
platform's message and ``retryable``. The push pipeline only needs ``retryable`` to decide between
"try again later (with a cap)" and "mark failed"; the raw code is stored for operators.
"""

from __future__ import annotations

ALIPAY = "alipay"
WECHAT = "wechat"
SMS = "sms"


class ChannelError(Exception):
    """Base of every error a channel client raises.

    ``consent_unused``: the platform refused the send before using the member's subscription
    consent (a one-time accept is still there), so a consent counted as spent locally is given
    back. Every retryable error is treated the same way.
    """

    retryable: bool = False

    def __init__(
        self,
        channel: str,
        code: str | int | None,
        message: str = "",
        *,
        sub_code: str | None = None,
        retryable: bool | None = None,
        consent_unused: bool = False,
    ) -> None:
        self.channel = channel
        self.code = None if code is None else str(code)
        self.sub_code = sub_code
        self.message = message
        if retryable is not None:
            self.retryable = retryable
        self.consent_unused = consent_unused or self.retryable
        super().__init__(self._describe())

    def _describe(self) -> str:
        code = self.code if self.sub_code is None else f"{self.code}/{self.sub_code}"
        return f"{self.channel} error {code}: {self.message}"

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(channel={self.channel!r}, code={self.code!r}, "
            f"sub_code={self.sub_code!r}, retryable={self.retryable})"
        )


class PermanentChannelError(ChannelError):
    """Retrying the same request cannot succeed."""

    retryable = False


class RetryableChannelError(ChannelError):
    """The platform or the network failed; the same request may succeed later."""

    retryable = True


class RateLimitedError(RetryableChannelError):
    """The platform asked us to slow down (WeChat 45009/45011, SMS flow control)."""


class TransportError(RetryableChannelError):
    """Timeout, refused connection, HTTP 5xx or an unreadable body: nothing reached a verdict."""


class AccessTokenError(RetryableChannelError):
    """WeChat still rejected the app's access token after one refresh and one retry."""


class InvalidCodeError(PermanentChannelError):
    """A login/phone code is unknown, expired or already used: ask the member to retry."""


class ConsentRequiredError(PermanentChannelError):
    """The member gave no (or no more) consent for this template.

    Expected at scale for one-time templates: not retried, not alarmed on.
    """


class PermissionDeniedError(PermanentChannelError):
    """The app lacks a platform permission (Alipay 40006)."""


class CertNoWithheldError(PermissionDeniedError):
    """Alipay did not release ``cert_no`` to this app (``isv.insufficient-isv-permissions``).

    The backend answers it by starting face verification (``alipay.user.certify.open.*``).
    """


class SignatureError(ChannelError):
    """A response, payload or notification failed its signature check.

    Never trusted and never retried: a bad signature means a wrong key or tampering.
    """

    retryable = False


class ResponseSignatureError(SignatureError):
    """The platform's reply did not verify against its public key: possibly tampered."""


# WeChat mini-program server API error codes we classify explicitly.
WECHAT_TOKEN_CODES = frozenset({40001, 40014, 42001})
WECHAT_RATE_CODES = frozenset({45009, 45011})
# 43108: concurrent calls for the same openid ("并发下发消息给同一个粉丝"): try again shortly.
WECHAT_CONCURRENT_CODES = frozenset({43108})
WECHAT_CONSENT_CODES = frozenset({43101})
WECHAT_CODE_CODES = frozenset({40029, 40163})
WECHAT_PERMANENT_CODES = frozenset({40003, 40037, 47003, 41030, 40226, 40013, 40125})
WECHAT_BUSY_CODES = frozenset({-1})
# Sends WeChat refused before touching the member's consent: concurrent call, bad data, bad page,
# bad template. The one-time accept is still there on the platform.
WECHAT_CONSENT_UNUSED_CODES = frozenset({43108, 47003, 41030, 40037})

# Alipay gateway codes: 10000 success, 20000 unavailable, 20001 token invalid, 40001 missing param,
# 40002 invalid param, 40004 business failure, 40006 no permission.
ALIPAY_OK = "10000"
ALIPAY_RETRYABLE_CODES = frozenset({"20000"})
ALIPAY_CODE_SUB_CODES = frozenset({"isv.code-invalid"})
ALIPAY_SIGNATURE_SUB_CODES = frozenset({"isv.invalid-signature"})
ALIPAY_CERT_NO_SUB_CODES = frozenset({"isv.insufficient-isv-permissions"})
# Alipay documents no stable sub_code for "member has no subscription"; this is the one our fake
# uses. Confirm against the sandbox before relying on it in production.
ALIPAY_CONSENT_SUB_CODES = frozenset({"USER_NOT_SUBSCRIBED"})
# Missing or invalid parameters: the gateway refused the request before any business step.
ALIPAY_CONSENT_UNUSED_CODES = frozenset({"40001", "40002"})


def wechat_error(errcode: int, errmsg: str = "") -> ChannelError:
    """Classify a WeChat ``errcode`` (non-zero) into a typed error."""
    unused = errcode in WECHAT_CONSENT_UNUSED_CODES
    if errcode in WECHAT_CONSENT_CODES:
        return ConsentRequiredError(WECHAT, errcode, errmsg)
    if errcode in WECHAT_RATE_CODES or errcode in WECHAT_CONCURRENT_CODES:
        return RateLimitedError(WECHAT, errcode, errmsg)
    if errcode in WECHAT_TOKEN_CODES:
        return AccessTokenError(WECHAT, errcode, errmsg)
    if errcode in WECHAT_CODE_CODES:
        return InvalidCodeError(WECHAT, errcode, errmsg)
    if errcode in WECHAT_BUSY_CODES:
        return RetryableChannelError(WECHAT, errcode, errmsg)
    # Anything else (40003 openid, 40037 template, 47003 data, 41030 page, unknown codes) is a
    # request we built wrong or a member state that will not change by retrying.
    return PermanentChannelError(WECHAT, errcode, errmsg, consent_unused=unused)


def alipay_error(
    code: str, msg: str = "", sub_code: str | None = None, sub_msg: str | None = None
) -> ChannelError:
    """Classify an Alipay gateway ``code`` (not 10000) with its ``sub_code`` kept."""
    code = str(code)
    message = sub_msg or msg
    if code in ALIPAY_RETRYABLE_CODES:
        return RetryableChannelError(ALIPAY, code, message, sub_code=sub_code)
    if sub_code in ALIPAY_SIGNATURE_SUB_CODES:
        # The gateway refused *our* signature: wrong app key configured. Same family as a bad
        # response signature: never retried.
        return SignatureError(ALIPAY, code, message, sub_code=sub_code)
    if sub_code in ALIPAY_CODE_SUB_CODES:
        return InvalidCodeError(ALIPAY, code, message, sub_code=sub_code)
    if sub_code in ALIPAY_CONSENT_SUB_CODES:
        return ConsentRequiredError(ALIPAY, code, message, sub_code=sub_code)
    if code == "40006":
        if sub_code in ALIPAY_CERT_NO_SUB_CODES:
            return CertNoWithheldError(ALIPAY, code, message, sub_code=sub_code)
        return PermissionDeniedError(ALIPAY, code, message, sub_code=sub_code)
    return PermanentChannelError(
        ALIPAY,
        code,
        message,
        sub_code=sub_code,
        consent_unused=code in ALIPAY_CONSENT_UNUSED_CODES,
    )


def http_status_error(channel: str, status: int, message: str = "") -> ChannelError:
    """An HTTP status without a platform verdict: 5xx and 429 retry, other statuses do not."""
    if status >= 500 or status == 429:
        return TransportError(channel, f"http-{status}", message)
    return PermanentChannelError(channel, f"http-{status}", message)
