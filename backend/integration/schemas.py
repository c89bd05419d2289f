"""Payloads of the internal API (core system → hall). Unknown fields are refused (422), so a
typo in the core system's feed surfaces instead of being silently dropped."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal, InvalidOperation
from typing import Any

import marshmallow as ma

from backend.applications.rules import EVENT_TYPES
from backend.applications.schemas import ApplicationSchema
from backend.clock import SHANGHAI
from backend.fields import LocalDateTime
from backend.fund.models import TRANSACTION_KINDS
from backend.inbox.models import MESSAGE_KINDS
from backend.integration.ledger import Booked, sign_error
from backend.integration.loan_events import LOAN_EVENTS, Applied
from backend.loans.models import LOAN_METHODS, LOAN_STATUS, REPAYMENT_CHANNELS
from backend.pii import is_valid_id_number, normalize_id_number

KEY_RE = re.compile(r"^[A-Za-z0-9_.:\-]{1,64}$")
_KEY_ERROR = "应为 1-64 位字母、数字或 _ . : -"
MAX_AMOUNT = Decimal("1000000000000")


class CoreDateTime(ma.fields.DateTime):
    """ISO 8601; a time without an offset is the centre's local time (Asia/Shanghai)."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> dt.datetime:
        parsed: dt.datetime = super()._deserialize(value, attr, data, **kwargs)
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=SHANGHAI)
        return parsed.astimezone(dt.UTC)


class Amount(ma.fields.Field):
    """CNY as a decimal string with at most two places ("1234.50"); numbers are refused so a
    float never touches money."""

    default_error_messages = {"invalid": '金额应为字符串形式的数字，最多两位小数，如 "1234.50"'}

    def _serialize(self, value: Any, attr: str | None, obj: Any, **kwargs: Any) -> Any:
        return None if value is None else f"{value:.2f}"

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Decimal:
        if not isinstance(value, str):
            raise self.make_error("invalid")
        try:
            amount = Decimal(value.strip())
        except InvalidOperation as exc:
            raise self.make_error("invalid") from exc
        if not amount.is_finite() or amount != amount.quantize(Decimal("0.01")):
            raise self.make_error("invalid")
        if abs(amount) >= MAX_AMOUNT:
            raise self.make_error("invalid")
        return amount.quantize(Decimal("0.01"))


def _key(required: bool = True, **kwargs: Any) -> ma.fields.String:
    return ma.fields.String(
        required=required, validate=ma.validate.Regexp(KEY_RE, error=_KEY_ERROR), **kwargs
    )


class MemberRefMixin(ma.Schema):
    id_number = ma.fields.String(metadata={"description": "证件号码 (18 位)"})
    account_no = ma.fields.String(
        validate=ma.validate.Length(min=1, max=32), metadata={"description": "个人公积金账号"}
    )

    @ma.validates("id_number")
    def _valid_id(self, value: str, **_: Any) -> None:
        if not is_valid_id_number(value):
            raise ma.ValidationError("证件号码格式或校验位有误")

    @ma.validates_schema
    def _one_member_ref(self, data: dict[str, Any], **_: Any) -> None:
        if bool(data.get("id_number")) == bool(data.get("account_no")):
            raise ma.ValidationError(
                "id_number 与 account_no 须且只须填写一个", field_name="id_number"
            )

    @ma.post_load
    def _normalise(self, data: dict[str, Any], **_: Any) -> dict[str, Any]:
        if data.get("id_number"):
            data["id_number"] = normalize_id_number(data["id_number"])
        return data


class CoreMessageArgsSchema(MemberRefMixin):
    class Meta:
        unknown = ma.RAISE

    dedupe_key = _key(metadata={"description": "the sender's idempotency key"})
    kind = ma.fields.String(
        load_default="message",
        validate=ma.validate.OneOf(MESSAGE_KINDS),
        metadata={"description": "message (消息) | todo (待办)"},
    )
    business_name = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=60))
    content = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=2000))
    source_channel = ma.fields.String(
        load_default="核心业务系统", validate=ma.validate.Length(min=1, max=30)
    )
    business_type = ma.fields.String(
        load_default="notice", validate=ma.validate.Length(min=1, max=30)
    )
    application_no = ma.fields.String(validate=ma.validate.Length(min=1, max=32))
    due_at = CoreDateTime(metadata={"description": "待办办理期限; todo only"})
    sent_at = CoreDateTime(metadata={"description": "when the core system sent it; default now"})


class CoreMessageSchema(ma.Schema):
    id = ma.fields.Integer()
    kind = ma.fields.String()
    member_id = ma.fields.Integer()
    business_name = ma.fields.String()
    content = ma.fields.String()
    source_channel = ma.fields.String()
    business_type = ma.fields.String()
    application_no = ma.fields.Function(
        lambda m: m.application.application_no if m.application else None
    )
    due_at = LocalDateTime(allow_none=True)
    sent_at = LocalDateTime()
    dedupe_key = ma.fields.Function(lambda m: (m.dedupe_key or "").partition(":")[2])


class TodoDoneArgsSchema(ma.Schema):
    class Meta:
        unknown = ma.RAISE

    done_at = CoreDateTime(metadata={"description": "when it was done; default now"})


class TodoStateSchema(ma.Schema):
    id = ma.fields.Integer()
    member_id = ma.fields.Integer()
    business_name = ma.fields.String()
    done = ma.fields.Function(lambda m: m.done_at is not None)
    done_at = LocalDateTime(allow_none=True)


class ApplicationEventArgsSchema(ma.Schema):
    class Meta:
        unknown = ma.RAISE

    event_id = _key(metadata={"description": "the core system's id of this event (dedupe)"})
    type = ma.fields.String(
        required=True,
        validate=ma.validate.OneOf(tuple(EVENT_TYPES)),
        metadata={"description": " | ".join(EVENT_TYPES)},
    )
    node = ma.fields.String(
        validate=ma.validate.Length(min=1, max=40),
        metadata={"description": "node name; default the current node"},
    )
    opinion = ma.fields.String(
        validate=ma.validate.Length(max=500), metadata={"description": "审批意见"}
    )
    handler = ma.fields.String(
        validate=ma.validate.Length(max=60), metadata={"description": "经办人"}
    )
    at = CoreDateTime(metadata={"description": "办理时间; default now"})


class InternalApplicationSchema(ApplicationSchema):
    member_id = ma.fields.Integer()


class FundTransactionArgsSchema(MemberRefMixin):
    class Meta:
        unknown = ma.RAISE

    external_id = _key(metadata={"description": "the core system's id of the entry (dedupe)"})
    kind = ma.fields.String(
        required=True,
        validate=ma.validate.OneOf(tuple(TRANSACTION_KINDS)),
        metadata={"description": " | ".join(TRANSACTION_KINDS)},
    )
    amount = Amount(
        required=True,
        metadata={"description": "signed: credits positive, withdrawal/transfer_out negative"},
    )
    txn_date = ma.fields.Date(required=True)
    period_month = ma.fields.String(
        validate=ma.validate.Regexp(r"^\d{4}-(0[1-9]|1[0-2])$", error="应为 YYYY-MM"),
        metadata={"description": "汇缴/补缴 month covered"},
    )
    summary = ma.fields.String(load_default="", validate=ma.validate.Length(max=200))
    application_no = ma.fields.String(
        validate=ma.validate.Length(min=1, max=32),
        metadata={
            "description": "withdrawal: the withdrawal application it pays; transfer_in / "
            "transfer_out: the transfer (转移接续) it moves; completes it"
        },
    )
    rent_arrangement_no = ma.fields.String(
        validate=ma.validate.Length(min=1, max=32),
        metadata={
            "description": "withdrawal only: the monthly rent arrangement (按月提取) it pays"
        },
    )

    @ma.validates_schema
    def _sign(self, data: dict[str, Any], **_: Any) -> None:
        if "kind" in data and "amount" in data:
            problem = sign_error(data["kind"], data["amount"])
            if problem:
                raise ma.ValidationError(problem, field_name="amount")


class FundTransactionSchema(ma.Schema):
    """Dumps a :class:`~backend.integration.ledger.Booked`."""

    id = ma.fields.Integer()
    external_id = ma.fields.String()
    account_no = ma.fields.String()
    member_id = ma.fields.Integer()
    kind = ma.fields.String()
    kind_name = ma.fields.String()
    amount = ma.fields.Decimal(as_string=True, places=2)
    balance_after = ma.fields.Decimal(as_string=True, places=2)
    txn_date = ma.fields.Date()
    period_month = ma.fields.String(allow_none=True)
    summary = ma.fields.String()
    rent_arrangement_no = ma.fields.String(allow_none=True)

    @ma.pre_dump
    def _flatten(self, booked: Booked, **_: Any) -> dict[str, Any]:
        txn = booked.transaction
        return {
            **{name: getattr(txn, name) for name in self.fields if hasattr(txn, name)},
            "account_no": booked.account_no,
            "kind_name": TRANSACTION_KINDS[txn.kind],
            "rent_arrangement_no": booked.rent_arrangement_no,
        }


class RetirementArgsSchema(ma.Schema):
    class Meta:
        unknown = ma.RAISE

    event_id = _key(metadata={"description": "the core system's id of this event (dedupe)"})
    retired_on = ma.fields.Date(
        required=True,
        allow_none=True,
        metadata={"description": "退休日期; null clears a retirement recorded in error"},
    )


class RetirementStateSchema(ma.Schema):
    account_no = ma.fields.String()
    member_id = ma.fields.Integer()
    retired_on = ma.fields.Date(allow_none=True)


class LoanEventArgsSchema(ma.Schema):
    class Meta:
        unknown = ma.RAISE

    type = ma.fields.String(
        required=True,
        validate=ma.validate.OneOf(tuple(LOAN_EVENTS)),
        metadata={"description": " | ".join(LOAN_EVENTS)},
    )
    event_id = _key(required=False, metadata={"description": "dedupe; required except repaid"})
    external_id = _key(required=False, metadata={"description": "repaid: the core's entry id"})
    date = ma.fields.Date(metadata={"description": "signed/disbursed/settled on; default today"})
    amount = Amount(metadata={"description": "disbursed (and a new contract's) amount"})
    first_due_date = ma.fields.Date()
    annual_rate = ma.fields.Decimal(
        places=4,
        validate=ma.validate.Range(min=0, max=100, min_inclusive=False),
        metadata={"description": 'percent, e.g. "2.85"'},
    )
    period = ma.fields.Integer(validate=ma.validate.Range(min=1, max=600))
    due_date = ma.fields.Date()
    principal = Amount()
    interest = Amount()
    penalty = Amount(load_default=Decimal("0.00"))
    paid_on = ma.fields.Date()
    channel = ma.fields.String(
        load_default="entrusted",
        validate=ma.validate.OneOf(tuple(REPAYMENT_CHANNELS)),
        metadata={"description": "self 自还 | entrusted 委托扣划 | fund_offset 公积金冲还"},
    )
    application_no = ma.fields.String(validate=ma.validate.Length(min=1, max=32))
    term_months = ma.fields.Integer(validate=ma.validate.Range(min=1, max=360))
    method = ma.fields.String(validate=ma.validate.OneOf(tuple(LOAN_METHODS)))
    bank_name = ma.fields.String(load_default="", validate=ma.validate.Length(max=60))

    REQUIRED = {
        "disbursed": ("event_id", "amount", "date", "first_due_date", "annual_rate"),
        "repaid": ("external_id", "period", "principal", "interest", "paid_on"),
    }

    @ma.validates_schema
    def _per_type(self, data: dict[str, Any], **_: Any) -> None:
        kind = data.get("type")
        needed = self.REQUIRED.get(kind or "", ("event_id",))
        missing = {f: ["该事件必填"] for f in needed if data.get(f) is None}
        if missing:
            raise ma.ValidationError(missing)
        for name in ("amount", "principal", "interest", "penalty"):
            value = data.get(name)
            if value is not None and (value < 0 or (name == "amount" and value == 0)):
                raise ma.ValidationError("金额应为正数", field_name=name)


class RepaymentSchema(ma.Schema):
    period = ma.fields.Integer()
    due_date = ma.fields.Date()
    paid_on = ma.fields.Date()
    principal = ma.fields.Decimal(as_string=True, places=2)
    interest = ma.fields.Decimal(as_string=True, places=2)
    penalty = ma.fields.Decimal(as_string=True, places=2)
    balance_after = ma.fields.Decimal(as_string=True, places=2)
    channel = ma.fields.String()
    channel_name = ma.fields.Function(lambda r: REPAYMENT_CHANNELS[r.channel])
    external_id = ma.fields.String()


class LoanStateSchema(ma.Schema):
    """Dumps an :class:`~backend.integration.loan_events.Applied`."""

    contract_no = ma.fields.String()
    member_id = ma.fields.Integer()
    status = ma.fields.String()
    status_name = ma.fields.String()
    amount = ma.fields.Decimal(as_string=True, places=2)
    balance = ma.fields.Decimal(as_string=True, places=2)
    signed_on = ma.fields.Date(allow_none=True)
    disbursed_on = ma.fields.Date(allow_none=True)
    first_due_date = ma.fields.Date(allow_none=True)
    settled_on = ma.fields.Date(allow_none=True)
    repayment = ma.fields.Nested(RepaymentSchema, allow_none=True)

    @ma.pre_dump
    def _flatten(self, applied: Applied, **_: Any) -> dict[str, Any]:
        contract = applied.contract
        return {
            **{name: getattr(contract, name) for name in self.fields if hasattr(contract, name)},
            "status_name": LOAN_STATUS.get(contract.status, contract.status),
            "repayment": applied.repayment,
        }
