import pytest

from adapters import errors


@pytest.mark.parametrize(
    ("errcode", "kind", "retryable"),
    [
        (43101, errors.ConsentRequiredError, False),
        (45009, errors.RateLimitedError, True),
        (45011, errors.RateLimitedError, True),
        (40001, errors.AccessTokenError, True),
        (42001, errors.AccessTokenError, True),
        (40003, errors.PermanentChannelError, False),
        (40037, errors.PermanentChannelError, False),
        (47003, errors.PermanentChannelError, False),
        (41030, errors.PermanentChannelError, False),
        (40029, errors.InvalidCodeError, False),
        (-1, errors.RetryableChannelError, True),
    ],
)
def test_wechat_code_is_classified_when_platform_answers(errcode, kind, retryable):
    err = errors.wechat_error(errcode, "msg")
    assert type(err) is kind
    assert err.retryable is retryable
    assert (err.channel, err.code) == ("wechat", str(errcode))


@pytest.mark.parametrize(
    ("code", "sub_code", "kind", "retryable"),
    [
        ("20000", "isp.unknow-error", errors.RetryableChannelError, True),
        ("20001", "aop.invalid-auth-token", errors.PermanentChannelError, False),
        ("40002", "isv.invalid-signature", errors.SignatureError, False),
        ("40002", "isv.code-invalid", errors.InvalidCodeError, False),
        ("40004", "SOME_BIZ_FAILURE", errors.PermanentChannelError, False),
        ("40004", "USER_NOT_SUBSCRIBED", errors.ConsentRequiredError, False),
        ("40006", "isv.insufficient-isv-permissions", errors.CertNoWithheldError, False),
        ("40006", "isv.other", errors.PermissionDeniedError, False),
    ],
)
def test_alipay_code_is_classified_with_sub_code_when_gateway_answers(
    code, sub_code, kind, retryable
):
    err = errors.alipay_error(code, "msg", sub_code, "sub msg")
    assert type(err) is kind
    assert err.retryable is retryable
    assert (err.channel, err.code, err.sub_code) == ("alipay", code, sub_code)


@pytest.mark.parametrize(
    ("status", "retryable"), [(500, True), (503, True), (429, True), (404, False), (400, False)]
)
def test_http_status_is_classified_when_no_platform_verdict(status, retryable):
    assert errors.http_status_error("wechat", status).retryable is retryable


def test_error_repr_shows_codes_when_logged():
    err = errors.alipay_error("40006", "m", "isv.insufficient-isv-permissions")
    assert "40006" in repr(err) and "isv.insufficient-isv-permissions" in str(err)
