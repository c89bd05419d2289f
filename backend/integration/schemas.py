"""Payloads of the internal API (core system → hall). Unknown fields are refused (422), so a
typo in the core system's feed surfaces instead of being silently dropped."""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

import marshmallow as ma

from backend.accounts.models import TRANSACTION_KINDS
from backend.announcements.rules import AUDIENCES
from backend.announcements.rules import state as announcement_state
from backend.applications.rules import EVENT_TYPES
from backend.applications.schemas import ApplicationSchema
from backend.clock import utcnow
from backend.dumping import compiled_dump
from backend.errors import ErrorSchema
from backend.fields import Amount, InputDate, InputDateTime, LocalDateTime
from backend.inbox.models import MESSAGE_KINDS
from backend.integration.ledger import sign_error
from backend.integration.loan_events import LOAN_EVENTS, Applied
from backend.integration.prepayment_events import PREPAYMENT_EVENTS
from backend.loans.models import (
    LOAN_METHODS,
    LOAN_STATUS,
    PREPAYMENT_STATUS,
    REPAYMENT_CHANNELS,
)
from backend.pii import is_valid_id_number, normalize_id_number

KEY_RE = re.compile(r"^[A-Za-z0-9_.:\-]{1,64}$")
_KEY_ERROR = "应为 1-64 位字母、数字或 _ . : -"


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
    due_at = InputDateTime(metadata={"description": "待办办理期限; todo only"})
    sent_at = InputDateTime(metadata={"description": "when the core system sent it; default now"})


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

    done_at = InputDateTime(metadata={"description": "when it was done; default now"})


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
    at = InputDateTime(metadata={"description": "办理时间; default now"})


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
        signed=True,
        required=True,
        metadata={"description": "signed: credits positive, withdrawal/transfer_out negative"},
    )
    txn_date = InputDate(required=True)
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


BATCH_MAX_ENTRIES = 1000


class FundTransactionBatchArgsSchema(ma.Schema):
    class Meta:
        unknown = ma.RAISE

    entries = ma.fields.List(
        ma.fields.Nested(FundTransactionArgsSchema),
        required=True,
        validate=ma.validate.Length(min=1, max=BATCH_MAX_ENTRIES, error="每批 1 至 1000 笔"),
        metadata={"description": "ledger entries, each as `POST /fund/transactions` takes it"},
    )


_TRANSACTION = compiled_dump(FundTransactionSchema())


class FundTransactionBatchItemSchema(ma.Schema):
    """Dumps a :class:`~backend.integration.ledger_batch.BatchResult`."""

    external_id = ma.fields.String(required=True)
    status = ma.fields.String(
        required=True,
        validate=ma.validate.OneOf(("created", "replayed", "refused")),
        metadata={"description": "created | replayed (known external_id) | refused (see error)"},
    )
    transaction = ma.fields.Function(
        # One compiled dump for every item: building a schema per entry cost more than the
        # booking, and marshmallow's walk of the 1,000 entries as much again.
        lambda r: _TRANSACTION(r.booked) if r.booked else None,
        metadata={"description": "the entry as booked (FundTransaction), null when refused"},
    )
    error = ma.fields.Nested(ErrorSchema, allow_none=True)


class FundTransactionBatchSchema(ma.Schema):
    created = ma.fields.Integer(required=True)
    replayed = ma.fields.Integer(required=True)
    refused = ma.fields.Integer(required=True)
    results = ma.fields.List(ma.fields.Nested(FundTransactionBatchItemSchema), required=True)


class RetirementArgsSchema(ma.Schema):
    class Meta:
        unknown = ma.RAISE

    event_id = _key(metadata={"description": "the core system's id of this event (dedupe)"})
    retired_on = InputDate(
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
    date = InputDate(metadata={"description": "signed/disbursed/settled on; default today"})
    amount = Amount(metadata={"description": "disbursed (and a new contract's) amount"})
    first_due_date = InputDate()
    annual_rate = ma.fields.Decimal(
        places=4,
        validate=ma.validate.Range(min=0, max=100, min_inclusive=False),
        metadata={"description": 'percent, e.g. "2.85"'},
    )
    period = ma.fields.Integer(validate=ma.validate.Range(min=1, max=600))
    due_date = InputDate()
    principal = Amount()
    interest = Amount()
    penalty = Amount(load_default=Decimal("0.00"))
    paid_on = InputDate()
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
        if data.get("amount") == 0:  # Amount() is never negative
            raise ma.ValidationError("金额应为正数", field_name="amount")


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


class AnnouncementArgsSchema(ma.Schema):
    class Meta:
        unknown = ma.RAISE

    announcement_no = _key(metadata={"description": "the core system's key of the notice (dedupe)"})
    title = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=60))
    body = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=10000))
    audience = ma.fields.String(
        load_default="everyone",
        validate=ma.validate.OneOf(tuple(AUDIENCES), error="受众须为 " + " / ".join(AUDIENCES)),
        metadata={"description": " | ".join(f"{k} ({v})" for k, v in AUDIENCES.items())},
    )
    published_at = InputDateTime(
        metadata={"description": "发布时间: members see it (and pushes go) from then; default now"}
    )


class AnnouncementWithdrawArgsSchema(ma.Schema):
    class Meta:
        unknown = ma.RAISE

    reason = ma.fields.String(validate=ma.validate.Length(min=1, max=200))


class AnnouncementStateSchema(ma.Schema):
    id = ma.fields.Integer()
    announcement_no = ma.fields.String()
    title = ma.fields.String()
    audience = ma.fields.String()
    state = ma.fields.Function(
        lambda a: announcement_state(a.published_at, a.withdrawn_at, utcnow()),
        metadata={"description": "scheduled | published | withdrawn"},
    )
    published_at = LocalDateTime()
    withdrawn_at = LocalDateTime(allow_none=True)
    withdraw_reason = ma.fields.String(allow_none=True)
    pushed = ma.fields.Integer(metadata={"description": "members pushed so far"})
    fanout_done = ma.fields.Function(lambda a: a.fanout_done_at is not None)


class BusinessArgsSchema(ma.Schema):
    class Meta:
        unknown = ma.RAISE

    name = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=40))
    active = ma.fields.Boolean(load_default=True)


class HallArgsSchema(ma.Schema):
    class Meta:
        unknown = ma.RAISE

    name = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=60))
    address = ma.fields.String(load_default="", validate=ma.validate.Length(max=200))
    phone = ma.fields.String(load_default="", validate=ma.validate.Length(max=30))
    business_codes = ma.fields.List(
        _key(), required=True, metadata={"description": "businesses the hall handles, in order"}
    )
    active = ma.fields.Boolean(load_default=True)


class SlotArgsSchema(ma.Schema):
    class Meta:
        unknown = ma.RAISE

    starts_at = ma.fields.Time(required=True, format="%H:%M", metadata={"description": "HH:MM"})
    ends_at = ma.fields.Time(required=True, format="%H:%M", metadata={"description": "HH:MM"})
    capacity = ma.fields.Integer(required=True, validate=ma.validate.Range(min=0, max=10000))


class SlotsArgsSchema(ma.Schema):
    class Meta:
        unknown = ma.RAISE

    business_code = _key()
    day = InputDate(required=True)
    slots = ma.fields.List(
        ma.fields.Nested(SlotArgsSchema),
        required=True,
        validate=ma.validate.Length(min=1, max=48),
    )


class InternalBusinessSchema(ma.Schema):
    id = ma.fields.Integer()
    code = ma.fields.String()
    name = ma.fields.String()
    active = ma.fields.Boolean()


class InternalHallSchema(InternalBusinessSchema):
    address = ma.fields.String()
    phone = ma.fields.String()
    business_codes = ma.fields.List(ma.fields.String())


class InternalSlotSchema(ma.Schema):
    id = ma.fields.Integer()
    day = ma.fields.Date()
    starts_at = ma.fields.Time(format="%H:%M")
    ends_at = ma.fields.Time(format="%H:%M")
    capacity = ma.fields.Integer()
    booked = ma.fields.Integer()


class InternalSlotListSchema(ma.Schema):
    items = ma.fields.List(ma.fields.Nested(InternalSlotSchema))


class PrepaymentEventArgsSchema(ma.Schema):
    class Meta:
        unknown = ma.RAISE

    type = ma.fields.String(
        required=True,
        validate=ma.validate.OneOf(tuple(PREPAYMENT_EVENTS)),
        metadata={"description": "booked 已办理 | refused 不予办理"},
    )
    event_id = _key(metadata={"description": "dedupe: a replay must repeat the whole request"})
    date = InputDate(metadata={"description": "booked on; default the booked date"})
    principal = Amount(metadata={"description": "booked: principal repaid"})
    interest = Amount(metadata={"description": "booked: interest charged"})
    reason = ma.fields.String(
        validate=ma.validate.Length(min=1, max=200), metadata={"description": "refused: why"}
    )

    @ma.validates_schema
    def _per_type(self, data: dict[str, Any], **_: Any) -> None:
        needed = ("principal", "interest") if data.get("type") == "booked" else ("reason",)
        missing = {f: ["该事件必填"] for f in needed if data.get(f) is None}
        if missing:
            raise ma.ValidationError(missing)
        for name in ("principal", "interest"):
            value = data.get(name)
            if value is not None and (value < 0 or (name == "principal" and value == 0)):
                raise ma.ValidationError("金额应为正数", field_name=name)


class PrepaymentStateSchema(ma.Schema):
    """Dumps a :class:`~backend.integration.prepayment_events.Decided` (or a pending row)."""

    prepayment_no = ma.fields.String()
    contract_no = ma.fields.String()
    kind = ma.fields.String()
    option = ma.fields.String(allow_none=True)
    amount = ma.fields.Decimal(as_string=True, places=2, allow_none=True)
    prepay_on = ma.fields.Date()
    status = ma.fields.String()
    status_name = ma.fields.String()
    booked_principal = ma.fields.Decimal(as_string=True, places=2, allow_none=True)
    booked_interest = ma.fields.Decimal(as_string=True, places=2, allow_none=True)
    opinion = ma.fields.String()
    contract_status = ma.fields.String()
    term_months = ma.fields.Integer()
    balance = ma.fields.Decimal(as_string=True, places=2)

    @ma.pre_dump
    def _flatten(self, decided: Any, **_: Any) -> dict[str, Any]:
        prepayment, contract = decided.prepayment, decided.contract
        return {
            **{n: getattr(prepayment, n) for n in self.fields if hasattr(prepayment, n)},
            "contract_no": contract.contract_no,
            "status_name": PREPAYMENT_STATUS[prepayment.status],
            "contract_status": contract.status,
            "term_months": contract.term_months,
            "balance": contract.balance,
        }


class PendingPrepaymentListSchema(ma.Schema):
    items = ma.fields.List(ma.fields.Nested(PrepaymentStateSchema))
