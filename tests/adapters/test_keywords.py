"""Push keyword values per platform rule, checked against the fake's own, independent rules."""

import datetime as dt
from decimal import Decimal

import pytest

from adapters.alipay.keywords import format_keywords as alipay_keywords
from adapters.base import KeywordValueError
from adapters.fakes.wechat_api import keyword_value_valid
from adapters.wechat.keywords import format_keyword, keyword_kind

MOMENT = dt.datetime(2026, 1, 5, 9, 7)


@pytest.mark.parametrize(
    ("key", "kind"),
    [
        ("thing1", "thing"),
        ("character_string12", "character_string"),
        ("phone_number3", "phone_number"),
        ("time20", "time"),
        ("keyword1", None),
        ("thing", None),
        ("enum1", None),
    ],
)
def test_keyword_kind_is_read_from_the_key_name(key, kind):
    assert keyword_kind(key) == kind


@pytest.mark.parametrize(
    ("key", "value", "expected"),
    [
        (
            "thing1",
            "您的住房公积金\n本月缴存已到账，请查收明细",
            "您的住房公积金 本月缴存已到账，请查收…",
        ),
        ("thing1", MOMENT, "2026-01-05 09:07"),
        ("time2", MOMENT, "2026年1月5日 09:07"),
        ("time2", dt.time(15, 1), "15:01"),
        ("date3", MOMENT.date(), "2026年1月5日"),
        ("date3", MOMENT, "2026年1月5日 09:07"),
        ("amount4", Decimal("655.22"), "655.22元"),
        ("amount4", "¥1,234.50", "¥1234.50"),
        ("number5", Decimal("12.50"), "12.50"),
        ("character_string6", "JK140120210000005", "JK140120210000005"),
        ("phrase7", "已受理", "已受理"),
        ("name8", "张三", "张三"),
        ("phone_number9", "0351-12345678", "0351-12345678"),
        ("car_number10", "晋A12345", "晋A12345"),
        ("letter11", "ABC", "ABC"),
        ("symbol12", "%", "%"),
    ],
)
def test_value_is_formatted_for_its_type_and_accepted_by_the_strict_fake(key, value, expected):
    text = format_keyword(key, value)
    assert text == expected
    assert keyword_value_valid(key, text)


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("phrase1", "正在审核中了"),
        ("phrase1", "OK"),
        ("character_string2", "合同号JK1401"),
        ("character_string2", "A" * 33),
        ("number3", "十二"),
        ("amount4", "12345678901元"),
        ("time5", "明天上午"),
        ("date6", "下周一"),
        ("name7", "张三李四王五赵六钱七孙"),
        ("thing8", "   "),
        ("keyword1", "x"),
    ],
)
def test_value_that_cannot_be_made_valid_is_refused_before_sending(key, value):
    with pytest.raises(KeywordValueError) as exc:
        format_keyword(key, value)
    assert exc.value.key == key and exc.value.code == "keyword_invalid"


def test_alipay_values_keep_up_to_50_characters_and_cut_longer_ones():
    fifty, long = "公" * 50, "积" * 60
    data = alipay_keywords({"keyword1": fifty, "keyword2": long, "keyword3": MOMENT})
    assert data["keyword1"] == fifty
    assert data["keyword2"] == "积" * 49 + "…"
    assert data["keyword3"] == "2026-01-05 09:07"
    with pytest.raises(KeywordValueError):
        alipay_keywords({"keyword1": " \n "})


def test_template_config_refuses_wechat_keyword_of_unknown_type():
    from backend.push.templates import TemplateConfigError, Templates

    entry = {"template_id": "t", "keywords": {"keyword1": "content"}}
    with pytest.raises(TemplateConfigError, match="unknown type"):
        Templates({"wechat": {"notice": entry}})
    assert Templates({"alipay": {"notice": entry}}).for_message("alipay", "notice") is not None
