"""Who the demo members are made to be: the showcase (one of each case a demo wants to show, the
first members of any centre) and the random profiles of everyone after them."""

from __future__ import annotations

import random
from dataclasses import dataclass

from devtools.seed.common import pick, weighted

DEMO_PASSWORD = "Demo2024"  # noqa: S105 - the published demo password (6–18 letters+digits)
ACCOUNT_STATUSES = ("normal", "sealed", "frozen", "closed")
LOAN_STATES = ("approving", "signed", "repaying", "settled", "overdue")

_LOAN_STATE_WEIGHTS = weighted(
    (("repaying", 50), ("settled", 16), ("overdue", 12), ("approving", 11), ("signed", 11))
)
_STATUS_WEIGHTS = weighted((("normal", 76), ("sealed", 11), ("frozen", 4), ("closed", 9)))


@dataclass(frozen=True)
class Profile:
    """What a member is made to have. The first members follow :data:`SHOWCASE` so a demo of
    any size has one of each; the rest are drawn at random."""

    note: str = ""
    phone: bool = True
    registered: bool = True
    status: str = "normal"
    loan: str | None = None
    many_messages: bool = False
    open_withdrawal: bool = False
    retired: bool = False  # past the statutory age, retirement recorded by the core system
    # 提前还款申请: "booked" (the loan was settled early by a full prepayment the core booked),
    # "pending" (one waiting for the core system, and an earlier refused one)
    prepayment: str | None = None
    rent_plan: str | None = None  # a monthly rent withdrawal arrangement: active | stopped
    transfer: str | None = None  # a transfer in from another city: moving | arrived


SHOWCASE: tuple[Profile, ...] = (
    Profile("还款中的贷款，消息超过 60 条（可试分页）", loan="repaying", many_messages=True),
    Profile("贷款逾期（罚息、待办）", loan="overdue"),
    Profile("贷款审批中（可看审批进度）", loan="approving"),
    Profile("已签合同未放款", loan="signed"),
    Profile(
        "贷款已提前结清（提前还款已办理，可开具结清证明）", loan="settled", prepayment="booked"
    ),
    Profile("提前还款申请待中心确认（另有一笔未通过）", loan="repaying", prepayment="pending"),
    Profile("提取申请办理中", open_withdrawal=True),
    Profile("已退休、账户封存（可办理离退休提取）", status="sealed", retired=True),
    Profile("账户封存", status="sealed"),
    Profile("账户冻结", status="frozen"),
    Profile("账户已销户", status="closed"),
    Profile("未注册（可试注册）", registered=False),
    Profile("未注册且无预留手机号", phone=False, registered=False),
    Profile("租房按月提取委托中（本月已提取）", rent_plan="active"),
    Profile("租房按月提取已终止（可重新办理）", rent_plan="stopped"),
    Profile("异地转入办理中（资金划转）", transfer="moving"),
    Profile("异地转入已到账", transfer="arrived"),
)


@dataclass(frozen=True)
class DemoMember:
    """One line of ``demo-members.csv`` (plus the showcase note, which the CSV does not carry)."""

    id_number: str
    name: str
    phone: str | None
    registered: bool
    password: str | None
    has_loan: bool
    note: str = ""
    rent_plan: str | None = None
    transfer: str | None = None


def random_profile(rng: random.Random) -> Profile:
    phone = rng.random() < 0.92
    registered = phone and rng.random() < 0.65
    many = rng.random() < 0.01
    if rng.random() < 0.34:
        return Profile(
            phone=phone,
            registered=registered,
            loan=pick(rng, _LOAN_STATE_WEIGHTS),
            many_messages=many,
        )
    status = pick(rng, _STATUS_WEIGHTS)
    return Profile(
        phone=phone,
        registered=registered,
        status=status,
        many_messages=many,
        open_withdrawal=status == "normal" and rng.random() < 0.08,
    )
