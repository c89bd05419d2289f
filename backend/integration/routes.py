"""HTTP layer of the integration feature: the core system's signed internal API (/internal/v1).

Every view is behind :func:`signed_by_core` (HMAC signature, clock skew, nonce); every accepted
call is audited as ``internal:<key id>``. First calls answer 201 (or 200 for state changes),
replays of the whole request 200 with the same body; a key reused by another request 409.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from typing import Any, TypeVar

from flask import g, request
from flask.views import MethodView

from backend.api import Blueprint, db, runtime
from backend.auth import origin
from backend.clock import utcnow
from backend.errors import Unauthorized
from backend.integration import (
    announcements,
    appointments,
    ledger,
    ledger_batch,
    loan_events,
    prepayment_events,
    retirement,
    services,
)
from backend.integration.schemas import (
    AnnouncementArgsSchema,
    AnnouncementStateSchema,
    AnnouncementWithdrawArgsSchema,
    ApplicationEventArgsSchema,
    BusinessArgsSchema,
    CoreMessageArgsSchema,
    CoreMessageSchema,
    FundTransactionArgsSchema,
    FundTransactionBatchArgsSchema,
    FundTransactionBatchSchema,
    FundTransactionSchema,
    HallArgsSchema,
    InternalApplicationSchema,
    InternalBusinessSchema,
    InternalHallSchema,
    InternalSlotListSchema,
    LoanEventArgsSchema,
    LoanStateSchema,
    PendingPrepaymentListSchema,
    PrepaymentEventArgsSchema,
    PrepaymentStateSchema,
    RetirementArgsSchema,
    RetirementStateSchema,
    SlotsArgsSchema,
    TodoDoneArgsSchema,
    TodoStateSchema,
)
from backend.integration.signing import HEADERS
from backend.integration.verify import NonceStore, verify
from backend.pagination import Page
from backend.push.fanout import fanout

logger = logging.getLogger(__name__)

F = TypeVar("F", bound=Callable[..., Any])

SIGNATURE_SECURITY: list[dict[str, list[str]]] = [{"gjjSignature": []}]

blp = Blueprint(
    "integration",
    __name__,
    url_prefix="/internal/v1",
    description="核心业务系统内部接口（签名认证）",
)


def signed_by_core(view: F) -> F:
    @functools.wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        rt = runtime()
        try:
            key_id = verify(
                {name: request.headers.get(name, "") for name in HEADERS},
                method=request.method,
                path=request.path,
                query=request.query_string.decode("utf-8", "replace"),
                body=request.get_data(cache=True),
                keys=rt.settings.internal_keys,
                max_skew=rt.settings.internal_max_skew,
                now=int(utcnow().timestamp()),
                nonces=NonceStore(rt.redis, rt.keys, rt.settings.internal_max_skew),
            )
        except Unauthorized as exc:
            logger.warning(
                "internal call refused",
                extra={
                    "error_code": exc.error_code,
                    "key_id": request.headers.get("X-Gjj-Key", "")[:40],
                },
            )
            raise
        g.internal_caller = services.Caller(key_id, origin())
        return view(*args, **kwargs)

    return wrapper  # type: ignore[return-value]


# Signature checked before the payload is parsed: a forged call is a 401, never a 422.
core_view = blp.secured(signed_by_core, SIGNATURE_SECURITY, "Signature refused (internal.*)")


def caller() -> services.Caller:
    found: services.Caller = g.internal_caller
    return found


def request_hash(args: dict[str, Any]) -> str:
    """The fingerprint of this request (see :func:`services.fingerprint`), from its parsed args."""
    return services.fingerprint(runtime().pii, request.method, request.path, args)


REUSED = "Key already used by a different request (idempotency.key_reused)"


def _created(created: bool) -> int:
    return 201 if created else 200


@blp.route("/messages")
class CoreMessages(MethodView):
    @core_view
    @blp.arguments(CoreMessageArgsSchema)
    @blp.response(201, CoreMessageSchema, description="Created")
    @blp.alt_response(200, schema=CoreMessageSchema, description="Replay of a known dedupe_key")
    @blp.alt_response(404, description="Unknown member or application")
    @blp.alt_response(409, description=REUSED)
    @blp.alt_response(422, description="Bad payload")
    def post(self, args: dict[str, Any]) -> Any:
        """Send a member a message (消息) or a to-do (待办)

        The member is named by ``id_number`` or ``account_no``. The same request twice creates one
        message; the second call answers 200 with the first call's body. The same ``dedupe_key``
        in a different request is a 409.
        """
        message, created = services.post_core_message(
            db(), runtime().pii, caller(), request_hash=request_hash(args), **args
        )
        return message, _created(created)


@blp.route("/todos/<int:todo_id>/done")
class CoreTodoDone(MethodView):
    @core_view
    @blp.arguments(TodoDoneArgsSchema)
    @blp.response(200, TodoStateSchema)
    @blp.alt_response(404, description="No such to-do")
    @blp.alt_response(422, description="Bad payload")
    def post(self, args: dict[str, Any], todo_id: int) -> Any:
        """Mark a to-do done (the member has done what it asked)

        ``todo_id`` is the ``id`` answered when the to-do was posted. Idempotent.
        """
        return services.mark_todo_done(db(), caller(), todo_id, **args)


@blp.route("/applications/<string:application_no>/events")
class CoreApplicationEvents(MethodView):
    @core_view
    @blp.arguments(ApplicationEventArgsSchema)
    @blp.response(201, InternalApplicationSchema, description="Event applied")
    @blp.alt_response(
        200, schema=InternalApplicationSchema, description="Replay of a known event_id"
    )
    @blp.alt_response(404, description="Unknown application")
    @blp.alt_response(409, description=f"The application is closed, no node is current; {REUSED}")
    @blp.alt_response(422, description="Bad payload or unknown node name")
    def post(self, args: dict[str, Any], application_no: str) -> Any:
        """Move an application (我发起的) along: node done / current node / approved / rejected /
        completed

        Updates the nodes (state, opinion, handler, time), the status and ``completed_at``, and
        writes the member a message.
        """
        fingerprint = request_hash(args)
        event = args.pop("type")
        application, created = services.record_application_event(
            db(), caller(), application_no, request_hash=fingerprint, event=event, **args
        )
        return application, _created(created)


@blp.route("/fund/transactions")
class CoreFundTransactions(MethodView):
    @core_view
    @blp.arguments(FundTransactionArgsSchema)
    @blp.response(201, FundTransactionSchema, description="Booked")
    @blp.alt_response(
        200, schema=FundTransactionSchema, description="Replay of a known external_id"
    )
    @blp.alt_response(404, description="Unknown account, member or application")
    @blp.alt_response(409, description=REUSED)
    @blp.alt_response(422, description="Bad payload, wrong sign, or the balance would go negative")
    def post(self, args: dict[str, Any]) -> Any:
        """Book a ledger entry (汇缴/补缴/提取/结息/转入/转出)

        Moves the account balance (row-locked) and records ``balance_after``; a withdrawal may
        name its ``application_no`` and completes it. Writes the member a message.
        """
        booked = ledger.book_transaction(
            db(), runtime().pii, caller(), request_hash=request_hash(args), **args
        )
        return booked, _created(booked.created)


@blp.route("/fund/transactions/batch")
class CoreFundTransactionBatch(MethodView):
    @core_view
    @blp.arguments(FundTransactionBatchArgsSchema)
    @blp.response(200, FundTransactionBatchSchema, description="Every entry's outcome, in order")
    @blp.alt_response(422, description="A malformed entry (nothing is booked), or over 1000")
    def post(self, args: dict[str, Any]) -> Any:
        """Book many ledger entries in one call (结息 day: a year's interest for every member)

        Each entry is booked exactly as `POST /fund/transactions` books it: idempotent by its
        `external_id`, its account row-locked, the running balance written, the member told.
        An entry refused on its merits (unknown account, `external_id` reused with other content,
        balance) answers `refused` with its error envelope; the others are booked.
        """
        rt = runtime()
        # SQLite serialises writers on the whole file (and refuses a read transaction's upgrade
        # when another wrote meanwhile): one thread there.
        threads = 1 if rt.engine.dialect.name == "sqlite" else rt.settings.ledger_batch_threads
        # Each entry's fingerprint is the one `POST /fund/transactions` gives it, so an entry
        # booked alone and replayed in a batch (or the reverse) is the same request.
        single = request.path.removesuffix("/batch")
        entries = [
            {**entry, "request_hash": services.fingerprint(rt.pii, "POST", single, entry)}
            for entry in args["entries"]
        ]
        results = ledger_batch.book_batch(rt.session, rt.pii, caller(), entries, threads=threads)
        counts = {status: 0 for status in ("created", "replayed", "refused")}
        for result in results:
            counts[result.status] += 1
        return {**counts, "results": results}


@blp.route("/loans/<string:contract_no>/events")
class CoreLoanEvents(MethodView):
    @core_view
    @blp.arguments(LoanEventArgsSchema)
    @blp.response(201, LoanStateSchema, description="Event applied")
    @blp.alt_response(200, schema=LoanStateSchema, description="Replay of a known event")
    @blp.alt_response(404, description="Unknown contract (or application for a new one)")
    @blp.alt_response(409, description=f"The contract's status does not allow the event; {REUSED}")
    @blp.alt_response(422, description="Bad payload, or principal above the balance")
    def post(self, args: dict[str, Any], contract_no: str) -> Any:
        """Loan contract event: signed / disbursed / repaid / settled / overdue

        A contract not yet known is created by its ``signed`` event when that names the loan
        ``application_no`` with ``amount``, ``term_months`` and ``method``.
        """
        applied = loan_events.apply_loan_event(
            db(),
            caller(),
            contract_no,
            loan_events.LoanEvent(**args),
            request_hash=request_hash(args),
        )
        return applied, _created(applied.created)


@blp.route("/announcements")
class CoreAnnouncements(MethodView):
    @core_view
    @blp.arguments(AnnouncementArgsSchema)
    @blp.response(201, AnnouncementStateSchema, description="Published (or scheduled)")
    @blp.alt_response(
        200, schema=AnnouncementStateSchema, description="Replay: the very same request again"
    )
    @blp.alt_response(409, description="announcement_no already used with other content")
    @blp.alt_response(422, description="Bad payload or unknown audience")
    def post(self, args: dict[str, Any]) -> Any:
        """Publish an announcement (公告) to everyone or an audience

        Members of the audience see it from ``published_at``. Those who accepted the
        announcement subscription template are pushed through the push pipeline, in batches of
        ``GJJ_ANNOUNCEMENT_FANOUT_BATCH`` members per transaction: right away when it is due,
        else by ``gjj announcements fanout`` (the worker's beat runs it) once its time comes.
        """
        rt = runtime()
        announcement, created = announcements.publish(db(), caller(), **args)
        if created:
            fanout(
                rt.session_factory,
                rt.push_templates,
                announcement.id,
                batch_size=rt.settings.announcement_fanout_batch,
            )
            db().refresh(announcement)
        return announcement, _created(created)


@blp.route("/announcements/<string:announcement_no>/withdraw")
class CoreAnnouncementWithdraw(MethodView):
    @core_view
    @blp.arguments(AnnouncementWithdrawArgsSchema)
    @blp.response(200, AnnouncementStateSchema)
    @blp.alt_response(404, description="Unknown announcement_no")
    @blp.alt_response(409, description="Already withdrawn with another reason")
    @blp.alt_response(422, description="Bad payload")
    def post(self, args: dict[str, Any], announcement_no: str) -> Any:
        """Withdraw (撤回) an announcement: hidden from members, unsent pushes cancelled

        Withdrawing again with the same reason is a replay (200, same body).
        """
        announcement, _ = announcements.withdraw(db(), caller(), announcement_no, **args)
        return announcement


@blp.route("/appointments/businesses/<string:code>")
class CoreAppointmentBusiness(MethodView):
    @core_view
    @blp.arguments(BusinessArgsSchema)
    @blp.response(200, InternalBusinessSchema)
    @blp.alt_response(422, description="Bad payload")
    def put(self, args: dict[str, Any], code: str) -> Any:
        """Set a business members may book (业务类型): name, active

        Sets state: the same call again changes nothing.
        """
        return appointments.put_business(db(), caller(), code, **args)


@blp.route("/appointments/halls/<string:code>")
class CoreAppointmentHall(MethodView):
    @core_view
    @blp.arguments(HallArgsSchema)
    @blp.response(200, InternalHallSchema)
    @blp.alt_response(422, description="Bad payload or a business code not set")
    def put(self, args: dict[str, Any], code: str) -> Any:
        """Set a service hall (服务网点): name, address, phone, businesses, active

        An inactive hall (or business) disappears from the member's choices; bookings stay.
        """
        return appointments.put_hall(db(), caller(), code, **args)


@blp.route("/appointments/halls/<string:code>/slots")
class CoreAppointmentSlots(MethodView):
    @core_view
    @blp.arguments(SlotsArgsSchema)
    @blp.response(200, InternalSlotListSchema)
    @blp.alt_response(404, description="Unknown hall")
    @blp.alt_response(409, description="appointment.capacity_below_booked")
    @blp.alt_response(422, description="Bad payload, end before start, business not at the hall")
    def put(self, args: dict[str, Any], code: str) -> Any:
        """Set a day's time slots and capacities of a business at a hall

        Slots are named by ``starts_at``: new ones are created, known ones re-sized (capacity 0
        closes one); slots not named stay. Answers every slot of that day with ``booked``.
        """
        return Page(appointments.set_slots(db(), caller(), code, **args))


@blp.route("/loans/<string:contract_no>/prepayments/<string:prepayment_no>/events")
class CorePrepaymentEvents(MethodView):
    @core_view
    @blp.arguments(PrepaymentEventArgsSchema)
    @blp.response(201, PrepaymentStateSchema, description="Decision applied")
    @blp.alt_response(200, schema=PrepaymentStateSchema, description="Replay of the same request")
    @blp.alt_response(404, description="loan.contract_not_found, loan.prepayment_not_found")
    @blp.alt_response(
        409,
        description="loan.prepayment_closed (already decided), loan.prepayment_event_conflict "
        "(same event_id, other content)",
    )
    @blp.alt_response(422, description="Bad payload, or figures the loan rules refuse")
    def post(self, args: dict[str, Any], contract_no: str, prepayment_no: str) -> Any:
        """Prepayment decision: booked (re-amortises the contract) / refused

        ``booked`` repays ``principal`` on ``date`` (default: the date the member chose): a
        shorten-term prepayment shortens the contract's term, a reduce-instalment one lowers the
        instalment, a full one settles the contract. Writes the member's message and pushes.
        """
        decided = prepayment_events.decide_prepayment(
            db(),
            caller(),
            contract_no,
            prepayment_no,
            prepayment_events.PrepaymentEvent(**args),
            args,
        )
        return decided, _created(decided.created)


@blp.route("/loan-prepayments")
class CorePendingPrepayments(MethodView):
    @core_view
    @blp.response(200, PendingPrepaymentListSchema)
    def get(self) -> dict[str, Any]:
        """Prepayments booked by members and waiting for the core system's decision"""
        rows = prepayment_events.pending_prepayments(db())
        return {
            "items": [
                prepayment_events.Decided(contract, prepayment, created=False)
                for prepayment, contract in rows
            ]
        }


@blp.route("/fund/accounts/<string:account_no>/retirement")
class CoreRetirement(MethodView):
    @core_view
    @blp.arguments(RetirementArgsSchema)
    @blp.response(200, RetirementStateSchema, description="Recorded (or a replay)")
    @blp.alt_response(404, description="Unknown account")
    @blp.alt_response(409, description="event_id already used with another date")
    @blp.alt_response(422, description="Bad payload, or a date after today")
    def put(self, args: dict[str, Any], account_no: str) -> Any:
        """Record, correct or clear the member's retirement (办理退休)

        A recorded ``retired_on`` opens the retirement withdrawal whatever the statutory age
        computed from the ID number says; ``null`` clears it. Writes the member a message.
        """
        return retirement.record_retirement(
            db(), caller(), account_no, request_hash=request_hash(args), **args
        )
