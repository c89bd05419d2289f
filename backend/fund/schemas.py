"""Marshmallow shapes of the fund endpoints (account header, ledger)."""

from __future__ import annotations

from typing import Any

import marshmallow as ma
from marshmallow import fields

from backend.accounts.models import ACCOUNT_STATUS, TRANSACTION_KINDS
from backend.accounts.rules import rate_text
from backend.fields import InputDate, Label, money
from backend.pagination import PageArgsSchema


class EmployerSchema(ma.Schema):
    name = fields.String()
    unit_account_no = fields.String()


class DepositRate(fields.String):
    """A deposit rate as the centre prints it: ``Decimal("0.12")`` → ``"12%"``."""

    def _serialize(self, value: Any, attr: str | None, obj: Any, **kwargs: Any) -> Any:
        return None if value is None else rate_text(value)


class FundAccountSchema(ma.Schema):
    """A :class:`backend.fund.services.AccountHeader`."""

    account_no = fields.String(attribute="account.account_no")
    status = fields.String(
        attribute="account.status", metadata={"description": "normal | sealed | frozen | closed"}
    )
    status_name = Label(
        ACCOUNT_STATUS, of="account.status", metadata={"description": "正常/封存/冻结/销户"}
    )
    balance = money(attribute="account.balance")
    deposit_base = money(attribute="account.deposit_base", metadata={"description": "缴存基数"})
    employee_rate = DepositRate(
        attribute="account.employee_rate", metadata={"description": "个人缴存比例，如 12%"}
    )
    employer_rate = DepositRate(
        attribute="account.employer_rate", metadata={"description": "单位缴存比例，如 12%"}
    )
    monthly_amount = money(attribute="account.monthly_amount", metadata={"description": "月缴存额"})
    paid_through = fields.String(
        attribute="account.paid_through",
        allow_none=True,
        metadata={"description": "缴至年月 YYYY-MM"},
    )
    employer = fields.Nested(EmployerSchema, allow_none=True)
    opened_on = fields.Date(attribute="account.opened_on")


class TransactionArgsSchema(PageArgsSchema):
    start = InputDate(
        "%Y-%m-%d", load_default=None, metadata={"description": "开始日期（含）YYYY-MM-DD"}
    )
    end = InputDate(
        "%Y-%m-%d", load_default=None, metadata={"description": "结束日期（含）YYYY-MM-DD"}
    )


class TransactionSchema(ma.Schema):
    id = fields.Integer()
    txn_date = fields.Date()
    kind = fields.String(
        metadata={
            "description": "deposit | supplementary | withdrawal | interest | transfer_in | transfer_out"
        }
    )
    kind_name = fields.Function(
        lambda t: TRANSACTION_KINDS.get(t.kind, t.kind),
        metadata={"description": "汇缴/补缴/提取/结息/转入/转出"},
    )
    amount = money(metadata={"description": "signed: credits positive, debits negative"})
    balance_after = money()
    period_month = fields.String(allow_none=True)
    summary = fields.String()


class TransactionPageSchema(ma.Schema):
    start = fields.Date(metadata={"description": "the range queried (defaults applied)"})
    end = fields.Date()
    items = fields.List(fields.Nested(TransactionSchema))
    next_cursor = fields.String(allow_none=True)
