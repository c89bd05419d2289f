"""贷款结清证明: the certificate of a settled loan, issued through the fund feature's one certificate
service (:func:`backend.certificates.services.issue`, kind ``loan_settlement``)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from sqlalchemy.orm import Session

from backend.accounts.queries import account_summary
from backend.audit.services import RequestOrigin
from backend.certificates import services as certificates
from backend.certificates.models import Certificate
from backend.errors import Conflict
from backend.loans import queries, rules
from backend.loans.contracts import member_contract
from backend.loans.models import LOAN_STATUS, LoanContract
from backend.members.models import Member
from backend.settings import Settings


def _settlement_subject(session: Session, contract: LoanContract) -> dict[str, Any]:
    repayments = queries.contract_repayments(session, contract.id)
    zero = Decimal("0.00")
    settled_on = contract.settled_on or (repayments[-1].paid_on if repayments else None)
    return {
        "contract_no": contract.contract_no,
        "amount": f"{contract.amount:.2f}",
        "term_months": contract.term_months,
        "method_label": rules.Method.parse(contract.method).label,
        "disbursed_on": contract.disbursed_on.isoformat() if contract.disbursed_on else "",
        "settled_on": settled_on.isoformat() if settled_on else "",
        "principal_repaid": f"{sum((r.principal for r in repayments), zero):.2f}",
        "interest_repaid": f"{sum((r.interest + r.penalty for r in repayments), zero):.2f}",
        "bank_name": contract.bank_name,
    }


def issue_settlement_certificate(
    session: Session,
    settings: Settings,
    member: Member,
    contract_no: str,
    origin: RequestOrigin | None = None,
) -> Certificate:
    """贷款结清证明 of the member's settled contract; re-issuing voids the contract's earlier one.
    Another member's contract is a 404, a contract not settled a 409 naming its status."""
    contract = member_contract(session, member.id, contract_no)
    if contract.status != "settled":
        label = LOAN_STATUS.get(contract.status, contract.status)
        raise Conflict(
            f"该笔贷款当前状态为“{label}”，尚未结清，结清后方可开具贷款结清证明",
            error_code="loan.not_settled",
        )
    account, _ = account_summary(session, member.id)
    return certificates.issue(
        session,
        settings,
        member,
        kind="loan_settlement",
        account_id=account.id,
        subject=lambda: _settlement_subject(session, contract),
        subject_no=contract.contract_no,
        origin=origin,
    )
