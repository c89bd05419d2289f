"""Demo data of the services made after the bulk load through the live use cases: monthly rent
withdrawal arrangements (按月提取) and transfers between cities (转移接续). The same rules decide
(a refused member is skipped and logged, never forced); the core system's part goes through the
internal API's own functions (ledger entries, application events). Everything runs at one fixed
moment of the seed's date, so the same seed gives the same rows."""

from __future__ import annotations

import datetime as dt
import logging
from decimal import Decimal
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from backend import clock
from backend.accounts.models import FundAccount
from backend.accounts.queries import account_of
from backend.audit.services import RequestOrigin
from backend.db import make_session_factory
from backend.errors import AppError
from backend.events import EventBus
from backend.inbox import handlers as inbox_handlers
from backend.integration.ledger import book_transaction
from backend.integration.services import (
    Caller,
    find_member,
    fingerprint,
    record_application_event,
)
from backend.runtime import Runtime
from backend.transfers import rules as transfer_rules
from backend.transfers import services as transfers
from backend.withdrawals import arrangements, queries, rules
from backend.withdrawals.services import policy
from devtools.seed.profiles import DemoMember

logger = logging.getLogger(__name__)

SEED_CALLER = Caller("seed", RequestOrigin())
LEDGER_PATH = "/internal/v1/fund/transactions"
FORMER_CENTRE = "上海市住房公积金管理中心"


def seed_services(rt: Runtime, demo: list[DemoMember], as_of: dt.date) -> None:
    # The first instant of the seed's day (Beijing time): never later than a seed run that day,
    # so whatever a member does next is newer and lists it first.
    moment = dt.datetime.combine(as_of, dt.time(0, 0), clock.SHANGHAI).astimezone(dt.UTC)
    with clock.fixed_at(moment), _history_sessions(rt)() as session:
        for member in demo:
            if member.rent_plan is None and member.transfer is None:
                continue
            found = find_member(session, rt.pii, id_number=member.id_number, account_no=None)
            acct = account_of(session, found.id, lock=True)
            if acct is None:
                continue
            if member.rent_plan is not None:
                _rent_arrangement(session, rt, acct, member.rent_plan, as_of)
            else:
                _transfer(session, rt, acct, member.transfer or "", as_of)


def _history_sessions(rt: Runtime) -> sessionmaker[Session]:
    """Sessions whose use cases still tell the members (the inbox listens) but queue no pushes:
    the demo's history happened before the channels were bound."""
    factory = make_session_factory(rt.engine)
    bus = EventBus()
    inbox_handlers.subscribe(bus)
    bus.attach(factory)
    return factory


def _transfer(session: Session, rt: Runtime, acct: FundAccount, state: str, as_of: dt.date) -> None:
    """A transfer in from another city: ``moving`` stops at 资金划转, ``arrived`` has its money."""
    refusal = transfer_rules.check_request("in", FORMER_CENTRE, transfers.facts(session, rt, acct))
    if refusal is not None:
        logger.warning("demo transfer refused", extra={"rule": refusal.error_code})
        return
    request = transfers.TransferRequest("in", FORMER_CENTRE, f"3101{acct.member_id:010d}", "")
    no = f"ZY{as_of:%Y%m%d}{acct.member_id:08d}"
    application = transfers.create_transfer(session, rt, acct, request, application_no=no)
    session.commit()
    _application_event(session, rt, no, event_id="seed-1", event="node_done", handler=FORMER_CENTRE)
    if state != "arrived":
        return
    _application_event(session, rt, no, event_id="seed-2", event="node_done", handler=FORMER_CENTRE)
    _book(
        session,
        rt,
        external_id=f"seed-transfer-{application.application_no}",
        kind="transfer_in",
        amount=Decimal("36520.18"),
        txn_date=as_of,
        account_no=acct.account_no,
        summary="异地转入",
        application_no=no,
    )


def _rent_arrangement(
    session: Session, rt: Runtime, acct: FundAccount, state: str, as_of: dt.date
) -> None:
    """An arrangement paid this month; ``stopped`` ones are then stopped by the member."""
    facts = queries.facts(session, rt.pii, acct)
    cap = rules.rent_cap(facts, policy(rt.settings))
    amount = min(cap, Decimal("1000.00"))
    refusal = rules.check_arrangement(amount, facts, policy(rt.settings))
    if refusal is not None:
        logger.warning("demo rent arrangement refused", extra={"rule": refusal.error_code})
        return
    request = arrangements.ArrangementRequest(
        amount, "中国工商银行示范市分行", f"62220200{acct.member_id:011d}", ""
    )
    no = f"AY{as_of:%Y%m%d}{acct.member_id:08d}"
    arrangements.create_arrangement(session, rt, acct, request, arrangement_no=no)
    session.commit()
    try:
        _book(
            session,
            rt,
            external_id=f"seed-rent-{no}",
            kind="withdrawal",
            amount=-amount,
            txn_date=as_of,
            account_no=acct.account_no,
            summary="租房按月提取",
            rent_arrangement_no=no,
        )
    except AppError as exc:  # the month's rules refused it: the demo shows no transfer
        session.rollback()
        logger.warning("demo rent payment refused", extra={"rule": exc.error_code})
    if state == "stopped":
        arrangements.stop(session, acct.member_id, no)


def _application_event(session: Session, rt: Runtime, application_no: str, **event: Any) -> None:
    """An application event as the core system would post it, with its request fingerprint."""
    path = f"/internal/v1/applications/{application_no}/events"
    request_hash = fingerprint(rt.pii, "POST", path, event)
    record_application_event(
        session, SEED_CALLER, application_no, request_hash=request_hash, **event
    )


def _book(session: Session, rt: Runtime, **entry: Any) -> None:
    """A ledger entry as the core system would post it (``POST /internal/v1/fund/transactions``),
    through the same booking code and with the same request fingerprint."""
    request_hash = fingerprint(rt.pii, "POST", LEDGER_PATH, entry)
    book_transaction(session, rt.pii, SEED_CALLER, request_hash=request_hash, **entry)
