"""HTTP shapes of the loans feature; they dump the loans' domain objects (contracts, repayments,
bookings, applications and the services' frozen dataclasses). Money leaves as strings
("1234.50"), dates as YYYY-MM-DD, times in Asia/Shanghai with their offset."""

from __future__ import annotations

from typing import Any

import marshmallow as ma
from marshmallow import fields, validate

from backend.applications.models import APPLICATION_KINDS, APPLICATION_STATUS, NODE_STATES
from backend.fields import Amount, InputDate, Label, LocalDateTime, Notice
from backend.loans.loan_applications import LOAN_PURPOSES
from backend.loans.models import (
    LOAN_METHODS,
    LOAN_STATUS,
    PREPAYMENT_KINDS,
    PREPAYMENT_OPTIONS,
    PREPAYMENT_STATUS,
    REPAYMENT_CHANNELS,
)
from backend.pagination import PageArgsSchema

REQUIRED: dict[str, str | list[Any] | dict[Any, Any]] = {
    "required": "此项为必填项",
    "null": "此项不能为空",
}


def Money(**kwargs: Any) -> fields.Decimal:  # noqa: N802 - reads as a field type
    return fields.Decimal(as_string=True, places=2, **kwargs)


def Rate(**kwargs: Any) -> fields.Decimal:  # noqa: N802
    return fields.Decimal(
        as_string=True, metadata={"description": "annual rate in percent (2.6 = 2.6%)"}, **kwargs
    )


# A method's label, whether the contract holds its code or (from the core system) its label.
METHOD_LABELS = {**LOAN_METHODS, **{label: label for label in LOAN_METHODS.values()}}


class Opinion(fields.String):
    """The centre's opinion; none given (an empty text) is null."""

    def _serialize(self, value: Any, attr: str | None, obj: Any, **kwargs: Any) -> Any:
        return super()._serialize(value or None, attr, obj, **kwargs)


# --- contracts -----------------------------------------------------------------------------------


class LoanSummarySchema(ma.Schema):
    contract_no = fields.String(required=True)
    status = fields.String(
        required=True, metadata={"description": "approving|signed|repaying|settled|overdue"}
    )
    status_label = Label(LOAN_STATUS, of="status", required=True)
    amount = Money(required=True)
    term_months = fields.Integer(required=True)
    method = fields.String(required=True)
    method_label = Label(METHOD_LABELS, of="method", required=True)
    disbursed_on = fields.Date(allow_none=True)
    bank_name = fields.String()


class LoanListSchema(ma.Schema):
    items = fields.List(fields.Nested(LoanSummarySchema), required=True)
    next_cursor = fields.String(allow_none=True)
    notice = Notice(metadata={"description": "present when the member has no loan"})


class LoanTermSchema(ma.Schema):
    years = fields.Integer(required=True)
    months = fields.Integer(required=True)


class LoanNextDueSchema(ma.Schema):
    period = fields.Integer(required=True)
    due_date = fields.Date(required=True)
    amount = Money(required=True, attribute="payment")
    principal = Money(required=True)
    interest = Money(required=True)


class LoanOverdueSchema(ma.Schema):
    periods = fields.Integer(required=True)
    amount = Money(required=True)
    penalty = Money(required=True, metadata={"description": "罚息 to date"})
    days = fields.Integer(required=True, metadata={"description": "days the oldest period is late"})


class LoanInfoSchema(LoanSummarySchema):
    """A :class:`backend.loans.services.LoanInfo`: the figures are left out before disbursal."""

    term = fields.Nested(LoanTermSchema, required=True)
    signed_on = fields.Date(allow_none=True)
    notice = Notice(metadata={"description": "此合同【…】的贷款未发放, when not disbursed"})
    annual_rate = Rate(allow_none=True, attribute="figures.annual_rate")
    monthly_payment = Money(allow_none=True, attribute="figures.monthly_payment")
    remaining_balance = Money(allow_none=True, attribute="figures.remaining_balance")
    paid_periods = fields.Integer(allow_none=True, attribute="figures.paid_periods")
    remaining_periods = fields.Integer(allow_none=True, attribute="figures.remaining_periods")
    end_date = fields.Date(allow_none=True, attribute="figures.end_date")
    next_due = fields.Nested(LoanNextDueSchema, allow_none=True, attribute="figures.next_due")
    overdue = fields.Nested(LoanOverdueSchema, allow_none=True, attribute="figures.overdue")


class LoanNodeSchema(ma.Schema):
    seq = fields.Integer(required=True)
    name = fields.String(required=True)
    state = fields.String(required=True, metadata={"description": "done|current|pending"})
    state_label = Label(NODE_STATES, of="state", required=True)
    acted_at = LocalDateTime(allow_none=True)
    opinion = fields.String(allow_none=True)
    handler = fields.String(allow_none=True)


class LoanProgressSchema(ma.Schema):
    contract_no = fields.String(required=True, attribute="contract.contract_no")
    status = fields.String(required=True, attribute="contract.status")
    status_label = Label(LOAN_STATUS, of="contract.status", required=True)
    application_no = fields.String(allow_none=True)
    nodes = fields.List(fields.Nested(LoanNodeSchema), required=True)


# --- repayments and schedules ---------------------------------------------------------------------


class LoanRepaymentArgsSchema(PageArgsSchema):
    start = InputDate(load_default=None, metadata={"description": "paid on or after"})
    end = InputDate(load_default=None, metadata={"description": "paid on or before"})


class LoanRepaymentSchema(ma.Schema):
    period = fields.Integer(required=True)
    due_date = fields.Date(required=True)
    paid_on = fields.Date(required=True)
    principal = Money(required=True)
    interest = Money(required=True)
    penalty = Money(required=True)
    amount = Money(required=True, metadata={"description": "principal + interest + penalty"})
    balance_after = Money(required=True)
    channel = fields.String(required=True, metadata={"description": "self|entrusted|fund_offset"})
    channel_label = Label(
        REPAYMENT_CHANNELS,
        of="channel",
        required=True,
        metadata={"description": "自还|委托扣划|公积金冲还"},
    )


class LoanRepaymentListSchema(ma.Schema):
    items = fields.List(fields.Nested(LoanRepaymentSchema), required=True)
    next_cursor = fields.String(allow_none=True)
    notice = Notice()


class LoanScheduleRowSchema(ma.Schema):
    period = fields.Integer(required=True)
    due_date = fields.Date(required=True)
    payment = Money(required=True)
    principal = Money(required=True)
    interest = Money(required=True)
    remaining = Money(required=True)


class LoanPlanRowSchema(LoanScheduleRowSchema):
    paid = fields.Boolean(required=True)


class LoanPlanTotalsSchema(ma.Schema):
    total_payment = Money(required=True)
    total_interest = Money(required=True)
    paid_principal = Money(required=True)
    paid_interest = Money(required=True)
    remaining_principal = Money(required=True)
    remaining_interest = Money(required=True)
    remaining_payment = Money(required=True)
    remaining_periods = fields.Integer(required=True)


class LoanPlanSchema(ma.Schema):
    contract_no = fields.String(required=True)
    method = fields.String()
    method_label = fields.String()
    notice = fields.String()
    totals = fields.Nested(LoanPlanTotalsSchema, allow_none=True)
    schedule = fields.List(fields.Nested(LoanPlanRowSchema), required=True)


# --- prepayment quotes ------------------------------------------------------------------------------


class PrepaymentQuoteRequestSchema(ma.Schema):
    kind = fields.String(
        required=True,
        error_messages=REQUIRED,
        validate=validate.OneOf(["partial", "full"], error="kind 须为 partial 或 full"),
    )
    option = fields.String(
        load_default=None,
        validate=validate.OneOf(
            ["shorten_term", "reduce_instalment"],
            error="option 须为 shorten_term（缩短期限）或 reduce_instalment（减少月供）",
        ),
    )
    amount = Amount(
        load_default=None,
        metadata={"description": 'principal to prepay (partial only), a string like "50000.00"'},
    )

    @ma.validates_schema
    def _partial_needs_option_and_amount(self, data: dict[str, Any], **_: Any) -> None:
        if data["kind"] != "partial":
            return
        errors = {}
        if data.get("option") is None:
            errors["option"] = ["部分提前还款须选择缩短期限或减少月供"]
        if data.get("amount") is None:
            errors["amount"] = ["部分提前还款须填写金额"]
        if errors:
            raise ma.ValidationError(errors)


class PrepaymentQuoteSchema(ma.Schema):
    """A :class:`backend.loans.prepayments.ContractQuote`."""

    contract_no = fields.String(required=True)
    kind = fields.String(required=True)
    option = fields.String(allow_none=True)
    quote_date = fields.Date(required=True, attribute="quote.on")
    balance = Money(
        required=True,
        attribute="quote.balance",
        metadata={"description": "principal outstanding today"},
    )
    prepaid_principal = Money(required=True, attribute="quote.prepaid_principal")
    accrued_interest = Money(
        required=True,
        attribute="quote.accrued_interest",
        metadata={"description": "interest charged today"},
    )
    amount_due = Money(
        required=True, attribute="quote.amount_due", metadata={"description": "to pay today"}
    )
    current_payment = Money(required=True, attribute="quote.old_payment")
    current_months = fields.Integer(required=True, attribute="quote.old_months")
    current_end_date = fields.Date(required=True, attribute="quote.old_end_date")
    new_payment = Money(allow_none=True, attribute="quote.new_payment")
    new_months = fields.Integer(required=True, attribute="quote.new_months")
    new_end_date = fields.Date(allow_none=True, attribute="quote.new_end_date")
    interest_saved = Money(required=True, attribute="quote.interest_saved")


# --- prepayment bookings (提前还款申请) ---------------------------------------------------------------


class PrepaymentRequestSchema(PrepaymentQuoteRequestSchema):
    prepay_on = InputDate(
        required=True,
        error_messages=REQUIRED,
        metadata={
            "description": "提前还款日期 YYYY-MM-DD: after today, before the next due date, "
            "outside the deduction window"
        },
    )
    sms_code = fields.String(
        required=True, error_messages=REQUIRED, validate=validate.Length(min=1, max=10)
    )


class PrepaymentSchema(ma.Schema):
    prepayment_no = fields.String(required=True)
    contract_no = fields.String(required=True, attribute="contract.contract_no")
    kind = fields.String(required=True, metadata={"description": "full | partial"})
    kind_label = Label(PREPAYMENT_KINDS, of="kind", required=True)
    option = fields.String(
        allow_none=True, metadata={"description": "shorten_term | reduce_instalment"}
    )
    option_label = Label(PREPAYMENT_OPTIONS, of="option", allow_none=True)
    amount = Money(allow_none=True, metadata={"description": "principal asked for (partial)"})
    prepay_on = fields.Date(required=True)
    status = fields.String(required=True, metadata={"description": "pending | booked | refused"})
    status_label = Label(PREPAYMENT_STATUS, of="status", required=True)
    quote = fields.Dict(
        required=True,
        metadata={"description": "the trial figures when booked, shaped as PrepaymentQuote"},
    )
    opinion = Opinion(allow_none=True, metadata={"description": "the centre's reason (refused)"})
    booked_principal = Money(allow_none=True)
    booked_interest = Money(allow_none=True)
    created_at = LocalDateTime(required=True)
    decided_at = LocalDateTime(allow_none=True)


class PrepaymentListSchema(ma.Schema):
    items = fields.List(fields.Nested(PrepaymentSchema), required=True)


# --- calculator -----------------------------------------------------------------------------------------


class LoanCalculatorArgsSchema(ma.Schema):
    # Strings on purpose (the principal an Amount like every money input): the rules check
    # bounds and report every bad field in one 422.
    principal = Amount(
        required=True, error_messages=REQUIRED, metadata={"description": 'CNY, e.g. "1000000"'}
    )
    months = fields.String(
        required=True, error_messages=REQUIRED, metadata={"description": "1–360"}
    )
    annual_rate = fields.String(
        required=True, error_messages=REQUIRED, metadata={"description": "percent: 2.6 = 2.6%"}
    )
    method = fields.String(
        required=True,
        error_messages=REQUIRED,
        metadata={"description": "equal_installment | equal_principal"},
    )


class LoanCalculatorSchema(ma.Schema):
    """A :class:`backend.loans.calculator.Calculation`."""

    principal = Money(required=True, attribute="terms.principal")
    months = fields.Integer(required=True, attribute="terms.months")
    annual_rate = Rate(required=True)
    method = fields.String(required=True, attribute="terms.method")
    method_label = fields.String(required=True, attribute="terms.method.label")
    monthly_payment = Money(
        required=True,
        attribute="schedule.monthly_payment",
        metadata={"description": "first period's payment"},
    )
    last_payment = Money(required=True)
    total_payment = Money(required=True, attribute="schedule.total_payment")
    total_interest = Money(required=True, attribute="schedule.total_interest")
    schedule = fields.List(
        fields.Nested(LoanScheduleRowSchema), required=True, attribute="schedule.periods"
    )


# --- loan applications ------------------------------------------------------------------------------------


class LoanApplicationRequestSchema(ma.Schema):
    amount = Amount(required=True, error_messages=REQUIRED, metadata={"description": "CNY"})
    term_months = fields.Integer(
        required=True, error_messages=REQUIRED, metadata={"description": "1–360"}
    )
    method = fields.String(
        required=True, error_messages=REQUIRED, validate=validate.OneOf(list(LOAN_METHODS))
    )
    purpose = fields.String(load_default="purchase", validate=validate.OneOf(list(LOAN_PURPOSES)))
    first_home = fields.Boolean(load_default=True)
    sms_code = fields.String(
        required=True, error_messages=REQUIRED, validate=validate.Length(min=1, max=10)
    )


class LoanQuotaArgsSchema(ma.Schema):
    term_months = fields.Integer(load_default=360, metadata={"description": "1–360"})
    first_home = fields.Boolean(load_default=True)


class LoanQuotaSchema(ma.Schema):
    amount_limit = Money(
        required=True,
        allow_none=True,
        metadata={"description": "可贷额度: balance × multiple, capped; null without an account"},
    )
    balance = Money(required=True, allow_none=True)
    balance_multiple = fields.Decimal(as_string=True, required=True)
    ceiling = Money(required=True)
    term_months = fields.Integer(required=True)
    max_term_months = fields.Integer(required=True)
    first_home = fields.Boolean(required=True)
    annual_rate = Rate(required=True)
    notice = Notice(metadata={"description": "why an application would be refused"})


class LoanApplicationSchema(ma.Schema):
    id = fields.Integer(required=True)
    application_no = fields.String(required=True)
    kind = fields.String(required=True)
    kind_label = Label(APPLICATION_KINDS, of="kind", required=True)
    reason = fields.String(required=True)
    amount = Money(allow_none=True)
    status = fields.String(required=True)
    status_label = Label(APPLICATION_STATUS, of="status", required=True)
    details = fields.Dict(required=True)
    submitted_at = LocalDateTime(required=True)
    nodes = fields.List(fields.Nested(LoanNodeSchema), required=True)
