"""Retention: finished push deliveries and idempotency records older than N days are deleted.

Both tables grow with every message and every money-moving request and are read only while fresh:
a delivery matters until it ended (sent, rejected, failed), an idempotency record while a client
may still replay its request (minutes, at most days). ``gjj prune`` and the beat schedule call
:func:`prune`. Rows go in bounded batches, each its own transaction, so no lock is held long.
Pending and in-flight deliveries are never touched, however old.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, select

from backend import clock
from backend.idempotency.models import IdempotencyRecord
from backend.push.models import PushDelivery
from backend.runtime import Core

logger = logging.getLogger(__name__)

FINISHED = ("sent", "rejected", "failed")
BATCH = 2000


@dataclass(frozen=True)
class PruneResult:
    deliveries: int
    idempotency_records: int


def prune(rt: Core, older_than_days: int, *, batch: int = BATCH) -> PruneResult:
    if older_than_days < 1:
        raise ValueError("older_than_days must be at least 1")
    cutoff = clock.utcnow() - dt.timedelta(days=older_than_days)
    deliveries = _delete_batches(
        rt,
        select(PushDelivery.id).where(
            PushDelivery.status.in_(FINISHED), PushDelivery.updated_at < cutoff
        ),
        PushDelivery,
        batch,
    )
    records = _delete_batches(
        rt,
        select(IdempotencyRecord.id).where(IdempotencyRecord.created_at < cutoff),
        IdempotencyRecord,
        batch,
    )
    logger.info(
        "pruned",
        extra={"deliveries": deliveries, "idempotency_records": records, "days": older_than_days},
    )
    return PruneResult(deliveries, records)


def _delete_batches(rt: Core, ids: Any, model: Any, batch: int) -> int:
    total = 0
    while True:
        with rt.session() as session:
            chunk = list(session.scalars(ids.order_by(model.id).limit(batch)))
            if not chunk:
                return total
            session.execute(delete(model).where(model.id.in_(chunk)))
            session.commit()
        total += len(chunk)
