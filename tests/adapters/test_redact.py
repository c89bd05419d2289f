import logging

from adapters.redact import RedactingFilter, redact


def test_redact_hides_credentials_and_identity_when_in_urls_forms_or_json():
    line = (
        '"GET /sns/jscode2session?appid=wx1&secret=s3cr3t&js_code=abc&grant_type=x HTTP/1.1" '
        "POST /cgi-bin/message/subscribe/send?access_token=AT-123 "
        'reply {"access_token": "AT-456", "expires_in": 7200} '
        "auth_token=authusrB99&app_id=2021 cert_no 110101199003074519 mobile 13812345678"
    )
    text = redact(line)
    for secret in ("s3cr3t", "abc&", "AT-123", "AT-456", "authusrB99", "199003074", "1234567"):
        assert secret not in text
    assert "appid=wx1" in text and "app_id=2021" in text and '"expires_in": 7200' in text
    assert "1101**********4519" in text and "138****5678" in text


def test_filter_rewrites_the_record_itself_when_a_library_logs_a_url():
    record = logging.LogRecord(
        "urllib3.connectionpool",
        logging.DEBUG,
        __file__,
        1,
        "%s %s",
        ("GET", "/x?secret=abc"),
        None,
    )
    assert RedactingFilter().filter(record) is True
    assert record.getMessage() == "GET /x?secret=***"
