"""Marshmallow shapes of the fund endpoints (account header, ledger)."""

from __future__ import annotations

import marshmallow as ma
from marshmallow import fields

from backend.accounts.models import TRANSACTION_KINDS
from backend.fields import InputDate, money
from backend.pagination import PageArgsSchema


class EmployerSchema(ma.Schema):
    name = fields.String()
    unit_account_no = fields.String()


class FundAccountSchema(ma.Schema):
    account_no = fields.String()
    status = fields.String(metadata={"description": "normal | sealed | frozen | closed"})
    status_name = fields.String(metadata={"description": "正常/封存/冻结/销户"})
    balance = money()
    deposit_base = money(metadata={"description": "缴存基数"})
    employee_rate = fields.String(metadata={"description": "个人缴存比例，如 12%"})
    employer_rate = fields.String(metadata={"description": "单位缴存比例，如 12%"})
    monthly_amount = money(metadata={"description": "月缴存额"})
    paid_through = fields.String(allow_none=True, metadata={"description": "缴至年月 YYYY-MM"})
    employer = fields.Nested(EmployerSchema, allow_none=True)
    opened_on = fields.Date()


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
