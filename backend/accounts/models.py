"""Fund accounts (个人账户) and their ledger (缴存支取明细): the data every money feature reads
(fund, withdrawals, loans, transfers, the internal API), below all of them."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from sqlalchemy import Date, ForeignKey, Index, Numeric, String
from sqlalchemy.orm import Mapped, mapped_column

from backend.clock import utcnow
from backend.db import Base, Money, UtcDateTime

# status codes → the centre's names
ACCOUNT_STATUS = {"normal": "正常", "sealed": "封存", "frozen": "冻结", "closed": "销户"}
# kind codes → the centre's names; amounts are signed (credits positive)
TRANSACTION_KINDS = {
    "deposit": "汇缴",
    "supplementary": "补缴",
    "withdrawal": "提取",
    "interest": "结息",
    "transfer_in": "转入",
    "transfer_out": "转出",
}


class FundAccount(Base):
    __tablename__ = "fund_accounts"

    id: Mapped[int] = mapped_column(primary_key=True)
    account_no: Mapped[str] = mapped_column(String(32), unique=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id"), unique=True)
    employer_id: Mapped[int | None] = mapped_column(ForeignKey("employers.id"), index=True)
    status: Mapped[str] = mapped_column(String(16), default="normal")
    balance: Mapped[Decimal] = mapped_column(Money, default=Decimal("0.00"))
    deposit_base: Mapped[Decimal] = mapped_column(Money, default=Decimal("0.00"))
    employee_rate: Mapped[Decimal] = mapped_column(Numeric(5, 4), default=Decimal("0.12"))
    employer_rate: Mapped[Decimal] = mapped_column(Numeric(5, 4), default=Decimal("0.12"))
    monthly_amount: Mapped[Decimal] = mapped_column(Money, default=Decimal("0.00"))
    paid_through: Mapped[str | None] = mapped_column(String(7))  # 缴至年月, "YYYY-MM"
    opened_on: Mapped[dt.date] = mapped_column(Date)
    closed_on: Mapped[dt.date | None] = mapped_column(Date)
    # Retirement (办理退休) recorded by the core system: it opens the retirement withdrawal
    # whatever the statutory age computed from the ID number says (e.g. a woman worker at 50).
    retired_on: Mapped[dt.date | None] = mapped_column(Date)
    updated_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow, onupdate=utcnow)


class FundTransaction(Base):
    __tablename__ = "fund_transactions"
    __table_args__ = (
        # 缴存支取明细 by date range, newest first, keyset on (txn_date, id)
        Index("ix_fund_transactions_member_date", "member_id", "txn_date", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("fund_accounts.id"), index=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id"))
    txn_date: Mapped[dt.date] = mapped_column(Date)
    kind: Mapped[str] = mapped_column(String(16))
    amount: Mapped[Decimal] = mapped_column(Money)
    balance_after: Mapped[Decimal] = mapped_column(Money)
    period_month: Mapped[str | None] = mapped_column(String(7))  # "YYYY-MM" the deposit covers
    summary: Mapped[str] = mapped_column(String(200), default="")
    # The core system's own id: a replayed feed never books twice.
    external_id: Mapped[str | None] = mapped_column(String(64), unique=True)
    # A monthly rent withdrawal paid under an arrangement (租房委托提取).
    rent_arrangement_id: Mapped[int | None] = mapped_column(
        ForeignKey("rent_arrangements.id"), index=True
    )
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)
