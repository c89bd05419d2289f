"""HTTP layer of the integration feature: the core system's signed internal API (/internal/v1).

Every view is behind :func:`signed_by_core` (HMAC signature, clock skew, nonce); every accepted
call is audited as ``internal:<key id>``. First calls answer 201 (or 200 for state changes),
replays 200 with the same body.
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
from backend.integration import ledger, loan_events, retirement, services
from backend.integration.schemas import (
    ApplicationEventArgsSchema,
    CoreMessageArgsSchema,
    CoreMessageSchema,
    FundTransactionArgsSchema,
    FundTransactionSchema,
    InternalApplicationSchema,
    LoanEventArgsSchema,
    LoanStateSchema,
    RetirementArgsSchema,
    RetirementStateSchema,
    TodoDoneArgsSchema,
    TodoStateSchema,
)
from backend.integration.signing import HEADERS
from backend.integration.verify import NonceStore, verify

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


def _created(created: bool) -> int:
    return 201 if created else 200


@blp.route("/messages")
class CoreMessages(MethodView):
    @core_view
    @blp.arguments(CoreMessageArgsSchema)
    @blp.response(201, CoreMessageSchema, description="Created")
    @blp.alt_response(200, schema=CoreMessageSchema, description="Replay of a known dedupe_key")
    @blp.alt_response(404, description="Unknown member or application")
    @blp.alt_response(422, description="Bad payload")
    def post(self, args: dict[str, Any]) -> Any:
        """Send a member a message (消息) or a to-do (待办)

        The member is named by ``id_number`` or ``account_no``. The same ``dedupe_key`` twice
        creates one message; the second call answers 200 with the first call's body.
        """
        message, created = services.post_core_message(db(), runtime().pii, caller(), **args)
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
    @blp.alt_response(409, description="The application is closed, or no node is current")
    @blp.alt_response(422, description="Bad payload or unknown node name")
    def post(self, args: dict[str, Any], application_no: str) -> Any:
        """Move an application (我发起的) along: node done / current node / approved / rejected /
        completed

        Updates the nodes (state, opinion, handler, time), the status and ``completed_at``, and
        writes the member a message.
        """
        event = args.pop("type")
        application, created = services.record_application_event(
            db(), caller(), application_no, event=event, **args
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
    @blp.alt_response(409, description="external_id already booked with other content")
    @blp.alt_response(422, description="Bad payload, wrong sign, or the balance would go negative")
    def post(self, args: dict[str, Any]) -> Any:
        """Book a ledger entry (汇缴/补缴/提取/结息/转入/转出)

        Moves the account balance (row-locked) and records ``balance_after``; a withdrawal may
        name its ``application_no`` and completes it. Writes the member a message.
        """
        booked = ledger.book_transaction(db(), runtime().pii, caller(), **args)
        return booked, _created(booked.created)


@blp.route("/loans/<string:contract_no>/events")
class CoreLoanEvents(MethodView):
    @core_view
    @blp.arguments(LoanEventArgsSchema)
    @blp.response(201, LoanStateSchema, description="Event applied")
    @blp.alt_response(200, schema=LoanStateSchema, description="Replay of a known event")
    @blp.alt_response(404, description="Unknown contract (or application for a new one)")
    @blp.alt_response(409, description="The contract's status does not allow the event")
    @blp.alt_response(422, description="Bad payload, or principal above the balance")
    def post(self, args: dict[str, Any], contract_no: str) -> Any:
        """Loan contract event: signed / disbursed / repaid / settled / overdue

        A contract not yet known is created by its ``signed`` event when that names the loan
        ``application_no`` with ``amount``, ``term_months`` and ``method``.
        """
        applied = loan_events.apply_loan_event(
            db(), caller(), contract_no, loan_events.LoanEvent(**args)
        )
        return applied, _created(applied.created)


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
        return retirement.record_retirement(db(), caller(), account_no, **args)
