"""Marshmallow shapes of the fund endpoints (account header, ledger, certificates)."""

from __future__ import annotations

from typing import Any

import marshmallow as ma
from marshmallow import fields

from backend.fields import InputDate, Label
from backend.fund.models import ACCOUNT_STATUS, TRANSACTION_KINDS
from backend.fund.services import rate_text
from backend.inbox.schemas import LocalDateTime
from backend.pagination import PageArgsSchema


def money(**kwargs: Any) -> fields.Decimal:
    return fields.Decimal(as_string=True, places=2, **kwargs)


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


class CertificateIssuedSchema(ma.Schema):
    """A :class:`backend.fund.services.IssuedCertificate`."""

    serial_no = fields.String(attribute="certificate.serial_no")
    kind = fields.String(
        attribute="certificate.kind", metadata={"description": "deposit | loan_settlement"}
    )
    verification_code = fields.String(attribute="certificate.verification_code")
    issued_at = LocalDateTime(attribute="certificate.issued_at")
    valid_until = LocalDateTime(attribute="certificate.valid_until")
    pdf_url = fields.String()


class VerifyArgsSchema(ma.Schema):
    code = fields.String(
        required=True,
        validate=ma.validate.Length(min=1, max=32),
        metadata={"description": "verification code printed on the certificate"},
    )


class CertificateVerificationSchema(ma.Schema):
    serial_no = fields.String()
    kind = fields.String(metadata={"description": "deposit | loan_settlement"})
    kind_name = fields.String(metadata={"description": "缴存证明 / 贷款结清证明"})
    status = fields.String(metadata={"description": "valid | void | expired"})
    status_name = fields.String()
    issued_at = LocalDateTime()
    valid_until = LocalDateTime()
    voided_at = LocalDateTime(allow_none=True)
    name = fields.String(metadata={"description": "masked: surname only"})
    id_number_masked = fields.String()
    employer_name = fields.String(
        metadata={"description": "deposit fields: absent for a loan_settlement"}
    )
    account_no = fields.String()
    account_status = fields.String()
    account_status_name = fields.String()
    deposit_base = fields.String()
    monthly_amount = fields.String()
    deposit_from = fields.String(metadata={"description": "opened on"})
    paid_through = fields.String(allow_none=True)
    balance = fields.String()
    contract_no = fields.String(metadata={"description": "loan_settlement: 借款合同编号"})
    loan_amount = fields.String(metadata={"description": "loan_settlement: 贷款金额"})
    term_months = fields.Integer(metadata={"description": "loan_settlement: 贷款期限（月）"})
    disbursed_on = fields.String(metadata={"description": "loan_settlement: 放款日期"})
    settled_on = fields.String(metadata={"description": "loan_settlement: 结清日期"})
    bank_name = fields.String(metadata={"description": "loan_settlement: 承办银行"})
    centre_name = fields.String()
    content_hash = fields.String()
