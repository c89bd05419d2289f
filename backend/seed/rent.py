"""Demo monthly rent withdrawal arrangements (按月提取), made after the bulk load through the live
use cases: the same rules decide (a refused member is skipped and logged, never forced), the
month's payment is booked by the ledger API's own function, the stop by the member's."""

from __future__ import annotations

import datetime as dt
import logging
from decimal import Decimal

from sqlalchemy.orm import Session

from backend import clock
from backend.audit.services import RequestOrigin
from backend.errors import AppError
from backend.fund.queries import account_of
from backend.integration.ledger import book_transaction
from backend.integration.services import Caller, find_member
from backend.runtime import Runtime
from backend.seed.generator import DemoMember
from backend.withdrawals import arrangements, queries, rules
from backend.withdrawals.services import policy

logger = logging.getLogger(__name__)

SEED_CALLER = Caller("seed", RequestOrigin())


def seed_rent_arrangements(rt: Runtime, demo: list[DemoMember], as_of: dt.date) -> int:
    """An arrangement for every demo member whose profile asks for one; ``stopped`` ones are paid
    once, then stopped by the member. Returns how many were made."""
    made = 0
    moment = dt.datetime.combine(as_of, dt.time(9, 30), clock.SHANGHAI).astimezone(dt.UTC)
    with clock.fixed_at(moment), Session(rt.engine) as session:
        for member in demo:
            if member.rent_plan is None:
                continue
            found = find_member(session, rt.pii, id_number=member.id_number, account_no=None)
            acct = account_of(session, found.id, lock=True)
            if acct is None:
                continue
            facts = queries.facts(session, rt.pii, acct)
            cap = rules.rent_cap(facts, policy(rt.settings))
            amount = min(cap, Decimal("1000.00"))
            refusal = rules.check_arrangement(amount, facts, policy(rt.settings))
            if refusal is not None:
                logger.warning("demo rent arrangement refused", extra={"rule": refusal.error_code})
                continue
            request = arrangements.ArrangementRequest(
                amount, "中国工商银行示范市分行", f"62220200{found.id:011d}", ""
            )
            no = f"AY{as_of:%Y%m%d}{found.id:08d}"
            arrangements.create_arrangement(session, rt, acct, request, arrangement_no=no)
            session.commit()
            try:
                book_transaction(
                    session,
                    rt.pii,
                    SEED_CALLER,
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
            if member.rent_plan == "stopped":
                arrangements.stop(session, found.id, no)
            made += 1
    return made
