"""The member's inbox: a message for the latest ledger entries and for the account's status,
to-dos with their due dates, older ones read (a few deleted), the newest unread."""

from __future__ import annotations

import datetime as dt
from typing import Any

from devtools.seed.common import (
    ONE_DAY,
    at,
    money,
)
from devtools.seed.context import Centre, MemberContext


def ledger_messages(centre: Centre, ctx: MemberContext) -> list[dict[str, Any]]:
    rng = ctx.rng
    count = rng.randint(70, 90) if ctx.profile.many_messages else rng.randint(2, 6)
    messages = []
    for entry in ctx.ledger[-count:]:
        amount = money(abs(entry.fen))
        balance = money(entry.balance)
        if entry.kind in ("deposit", "supplementary"):
            name, family = "缴存到账", "deposit"
            text = f"您的住房公积金{entry.summary} {amount} 元已于 {entry.day} 到账"
        elif entry.kind == "interest":
            name, family = "结息通知", "deposit"
            text = f"您的住房公积金账户{entry.summary} {amount} 元已于 {entry.day} 入账"
        elif entry.kind == "withdrawal":
            name, family = "提取到账", "withdrawal"
            text = f"您的{entry.summary} {amount} 元已于 {entry.day} 支付至您的银行账户"
        else:
            name, family = "转移接续", "notice"
            text = f"您的住房公积金{entry.summary} {amount} 元已于 {entry.day} 办结"
        messages.append(
            message(
                centre,
                ctx,
                name,
                f"{text}，账户余额 {balance} 元。",
                at(entry.day, rng.randint(10, 18), rng.randint(0, 59)),
                family,
            )
        )
    return messages


def status_messages(
    centre: Centre, ctx: MemberContext, account: dict[str, Any]
) -> list[dict[str, Any]]:
    rng = ctx.rng
    if ctx.status == "frozen":
        day = centre.as_of - dt.timedelta(days=rng.randint(30, 400))
        text = (
            "您的住房公积金账户已根据人民法院协助执行通知书被冻结，冻结期间不能办理提取业务。"
            "如有疑问请拨打 12329 咨询。"
        )
        return [message(centre, ctx, "账户冻结", text, at(day, 11), "notice")]
    if ctx.status == "sealed" and ctx.ledger:
        day = ctx.ledger[-1].day + dt.timedelta(days=rng.randint(20, 40))
        day = min(day, centre.as_of - dt.timedelta(days=2))
        text = (
            f"您的住房公积金账户已于 {day} 由原单位办理封存，封存期间账户余额照常计息。"
            "新单位可为您办理启封和转移。"
        )
        return [message(centre, ctx, "账户封存", text, at(day, 11), "notice")]
    if ctx.status == "closed" and account["closed_on"] is not None:
        text = f"您的住房公积金账户已于 {account['closed_on']} 销户。"
        return [message(centre, ctx, "账户销户", text, at(account["closed_on"], 16), "notice")]
    return []


def message(
    centre: Centre,
    ctx: MemberContext,
    business_name: str,
    content: str,
    sent_at: dt.datetime,
    business_type: str,
    *,
    application_id: int | None = None,
    due_days: int | None = None,
) -> dict[str, Any]:
    """A message, or with ``due_days`` a to-do (待办) due that many days after it was sent."""
    todo = due_days is not None
    return {
        "member_id": ctx.member_id,
        "kind": "todo" if todo else "message",
        "business_name": business_name,
        "content": content,
        "source_channel": "核心业务系统",
        "business_type": business_type,
        "sent_at": sent_at,
        "read_at": None,
        "deleted_at": None,
        "application_id": application_id,
        "due_at": sent_at + dt.timedelta(days=due_days) if due_days is not None else None,
        "done_at": None,
        "dedupe_key": None,
        "created_at": sent_at,
    }


def store_messages(centre: Centre, ctx: MemberContext, messages: list[dict[str, Any]]) -> None:
    """Older messages were read (a few deleted); the newest ones, and anything from the
    last two days, are unread."""
    rng = ctx.rng
    messages.sort(key=lambda m: m["sent_at"])
    unread = rng.randint(20, 30) if ctx.profile.many_messages else rng.randint(0, 3)
    fresh = at(centre.as_of - ONE_DAY, 0)
    for position, message in enumerate(messages):
        message["id"] = centre.ids("messages")
        if position >= len(messages) - unread or message["sent_at"] >= fresh:
            continue
        if message["kind"] == "todo":
            continue
        message["read_at"] = message["sent_at"] + dt.timedelta(minutes=rng.randint(5, 1440))
        if rng.random() < 0.03 and not ctx.profile.many_messages:
            message["deleted_at"] = message["read_at"] + dt.timedelta(days=1)
    ctx.rows.tables["messages"].extend(messages)
