"""How the deliveries stand: per channel, status and error code (``gjj push stats``, /metrics)."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass

from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from backend.push.models import PushDelivery
from backend.runtime import Runtime

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
    """Read at scrape time, so every API process reports the same (database) truth."""

    def __init__(self, rt: Runtime) -> None:
        self.rt = rt

    def collect(self) -> Iterator[GaugeMetricFamily]:
        gauge = GaugeMetricFamily(
            "gjj_push_deliveries",
            "Push deliveries by channel, status and last error code",
            labels=["channel", "status", "error_code"],
        )
        try:
            with self.rt.session() as session:
                rows = delivery_stats(session)
        except Exception as exc:  # a scrape must not fail because the database blinked
            logger.warning("push stats unavailable: %s", type(exc).__name__)
            rows = []
        for row in rows:
            gauge.add_metric([row.channel, row.status, row.error_code], row.count)
        yield gauge
