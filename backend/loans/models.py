"""Loan contracts (借款合同), their rate history and repayments (还款明细)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from sqlalchemy import JSON, Date, ForeignKey, Index, Integer, Numeric, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from backend.clock import utcnow
from backend.db import Base, Money, UtcDateTime

LOAN_STATUS = {
    "approving": "审批中",
    "signed": "已签合同未放款",
    "repaying": "还款中",
    "settled": "已结清",
    "overdue": "逾期",
}
LOAN_METHODS = {"equal_installment": "等额本息", "equal_principal": "等额本金"}
REPAYMENT_CHANNELS = {
    "self": "自还",
    "entrusted": "委托扣划",
    "fund_offset": "公积金冲还",
    "prepayment": "提前还款",
}
PREPAYMENT_STATUS = {"pending": "待中心确认", "booked": "已办理", "refused": "未通过"}
PREPAYMENT_KINDS = {"full": "全部提前还款", "partial": "部分提前还款"}
PREPAYMENT_OPTIONS = {"shorten_term": "缩短期限", "reduce_instalment": "减少月供"}


class LoanContract(Base):
    __tablename__ = "loan_contracts"
    __table_args__ = (Index("ix_loan_contracts_member", "member_id", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    contract_no: Mapped[str] = mapped_column(String(32), unique=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id"))
    application_id: Mapped[int | None] = mapped_column(ForeignKey("applications.id"), index=True)
    amount: Mapped[Decimal] = mapped_column(Money)
    term_months: Mapped[int] = mapped_column(Integer)
    method: Mapped[str] = mapped_column(String(20))
    status: Mapped[str] = mapped_column(String(16))
    first_home: Mapped[bool] = mapped_column(default=True)
    signed_on: Mapped[dt.date | None] = mapped_column(Date)
    disbursed_on: Mapped[dt.date | None] = mapped_column(Date)
    first_due_date: Mapped[dt.date | None] = mapped_column(Date)
    repayment_day: Mapped[int | None] = mapped_column(Integer)
    balance: Mapped[Decimal] = mapped_column(Money, default=Decimal("0.00"))  # remaining principal
    bank_name: Mapped[str] = mapped_column(String(60), default="")
    settled_on: Mapped[dt.date | None] = mapped_column(Date)
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow, onupdate=utcnow)

    rates: Mapped[list[LoanRate]] = relationship(order_by="LoanRate.effective_from")


class LoanRate(Base):
    """Rate history: the contract re-prices each 1 January after a benchmark change."""

    __tablename__ = "loan_rates"
    __table_args__ = (UniqueConstraint("contract_id", "effective_from"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    contract_id: Mapped[int] = mapped_column(ForeignKey("loan_contracts.id"))
    effective_from: Mapped[dt.date] = mapped_column(Date)
    annual_rate: Mapped[Decimal] = mapped_column(Numeric(7, 4))  # percent: 2.6000 = 2.6 %


class LoanRepayment(Base):
    __tablename__ = "loan_repayments"
    __table_args__ = (Index("ix_loan_repayments_contract_paid", "contract_id", "paid_on", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    contract_id: Mapped[int] = mapped_column(ForeignKey("loan_contracts.id"))
    period: Mapped[int] = mapped_column(Integer)
    due_date: Mapped[dt.date] = mapped_column(Date)
    paid_on: Mapped[dt.date] = mapped_column(Date)
    principal: Mapped[Decimal] = mapped_column(Money)
    interest: Mapped[Decimal] = mapped_column(Money)
    penalty: Mapped[Decimal] = mapped_column(Money, default=Decimal("0.00"))
    balance_after: Mapped[Decimal] = mapped_column(Money)
    channel: Mapped[str] = mapped_column(String(16), default="entrusted")
    external_id: Mapped[str | None] = mapped_column(String(64), unique=True)
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)

    @property
    def amount(self) -> Decimal:
        """What the member paid for the period: principal, interest and penalty."""
        return self.principal + self.interest + self.penalty


class LoanPrepayment(Base):
    """提前还款申请: booked by the member for a date, confirmed or refused by the core system.
    At most one is pending per contract (checked under the member's account row lock)."""

    __tablename__ = "loan_prepayments"
    __table_args__ = (Index("ix_loan_prepayments_contract", "contract_id", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    prepayment_no: Mapped[str] = mapped_column(String(32), unique=True)
    contract_id: Mapped[int] = mapped_column(ForeignKey("loan_contracts.id"))
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id"), index=True)
    kind: Mapped[str] = mapped_column(String(8))  # PREPAYMENT_KINDS
    option: Mapped[str | None] = mapped_column(String(20))  # PREPAYMENT_OPTIONS (partial)
    amount: Mapped[Decimal | None] = mapped_column(Money)  # principal asked for (partial)
    prepay_on: Mapped[dt.date] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(12), default="pending")
    # The trial figures shown to the member when booking (strings, as answered).
    quote: Mapped[dict[str, Any]] = mapped_column(JSON)
    opinion: Mapped[str] = mapped_column(String(200), default="")
    # The core system's decision: its event id and the hash of the whole request (a replay must
    # match it), and what it booked.
    decision_event_id: Mapped[str | None] = mapped_column(String(64))
    decision_hash: Mapped[str | None] = mapped_column(String(64))
    booked_principal: Mapped[Decimal | None] = mapped_column(Money)
    booked_interest: Mapped[Decimal | None] = mapped_column(Money)
    decided_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)

    # Many-to-one by primary key: read from the session's identity map once the contract is
    # loaded (the member's contract always is), so a list of bookings costs no extra query.
    contract: Mapped[LoanContract] = relationship()
