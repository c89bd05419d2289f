"""Marshmallow shapes of the withdrawal endpoints."""

from __future__ import annotations

from typing import Any

import marshmallow as ma
from marshmallow import fields

from backend.applications.schemas import ApplicationSchema
from backend.fields import Amount, LocalDateTime, money
from backend.withdrawals.models import ARRANGEMENT_STATUS
from backend.withdrawals.rules import REASONS


class EligibilityArgsSchema(ma.Schema):
    reason = fields.String(
        load_default=None,
        metadata={"description": "rent | purchase | loan_repayment | retirement | leaving"},
    )


class RefusalSchema(ma.Schema):
    error_code = fields.String()
    message = fields.String()


class ReasonEligibilitySchema(ma.Schema):
    reason = fields.String()
    reason_name = fields.String()
    eligible = fields.Boolean()
    withdrawable = money(metadata={"description": "the most this reason can take now"})
    full_balance_only = fields.Boolean()
    limits = fields.List(fields.String())
    refusals = fields.List(fields.Nested(RefusalSchema))


class EligibilitySchema(ma.Schema):
    balance = money()
    reserved = money(metadata={"description": "held by open withdrawal applications"})
    available = money(metadata={"description": "balance less reserved"})
    reasons = fields.List(fields.Nested(ReasonEligibilitySchema), attribute="assessments")


class WithdrawalInSchema(ma.Schema):
    reason = fields.String(required=True, metadata={"description": ", ".join(REASONS)})
    amount = Amount(required=True, metadata={"description": 'yuan, e.g. "1500.00"'})
    bank_name = fields.String(required=True, validate=ma.validate.Length(min=2, max=60))
    bank_account = fields.String(
        required=True,
        validate=ma.validate.Regexp(r"^\d{12,30}$", error="银行卡号应为12至30位数字"),
    )
    sms_code = fields.String(required=True, validate=ma.validate.Length(min=4, max=8))
    document_no = fields.String(
        load_default=None,
        validate=ma.validate.Length(max=40),
        metadata={"description": "purchase: 购房合同编号或不动产权证号"},
    )
    loan_contract_no = fields.String(
        load_default=None,
        validate=ma.validate.Length(max=40),
        metadata={"description": "loan_repayment: 借款合同编号"},
    )
    remark = fields.String(load_default=None, validate=ma.validate.Length(max=200))


# Details the member may see again (the encrypted bank account stays inside).
PUBLIC_DETAILS = (
    "reason_name",
    "account_no",
    "bank_name",
    "bank_account_masked",
    "closes_account",
    "document_no",
    "loan_contract_no",
    "remark",
)


class WithdrawalApplicationSchema(ApplicationSchema):
    """The application as 我发起的 shows it, with the reason's name; the encrypted bank account
    stays inside."""

    reason_name = fields.Function(lambda a: REASONS.get(a.reason, a.reason))

    @ma.post_dump
    def _public_details(self, data: dict[str, Any], **_kwargs: Any) -> dict[str, Any]:
        details = data.get("details") or {}
        data["details"] = {k: details[k] for k in PUBLIC_DETAILS if k in details}
        return data


class ArrangementEligibilitySchema(ma.Schema):
    eligible = fields.Boolean()
    monthly_limit = money(
        attribute="withdrawable", metadata={"description": "the most a month may take"}
    )
    limits = fields.List(fields.String())
    refusals = fields.List(fields.Nested(RefusalSchema))


class ArrangementInSchema(ma.Schema):
    monthly_amount = Amount(required=True, metadata={"description": 'yuan a month, e.g. "1000.00"'})
    bank_name = fields.String(required=True, validate=ma.validate.Length(min=2, max=60))
    bank_account = fields.String(
        required=True,
        validate=ma.validate.Regexp(r"^\d{12,30}$", error="银行卡号应为12至30位数字"),
    )
    sms_code = fields.String(required=True, validate=ma.validate.Length(min=4, max=8))


class RentTransferSchema(ma.Schema):
    txn_date = fields.Date(metadata={"description": "提取日期"})
    month = fields.Function(lambda t: f"{t.txn_date:%Y-%m}", metadata={"description": "所属月份"})
    amount = fields.Function(lambda t: f"{-t.amount:.2f}", metadata={"description": "提取金额"})
    balance_after = money()
    summary = fields.String()


class ArrangementSchema(ma.Schema):
    arrangement_no = fields.String(metadata={"description": "委托编号"})
    status = fields.String(metadata={"description": "active | stopped"})
    status_name = fields.Function(lambda a: ARRANGEMENT_STATUS.get(a.status, a.status))
    monthly_amount = money()
    bank_name = fields.String()
    bank_account_masked = fields.String()
    created_at = LocalDateTime()
    stopped_at = LocalDateTime(allow_none=True)
    stopped_by = fields.String(allow_none=True, metadata={"description": "member | centre"})
    stop_reason = fields.String(allow_none=True)
    transfer_count = fields.Function(lambda a: len(a.transfers))
    total_transferred = money()
    transfers = fields.List(fields.Nested(RentTransferSchema))


class ArrangementListSchema(ma.Schema):
    items = fields.List(fields.Nested(ArrangementSchema))
