"""Which subscription-message template each kind of inbox message goes out with, per channel.

Template ids are assigned to the centre in each platform's console, so they are configuration:
the defaults below describe the shape (and serve the fakes); ``GJJ_PUSH_TEMPLATES_FILE`` names a
JSON file with the same shape that replaces the entries it names::

    {"wechat": {"deposit": {"template_id": "…", "page": "pages/messages/detail?id={message_id}",
                            "keywords": {"thing1": "business_name", "thing2": "content",
                                         "time3": "sent_at"},
                            "long_term": false}}}

``keywords`` maps the template's keyword names to message fields: ``business_name``, ``content``,
``sent_at`` (Asia/Shanghai), ``centre_name``. A business type without its own entry uses
``notice``.

Each value is formatted for its keyword before sending. WeChat keyword names carry their type
(``thing1``, ``phrase2``, ``character_string3``, ``time4``…) and each type has its own rule
(:mod:`adapters.wechat.keywords`); a WeChat keyword of an unknown type is a configuration error.
Alipay keywords are free text of up to 50 characters (:mod:`adapters.alipay.keywords`). A value
that cannot be made valid raises ``KeywordValueError``: the delivery fails, nothing is sent.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from adapters.alipay.keywords import format_keywords as alipay_keywords
from adapters.wechat.keywords import format_keywords as wechat_keywords
from adapters.wechat.keywords import keyword_kind
from backend.clock import to_local
from backend.inbox.models import Message

MESSAGE_FIELDS = ("business_name", "content", "sent_at", "centre_name")
FORMATTERS = {"wechat": wechat_keywords, "alipay": alipay_keywords}
DETAIL_PAGE = "pages/messages/detail?id={message_id}"
# An announcement's push opens the announcement list (its carrier message is not in the inbox).
ANNOUNCEMENTS_PAGE = "pages/announcements/index"


def _wechat(template_id: str, long_term: bool = False) -> dict[str, Any]:
    return {
        "template_id": template_id,
        "page": DETAIL_PAGE,
        "keywords": {"thing1": "business_name", "thing2": "content", "time3": "sent_at"},
        "long_term": long_term,
    }


def _alipay(template_id: str, long_term: bool = False) -> dict[str, Any]:
    return {
        "template_id": template_id,
        "page": DETAIL_PAGE,
        "keywords": {"keyword1": "business_name", "keyword2": "content", "keyword3": "sent_at"},
        "long_term": long_term,
    }


DEFAULT_TEMPLATES: dict[str, dict[str, dict[str, Any]]] = {
    "wechat": {
        "notice": _wechat("gjj-wx-notice"),
        "deposit": _wechat("gjj-wx-deposit"),
        "withdrawal": _wechat("gjj-wx-withdrawal"),
        "loan": _wechat("gjj-wx-loan"),
        "application": _wechat("gjj-wx-application"),
        "announcement": {**_wechat("gjj-wx-announcement"), "page": ANNOUNCEMENTS_PAGE},
    },
    "alipay": {
        "notice": _alipay("gjj-ali-notice"),
        "deposit": _alipay("gjj-ali-deposit"),
        "withdrawal": _alipay("gjj-ali-withdrawal"),
        "loan": _alipay("gjj-ali-loan"),
        "application": _alipay("gjj-ali-application"),
        "announcement": {**_alipay("gjj-ali-announcement"), "page": ANNOUNCEMENTS_PAGE},
    },
}


class TemplateConfigError(ValueError):
    """The templates file does not describe usable templates."""


@dataclass(frozen=True)
class Template:
    channel: str
    template_id: str
    page: str | None
    keywords: Mapping[str, str]
    long_term: bool = False

    def render(self, message: Message, centre_name: str) -> tuple[dict[str, str], str | None]:
        """The flat keyword data, each value formatted for its keyword, and the page of one
        message. Raises ``KeywordValueError`` for a value the platform would refuse."""
        values: dict[str, object] = {
            "business_name": message.business_name,
            "content": message.content,
            "sent_at": to_local(message.sent_at),
            "centre_name": centre_name,
        }
        raw = {key: values[field] for key, field in self.keywords.items()}
        data = FORMATTERS[self.channel](raw)
        page = self.page.format(message_id=message.id) if self.page else None
        return data, page


class Templates:
    def __init__(self, config: Mapping[str, Mapping[str, Mapping[str, Any]]]) -> None:
        self._by_type: dict[tuple[str, str], Template] = {}
        for channel, kinds in config.items():
            for business_type, entry in kinds.items():
                self._by_type[(channel, business_type)] = _template(channel, business_type, entry)

    def for_message(self, channel: str, business_type: str) -> Template | None:
        return self._by_type.get((channel, business_type)) or self._by_type.get((channel, "notice"))

    def find(self, channel: str, template_id: str) -> Template | None:
        for (ch, _), template in self._by_type.items():
            if ch == channel and template.template_id == template_id:
                return template
        return None

    def of_channel(self, channel: str) -> dict[str, Template]:
        return {bt: t for (ch, bt), t in self._by_type.items() if ch == channel}


def _template(channel: str, business_type: str, entry: Mapping[str, Any]) -> Template:
    where = f"{channel}.{business_type}"
    template_id = entry.get("template_id")
    keywords = entry.get("keywords")
    if not isinstance(template_id, str) or not template_id:
        raise TemplateConfigError(f"{where}: template_id missing")
    if not isinstance(keywords, Mapping) or not keywords:
        raise TemplateConfigError(f"{where}: keywords missing")
    unknown = set(keywords.values()) - set(MESSAGE_FIELDS)
    if unknown:
        raise TemplateConfigError(f"{where}: unknown message fields {sorted(unknown)}")
    if channel not in FORMATTERS:
        raise TemplateConfigError(f"{where}: unknown channel")
    untyped = [key for key in keywords if channel == "wechat" and keyword_kind(key) is None]
    if untyped:
        raise TemplateConfigError(f"{where}: keywords of unknown type {sorted(untyped)}")
    return Template(
        channel=channel,
        template_id=template_id,
        page=entry.get("page"),
        keywords=dict(keywords),
        long_term=bool(entry.get("long_term", False)),
    )


def load_templates(path: str = "") -> Templates:
    """The defaults, with the entries of the JSON file at ``path`` (if any) replacing theirs."""
    config = {channel: dict(kinds) for channel, kinds in DEFAULT_TEMPLATES.items()}
    if path:
        try:
            override = json.loads(Path(path).read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise TemplateConfigError(f"GJJ_PUSH_TEMPLATES_FILE: {exc}") from exc
        for channel, kinds in override.items():
            config.setdefault(channel, {}).update(kinds)
    return Templates(config)
