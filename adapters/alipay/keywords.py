"""Alipay mini-program template-message keyword values (``keyword1``…): free text.

Alipay's keywords carry no type; a value may be up to 50 characters (not WeChat's 20), longer
free text is cut with "…". An empty value cannot be sent.
"""

from __future__ import annotations

from collections.abc import Mapping

from adapters.base import KeywordValueError, plain_text, shorten

VALUE_LIMIT = 50


def format_keywords(data: Mapping[str, object]) -> dict[str, str]:
    out = {}
    for key, value in data.items():
        text = shorten(plain_text(value), VALUE_LIMIT)
        if not text:
            raise KeywordValueError(key, "empty value")
        out[key] = text
    return out
