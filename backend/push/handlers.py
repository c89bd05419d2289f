"""How the push feature listens: subscribed to the event bus by the bootstrap, never imported by
the features whose events it reacts to.

- before commit, :class:`~backend.events.MessagePosted` (every message of the transaction at
  once): write their delivery rows, record :class:`~backend.events.DeliveriesQueued`;
- after commit, :class:`~backend.events.DeliveriesQueued`: hand the ids to the dispatcher (a
  rollback drops them with the rows).
"""

from __future__ import annotations

from collections.abc import Collection, Sequence

from sqlalchemy.orm import Session

from backend.events import DeliveriesQueued, EventBus, MessagePosted, record
from backend.push.dispatch import Dispatcher, dispatch_all
from backend.push.services import queue_deliveries


def subscribe(
    bus: EventBus, *, dispatcher: Dispatcher, sms_fallback_kinds: Collection[str]
) -> None:
    kinds = frozenset(sms_fallback_kinds)

    def write_deliveries(session: Session, posted: Sequence[MessagePosted]) -> None:
        ids = queue_deliveries(session, posted, kinds)
        if ids:
            record(session, DeliveriesQueued(tuple(ids)))

    def send_deliveries(queued: Sequence[DeliveriesQueued]) -> None:
        dispatch_all(dispatcher, [i for event in queued for i in event.delivery_ids])

    bus.subscribe(MessagePosted, write_deliveries, when="before_commit")
    bus.subscribe(DeliveriesQueued, send_deliveries, when="after_commit")
