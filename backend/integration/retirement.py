"""Retirement recorded by the core system (办理退休): the date it sets on the fund account opens
the retirement withdrawal whatever the statutory age computed from the ID number says (a woman
worker who retired at 50, an early retirement under special rules). The core system may correct
the date or clear it (a retirement recorded in error).

Idempotent by ``event_id``: the member's message about the change carries it as its dedupe key
and the request's fingerprint, so the very same request again changes nothing and answers the
current state; the same ``event_id`` with anything else is 409 ``idempotency.key_reused``.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from backend import clock
from backend.accounts.models import FundAccount
from backend.errors import NotFound, ValidationFailed
from backend.inbox.services import post_message
from backend.integration.services import Caller, audit, commit_once, lost_race, replay_of

RETIREMENT_KEY = "ret:{}:{}"


@dataclass(frozen=True)
class RetirementState:
    account_no: str
    member_id: int
    retired_on: dt.date | None


def retirement_content(retired_on: dt.date | None) -> str:
    """The member's message about the change."""
    if retired_on is None:
        return "中心已撤销您的退休登记。如有疑问，请联系公积金中心。"
    return (
        f"中心已登记您于{retired_on:%Y年%m月%d日}退休，"
        "您可以在“提取申请”中办理离退休提取（一次提取账户全部余额并销户）。"
    )


def _state(account: FundAccount) -> RetirementState:
    return RetirementState(account.account_no, account.member_id, account.retired_on)


def record_retirement(
    session: Session,
    caller: Caller,
    account_no: str,
    *,
    request_hash: str,
    event_id: str,
    retired_on: dt.date | None,
) -> RetirementState:
    """Set (or clear, ``None``) the account's recorded retirement date and tell the member."""
    account = session.scalars(
        select(FundAccount).where(FundAccount.account_no == account_no).with_for_update()
    ).first()
    if account is None:
        raise NotFound("未找到该公积金账户", error_code="fund.account_not_found")
    key = RETIREMENT_KEY.format(account_no, event_id)
    content = retirement_content(retired_on)

    def replay() -> RetirementState:
        audit(
            session,
            caller,
            "internal.retirement",
            account.member_id,
            event_id=event_id,
            replayed=True,
        )
        session.commit()
        return _state(account)

    if replay_of(session, key, request_hash) is not None:
        return replay()
    if retired_on is not None and retired_on > clock.today():
        raise ValidationFailed(
            "退休日期不能晚于今天",
            error_code="fund.retired_on_in_future",
            errors={"retired_on": ["退休日期不能晚于今天"]},
        )

    def write() -> RetirementState:
        account.retired_on = retired_on
        post_message(
            session,
            member_id=account.member_id,
            business_name="退休登记",
            content=content,
            business_type="retirement",
            dedupe_key=key,
            request_hash=request_hash,
        )
        audit(
            session,
            caller,
            "internal.retirement",
            account.member_id,
            event_id=event_id,
            retired_on=retired_on.isoformat() if retired_on else None,
        )
        return _state(account)

    state = commit_once(session, write)
    if state is None:
        session.refresh(account)
        lost_race(replay_of(session, key, request_hash))
        return replay()
    return state
