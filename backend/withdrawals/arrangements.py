"""Monthly rent withdrawal (按月提取 / 租房委托提取): sign up once (SMS step-up, Idempotency-Key),
see the arrangement and each month's transfer, stop it. The core system pays each month through
the ledger API (``backend.integration.ledger``), which links the entry here.
"""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.accounts.models import FundAccount, FundTransaction
from backend.accounts.queries import account_of
from backend.audit.services import RequestOrigin, record
from backend.clock import utcnow
from backend.errors import NotFound
from backend.idempotency.services import StoredAnswer
from backend.inbox.services import post_message
from backend.members.models import Member
from backend.pagination import Page
from backend.pii import PiiVault
from backend.runtime import Runtime
from backend.stepup import Audit, confirm_once
from backend.withdrawals import queries, rules
from backend.withdrawals.models import RentArrangement
from backend.withdrawals.services import existing_account, mask_bank_account, policy, refuse

SCOPE = "rent_arrangements"
BUSINESS_NAME = "租房按月提取"


def new_arrangement_no() -> str:
    return f"AY{utcnow():%Y%m%d}{secrets.randbelow(10**8):08d}"


def eligibility(session: Session, rt: Runtime, member_id: int) -> rules.Assessment:
    acct = existing_account(account_of(session, member_id))
    return rules.assess_arrangement(queries.facts(session, rt.pii, acct), policy(rt.settings))


@dataclass(frozen=True)
class ArrangementRequest:
    monthly_amount: Decimal
    bank_name: str
    bank_account: str
    sms_code: str

    def fingerprint(self) -> dict[str, Any]:
        """The whole request but the one-time SMS code (a retry carries a new one)."""
        return {
            "monthly_amount": str(self.monthly_amount),
            "bank_name": self.bank_name,
            "bank_account": self.bank_account,
        }


def create_arrangement(
    session: Session,
    rt: Runtime,
    acct: FundAccount,
    request: ArrangementRequest,
    arrangement_no: str | None = None,
) -> RentArrangement:
    """Add the arrangement and the member's message (not committed; the rules already passed)."""
    arrangement = RentArrangement(
        arrangement_no=arrangement_no or new_arrangement_no(),
        member_id=acct.member_id,
        account_id=acct.id,
        monthly_amount=request.monthly_amount,
        bank_name=request.bank_name,
        bank_account_masked=mask_bank_account(request.bank_account),
        bank_account_enc=rt.pii.encrypt(request.bank_account),
        status="active",
        created_at=utcnow(),
    )
    session.add(arrangement)
    session.flush()
    post_message(
        session,
        member_id=acct.member_id,
        business_name=BUSINESS_NAME,
        content=(
            f"您已办理租房按月提取（委托编号{arrangement.arrangement_no}），"
            f"每月提取{request.monthly_amount:.2f}元至{request.bank_name}"
            f"（{arrangement.bank_account_masked}），每月到账后将通知您。"
        ),
        business_type="withdrawal",
        source_channel="个人网厅",
        dedupe_key=f"rent-arrangement:{arrangement.arrangement_no}",
    )
    return arrangement


def sign_up(
    session: Session,
    rt: Runtime,
    member: Member,
    request: ArrangementRequest,
    *,
    idempotency_key: str | None,
    origin: RequestOrigin | None = None,
    serialize: Callable[[ArrangementView], dict[str, Any]],
) -> StoredAnswer:
    """Create the arrangement once per Idempotency-Key (:func:`confirm_once`: under the account's
    row lock, so one member never gets two arrangements)."""

    def check(acct: FundAccount | None) -> FundAccount:
        acct = existing_account(acct)
        facts = queries.facts(session, rt.pii, acct)
        refuse(rules.check_arrangement(request.monthly_amount, facts, policy(rt.settings)))
        return acct

    return confirm_once(
        session,
        rt,
        member,
        scope=SCOPE,
        idempotency_key=idempotency_key,
        fingerprint=request.fingerprint(),
        sms_code=request.sms_code,
        check=check,
        write=lambda acct: view(session, create_arrangement(session, rt, acct, request)),
        audit=lambda created: Audit(
            "rent_arrangement.sign_up",
            {
                "arrangement_no": created.arrangement_no,
                "monthly_amount": str(request.monthly_amount),
            },
        ),
        origin=origin,
        answer=serialize,
    )


@dataclass(frozen=True)
class ArrangementView:
    arrangement: RentArrangement
    transfers: list[FundTransaction]

    def __getattr__(self, name: str) -> Any:
        return getattr(self.arrangement, name)

    @property
    def total_transferred(self) -> Decimal:
        return sum((-t.amount for t in self.transfers), Decimal("0.00"))


def transfers_of(session: Session, arrangement_id: int) -> list[FundTransaction]:
    return list(
        session.scalars(
            select(FundTransaction)
            .where(FundTransaction.rent_arrangement_id == arrangement_id)
            .order_by(FundTransaction.txn_date.desc(), FundTransaction.id.desc())
        )
    )


def view(session: Session, arrangement: RentArrangement) -> ArrangementView:
    return ArrangementView(arrangement, transfers_of(session, arrangement.id))


def list_arrangements(session: Session, member_id: int) -> Page[ArrangementView]:
    found = session.scalars(
        select(RentArrangement)
        .where(RentArrangement.member_id == member_id)
        .order_by(RentArrangement.created_at.desc(), RentArrangement.id.desc())
    )
    return Page([view(session, a) for a in found])


def find_arrangement(
    session: Session, arrangement_no: str, *, member_id: int | None = None, lock: bool = False
) -> RentArrangement:
    stmt = select(RentArrangement).where(RentArrangement.arrangement_no == arrangement_no)
    if lock:
        stmt = stmt.with_for_update()
    found = session.scalars(stmt).first()
    if found is None or (member_id is not None and found.member_id != member_id):
        raise NotFound("未找到该按月提取委托", error_code="withdrawal.rent_arrangement_not_found")
    return found


def get_arrangement(session: Session, member_id: int, arrangement_no: str) -> ArrangementView:
    return view(session, find_arrangement(session, arrangement_no, member_id=member_id))


def stop(
    session: Session,
    member_id: int,
    arrangement_no: str,
    *,
    origin: RequestOrigin | None = None,
) -> ArrangementView:
    """The member stops the arrangement. Stopping a stopped one changes nothing (idempotent)."""
    arrangement = find_arrangement(session, arrangement_no, member_id=member_id, lock=True)
    if arrangement.status == "active":
        arrangement.status = "stopped"
        arrangement.stopped_at = utcnow()
        arrangement.stopped_by = "member"
        arrangement.stop_reason = "本人终止"
        post_message(
            session,
            member_id=member_id,
            business_name=BUSINESS_NAME,
            content=(
                f"您的租房按月提取委托（编号{arrangement_no}）已终止，"
                "此后中心不再按月为您提取，如需提取可重新办理。"
            ),
            business_type="withdrawal",
            source_channel="个人网厅",
            dedupe_key=f"rent-arrangement-stopped:{arrangement_no}",
        )
        record(
            session,
            "rent_arrangement.stop",
            member_id=member_id,
            origin=origin,
            arrangement_no=arrangement_no,
        )
        session.commit()
    return view(session, arrangement)


def monthly_transfer_refusal(
    session: Session,
    rt_pii: PiiVault,
    account: FundAccount,
    arrangement: RentArrangement,
    amount: Decimal,
    txn_date: dt.date,
) -> rules.Refusal | None:
    """The rules on one month's payment the core system books under ``arrangement``."""
    if arrangement.account_id != account.id:
        return rules.Refusal(
            "withdrawal.rent_arrangement_mismatch",
            "该按月提取委托不属于此公积金账户",
            rules.INVALID,
            "rent_arrangement_no",
        )
    facts = queries.facts(session, rt_pii, account)
    if queries.month_range(txn_date) == queries.month_range(facts.today):
        # This month: one-off rent withdrawals count as well as earlier transfers.
        this_month = facts.rent_applications_this_month
    else:
        this_month = queries.rent_transfers_in_month(session, account.member_id, txn_date)
    transfer = rules.MonthlyTransfer(
        arrangement_status=arrangement.status,
        monthly_amount=arrangement.monthly_amount,
        amount=-amount,
        transfers_this_month=this_month,
    )
    return rules.check_monthly_transfer(transfer, facts)
