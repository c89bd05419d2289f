"""Transfer between cities (异地转移接续) rules. Pure: plain facts in, refusals out.

- transfer in (转入): a member who changed city moves the account from the former centre to this
  one; the account here must be open (正常 or 封存 — a new employer may not have deposited yet),
  not frozen or closed;
- transfer out (转出): the member moved away; the account here must be sealed (the employer here
  stopped depositing), hold money, and no fund loan may be in repayment (it would lose its
  security);
- either way one open transfer at a time, and the other centre must be another one.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

# One refusal shape for every rule the hall checks (code, Chinese message, HTTP status, field).
from backend.applications.rules import REASON_NAMES
from backend.withdrawals.rules import INVALID, Refusal

DIRECTIONS = REASON_NAMES["transfer"]


@dataclass(frozen=True)
class TransferFacts:
    status: str  # the account here: normal | sealed | frozen | closed
    balance: Decimal
    repaying_loans: int
    open_transfers: int
    centre_name: str  # this centre


def _refusals(direction: str, facts: TransferFacts) -> list[Refusal]:
    found: list[Refusal] = []
    if facts.status == "frozen":
        found.append(Refusal("transfer.account_frozen", "您的公积金账户已冻结，暂不能办理转移接续"))
    elif facts.status == "closed":
        found.append(Refusal("transfer.account_closed", "您的公积金账户已销户，不能办理转移接续"))
    elif direction == "out" and facts.status != "sealed":
        found.append(
            Refusal(
                "transfer.account_not_sealed",
                "转出须账户已封存，请先由原单位为您办理封存；转入新城市请向新城市中心申请",
            )
        )
    if direction == "out" and facts.repaying_loans:
        found.append(
            Refusal(
                "transfer.loan_outstanding",
                "您有未结清的住房公积金贷款，结清后才能办理转出",
            )
        )
    if direction == "out" and facts.status == "sealed" and facts.balance <= 0:
        found.append(Refusal("transfer.nothing_to_transfer", "您的账户没有余额，无需办理转出"))
    if facts.open_transfers:
        found.append(
            Refusal(
                "transfer.open_application_exists",
                "您有一笔转移接续正在办理中，请待其办结后再申请",
            )
        )
    return found


def assess(direction: str, facts: TransferFacts) -> list[Refusal]:
    """Every refusal that applies to ``direction`` now (empty: may apply)."""
    if direction not in DIRECTIONS:
        raise ValueError(f"unknown direction {direction!r}")
    return _refusals(direction, facts)


def check_request(direction: str, other_centre: str, facts: TransferFacts) -> Refusal | None:
    """The first refusal of a concrete application, or ``None``."""
    if direction not in DIRECTIONS:
        return Refusal(
            "transfer.direction_unknown",
            "转移方向应为转入（in）或转出（out）",
            INVALID,
            "direction",
        )
    refusals = assess(direction, facts)
    if refusals:
        return refusals[0]
    if other_centre.strip() == facts.centre_name:
        return Refusal(
            "transfer.same_centre",
            "转出地与转入地不能是同一个公积金中心",
            INVALID,
            "other_centre",
        )
    return None


def ledger_kind(direction: str) -> str:
    """The ledger entry that moves a transfer's money here (转入) or away (转出)."""
    return "transfer_in" if direction == "in" else "transfer_out"
