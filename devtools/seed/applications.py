"""Withdrawal applications (提取申请) with their nodes: the recent withdrawals of the ledger as
completed applications, open and refused ones for some members."""

from __future__ import annotations

import datetime as dt
from typing import Any

from backend.applications.services import WITHDRAWAL_NODES
from devtools.seed import data, inbox
from devtools.seed.common import (
    BANKS,
    Rows,
    at,
    money,
    pick,
    reason_name,
    yuan_floor,
)
from devtools.seed.context import Centre, MemberContext


def withdrawal_applications(centre: Centre, ctx: MemberContext) -> list[dict[str, Any]]:
    rng = ctx.rng
    messages: list[dict[str, Any]] = []
    recent = centre.as_of - dt.timedelta(days=540)
    done = [e for e in ctx.ledger if e.kind == "withdrawal" and e.day >= recent][-3:]
    for entry in done:
        submitted = at(entry.day - dt.timedelta(days=rng.randint(3, 10)), rng.randint(9, 20))
        app_id = _withdrawal_application(
            centre, ctx, entry.reason or "rent", -entry.fen, submitted, "completed", entry.day
        )
        messages.append(
            inbox.message(
                centre,
                ctx,
                "提取申请办结",
                f"您的{reason_name(entry.reason)}提取申请已办结，{money(-entry.fen)} 元已支付至"
                f"您的银行账户。",
                at(entry.day, 15, 30),
                "withdrawal",
                application_id=app_id,
            )
        )
    if ctx.status != "normal" or ctx.balance < 100000:
        return messages
    if ctx.profile.open_withdrawal or rng.random() < 0.03:
        rent = yuan_floor(ctx.monthly * 6 // 10)
        submitted = at(centre.as_of - dt.timedelta(days=rng.randint(1, 6)), rng.randint(9, 20))
        state = (
            "processing" if ctx.profile.open_withdrawal else rng.choice(("processing", "approved"))
        )
        app_id = _withdrawal_application(centre, ctx, "rent", rent, submitted, state, None)
        messages.append(
            inbox.message(
                centre,
                ctx,
                "提取申请受理",
                f"您的租房提取申请已受理，申请金额 {money(rent)} 元，请留意审批进度。",
                submitted + dt.timedelta(minutes=3),
                "application",
                application_id=app_id,
            )
        )
        if state == "processing":
            messages.append(
                inbox.message(
                    centre,
                    ctx,
                    "补充提取材料",
                    "您的租房提取申请需补充材料：请上传已备案的房屋租赁合同。",
                    submitted + dt.timedelta(hours=20),
                    "todo",
                    due_days=7,
                    application_id=app_id,
                )
            )
    if ctx.profile.open_withdrawal or rng.random() < 0.03:
        amount = yuan_floor(ctx.balance // 2)
        submitted = at(centre.as_of - dt.timedelta(days=rng.randint(20, 120)), 10)
        rejection = rng.choice(data.WITHDRAWAL_REJECTIONS)
        app_id = _withdrawal_application(
            centre, ctx, "purchase", amount, submitted, "rejected", None, rejection=rejection
        )
        messages.append(
            inbox.message(
                centre,
                ctx,
                "提取申请未通过",
                f"很抱歉，您的购房提取申请未通过审核：{rejection}",
                submitted + dt.timedelta(days=2),
                "application",
                application_id=app_id,
            )
        )
    return messages


def _withdrawal_application(
    centre: Centre,
    ctx: MemberContext,
    reason: str,
    fen: int,
    submitted: dt.datetime,
    status: str,
    paid_on: dt.date | None,
    *,
    rejection: str | None = None,
) -> int:
    rng = ctx.rng
    app_id = centre.ids("applications")
    bank = pick(rng, BANKS)
    card = "6217" + "".join(str(rng.randrange(10)) for _ in range(15))
    details: dict[str, Any] = {
        "reason_name": reason_name(reason),
        "account_no": ctx.account_no,
        "bank_name": bank,
        "bank_account_masked": card[:4] + "*" * (len(card) - 8) + card[-4:],
        "bank_account_enc": centre.pii.encrypt(card),
        "closes_account": reason in ("retirement", "leaving"),
    }
    if reason == "purchase":
        details["document_no"] = (
            f"晋（{submitted.year}）太原市不动产权第{rng.randrange(10**7):07d}号"
        )
    completed = at(paid_on, 15) if paid_on else None
    current = {"processing": rng.randint(1, 2), "approved": 3, "rejected": 1}.get(status, 4)
    if status == "rejected":
        completed = submitted + dt.timedelta(days=2)
    ctx.rows.add(
        "applications",
        {
            "id": app_id,
            "application_no": f"TQ{submitted:%Y%m%d}{ctx.numbers.next()}",
            "member_id": ctx.member_id,
            "kind": "withdrawal",
            "reason": reason,
            "amount": money(fen),
            "status": status,
            "details": details,
            "submitted_at": submitted,
            "completed_at": completed,
            "updated_at": completed or submitted,
        },
    )
    for seq, name in enumerate(WITHDRAWAL_NODES):
        acted: dt.datetime | None = None
        opinion: str | None
        handler: str | None
        if seq < current or (status == "rejected" and seq == current):
            state = "done"
            opinion = data.WITHDRAWAL_OPINIONS[name]
            if status == "rejected" and seq == current:
                opinion = rejection
            handler = "网厅自动受理" if seq == 0 else rng.choice(data.HANDLERS)
            acted = submitted + dt.timedelta(hours=4 * seq + 1)
            if paid_on and seq == len(WITHDRAWAL_NODES) - 1:
                acted = completed
        else:
            state = "current" if seq == current and status != "rejected" else "pending"
            opinion = handler = None
        node(centre, ctx.rows, app_id, seq, name, state, opinion, handler, acted)
    return app_id


def node(
    centre: Centre,
    rows: Rows,
    application_id: int,
    seq: int,
    name: str,
    state: str,
    opinion: str | None,
    handler: str | None,
    acted: dt.datetime | None,
) -> None:
    rows.add(
        "application_nodes",
        {
            "id": centre.ids("application_nodes"),
            "application_id": application_id,
            "seq": seq,
            "name": name,
            "state": state,
            "opinion": opinion,
            "handler": handler,
            "acted_at": acted,
        },
    )
