"""Transfer between cities (异地转移接续): apply (SMS step-up, Idempotency-Key), then follow the
application's nodes (申请 → 转出地审核 → 资金划转 → 转入确认), which the core system moves on
through the internal API; the money arrives as a ``transfer_in`` ledger entry (or leaves as
``transfer_out``) naming the application, which completes it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from backend.accounts.models import FundAccount
from backend.accounts.queries import account_of
from backend.applications.models import OPEN_STATUSES, Application
from backend.applications.services import apply_event, create_application
from backend.audit.services import RequestOrigin
from backend.idempotency.services import StoredAnswer
from backend.inbox.services import post_message
from backend.loans.models import LoanContract
from backend.members.models import Member
from backend.pagination import Page
from backend.runtime import Runtime
from backend.stepup import Audit, confirm_once
from backend.transfers import rules
from backend.withdrawals.rules import REPAYING_LOAN_STATUSES
from backend.withdrawals.services import existing_account, refuse

SCOPE = "transfers"


def facts(session: Session, rt: Runtime, acct: FundAccount) -> rules.TransferFacts:
    member_id = acct.member_id
    loans = session.scalar(
        select(func.count()).where(
            LoanContract.member_id == member_id,
            LoanContract.status.in_(REPAYING_LOAN_STATUSES),
        )
    )
    open_transfers = session.scalar(
        select(func.count()).where(
            Application.member_id == member_id,
            Application.kind == "transfer",
            Application.status.in_(OPEN_STATUSES),
        )
    )
    return rules.TransferFacts(
        status=acct.status,
        balance=acct.balance,
        repaying_loans=int(loans or 0),
        open_transfers=int(open_transfers or 0),
        centre_name=rt.settings.centre_name,
    )


@dataclass(frozen=True)
class DirectionEligibility:
    direction: str
    refusals: list[rules.Refusal]

    @property
    def direction_name(self) -> str:
        return rules.DIRECTIONS[self.direction]

    @property
    def eligible(self) -> bool:
        return not self.refusals


@dataclass(frozen=True)
class Eligibility:
    """Whether each direction may be applied for now (TransferEligibilitySchema dumps it)."""

    centre_name: str
    directions: list[DirectionEligibility]


def eligibility(session: Session, rt: Runtime, member_id: int) -> Eligibility:
    found = facts(session, rt, existing_account(account_of(session, member_id)))
    return Eligibility(
        found.centre_name,
        [DirectionEligibility(d, rules.assess(d, found)) for d in rules.DIRECTIONS],
    )


@dataclass(frozen=True)
class TransferRequest:
    direction: str
    other_centre: str
    other_account_no: str
    sms_code: str

    def fingerprint(self) -> dict[str, Any]:
        """The whole request but the one-time SMS code."""
        return {
            "direction": self.direction,
            "other_centre": self.other_centre,
            "other_account_no": self.other_account_no,
        }


def apply(
    session: Session,
    rt: Runtime,
    member: Member,
    request: TransferRequest,
    *,
    idempotency_key: str | None,
    origin: RequestOrigin | None = None,
    serialize: Callable[[Application], dict[str, Any]],
) -> StoredAnswer:
    """Create the transfer application once per Idempotency-Key (:func:`confirm_once`: under the
    account's row lock)."""

    def check(acct: FundAccount | None) -> FundAccount:
        acct = existing_account(acct)
        refuse(
            rules.check_request(request.direction, request.other_centre, facts(session, rt, acct))
        )
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
        write=lambda acct: create_transfer(session, rt, acct, request),
        audit=lambda application: Audit(
            "transfer.apply",
            {"application_no": application.application_no, "direction": request.direction},
        ),
        origin=origin,
        answer=serialize,
    )


def create_transfer(
    session: Session,
    rt: Runtime,
    acct: FundAccount,
    request: TransferRequest,
    application_no: str | None = None,
) -> Application:
    """The application with its four nodes, 申请 done at once (not committed)."""
    name = rules.DIRECTIONS[request.direction]
    here = rt.settings.centre_name
    former, new = (
        (request.other_centre, here) if request.direction == "in" else (here, request.other_centre)
    )
    application = create_application(
        session,
        member_id=acct.member_id,
        kind="transfer",
        reason=request.direction,
        amount=None,
        application_no=application_no,
        details={
            "direction_name": name,
            "account_no": acct.account_no,
            "other_centre": request.other_centre,
            "other_account_no": request.other_account_no,
            "from_centre": former,
            "to_centre": new,
        },
    )
    apply_event(session, application, event="node_done", handler="个人网厅", notify=False)
    post_message(
        session,
        member_id=acct.member_id,
        business_name="转移接续",
        content=(
            f"您的住房公积金转移接续（{name}，编号{application.application_no}）申请已提交，"
            f"由{former}转至{new}，将按转出地审核、资金划转、转入确认的顺序办理，"
            "进度可在“我发起的”中查看。"
        ),
        business_type="transfer",
        source_channel="个人网厅",
        application_id=application.id,
        dedupe_key=f"transfer-submitted:{application.application_no}",
    )
    return application


def list_transfers(session: Session, member_id: int) -> Page[Application]:
    return Page(
        list(
            session.scalars(
                select(Application)
                .options(selectinload(Application.nodes))
                .where(Application.member_id == member_id, Application.kind == "transfer")
                .order_by(Application.submitted_at.desc(), Application.id.desc())
            )
        )
    )
