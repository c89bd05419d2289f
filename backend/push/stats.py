"""How the deliveries stand: per channel, status and error code (``gjj push stats``, /metrics)."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass

from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from backend import clock
from backend.push.models import PushDelivery

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class StatRow:
    channel: str
    status: str
    error_code: str
    count: int


def delivery_stats(session: Session) -> list[StatRow]:
    code = func.coalesce(PushDelivery.last_error_code, "")
    rows = session.execute(
        select(PushDelivery.channel, PushDelivery.status, code, func.count())
        .group_by(PushDelivery.channel, PushDelivery.status, code)
        .order_by(PushDelivery.channel, PushDelivery.status, code)
    )
    return [StatRow(ch, st, ec, int(n)) for ch, st, ec, n in rows]


class PushCollector(Collector):
    """The backlog, read at scrape time so every API process reports the same (database) truth.

    Only the ``pending`` rows are counted, through their partial index: the backlog stays small
    however long the table grows. What became of deliveries that ended is counted as it happens
    (``gjj_push_deliveries_finished_total`` in ``backend.push.metrics``).
    """

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self.sessions = sessions

    def collect(self) -> Iterator[GaugeMetricFamily]:
        pending = GaugeMetricFamily(
            "gjj_push_pending", "Push deliveries waiting to be sent, by channel", labels=["channel"]
        )
        oldest = GaugeMetricFamily(
            "gjj_push_oldest_pending_seconds",
            "Age of the oldest due delivery still pending (0: none)",
        )
        now = clock.utcnow()
        try:
            with self.sessions() as session:
                rows = pending_backlog(session)
                first_due = session.scalar(
                    select(func.min(PushDelivery.next_attempt_at)).where(
                        PushDelivery.status == "pending", PushDelivery.next_attempt_at <= now
                    )
                )
        except Exception as exc:  # a scrape must not fail because the database blinked
            logger.warning("push backlog unavailable: %s", type(exc).__name__)
            return
        for channel, count in rows:
            pending.add_metric([channel], count)
        oldest.add_metric([], (now - first_due).total_seconds() if first_due else 0.0)
        yield pending
        yield oldest


def pending_backlog(session: Session) -> list[tuple[str, int]]:
    rows = session.execute(
        select(PushDelivery.channel, func.count())
        .where(PushDelivery.status == "pending")
        .group_by(PushDelivery.channel)
        .order_by(PushDelivery.channel)
    )
    return [(channel, int(n)) for channel, n in rows]
