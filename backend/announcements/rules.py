"""Pure rules of announcements (公告): audiences, visibility, the push carrier's key."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Mapping
from typing import Any

# audience code → what the member-facing text calls it
AUDIENCES = {
    "everyone": "全体缴存职工",
    "loan_holders": "有公积金贷款的职工",
    "active_accounts": "账户正常缴存的职工",
}
# Loan statuses that make a member a loan holder (a contract still owed or about to be).
LOAN_HOLDER_STATUSES = ("signed", "repaying", "overdue")
ACTIVE_ACCOUNT_STATUSES = ("normal",)
# The inbox message kind that carries an announcement's push (kept out of 消息/待办/已阅 lists).
CARRIER_KIND = "notice"
CARRIER_BUSINESS_TYPE = "announcement"
SUMMARY_LENGTH = 60


def carrier_prefix(announcement_id: int) -> str:
    """What every push carrier's dedupe key of the announcement starts with."""
    return f"ann:{announcement_id}:"


def carrier_key(announcement_id: int, member_id: int) -> str:
    """The dedupe key of one member's push carrier: a re-run fan-out never pushes twice."""
    return f"{carrier_prefix(announcement_id)}{member_id}"


def state(published_at: dt.datetime, withdrawn_at: dt.datetime | None, now: dt.datetime) -> str:
    """``scheduled`` (before its publish time), ``published`` or ``withdrawn``."""
    if withdrawn_at is not None:
        return "withdrawn"
    return "scheduled" if published_at > now else "published"


def summary(body: str, length: int = SUMMARY_LENGTH) -> str:
    """The list's one-line preview: whitespace folded, cut with an ellipsis."""
    text = " ".join(body.split())
    return text if len(text) <= length else text[: length - 1] + "…"


def request_hash(payload: Mapping[str, Any]) -> str:
    """A fingerprint of the whole publishing request (times as ISO strings, keys sorted)."""
    canonical = json.dumps(payload, sort_keys=True, ensure_ascii=False, default=_iso)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def _iso(value: Any) -> str:
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC).isoformat()
    raise TypeError(type(value).__name__)
