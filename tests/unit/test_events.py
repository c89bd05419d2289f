"""The event bus: handlers batched per type before and after commit, nothing after a rollback."""

from __future__ import annotations

import pytest
from sqlalchemy import create_engine
from sqlalchemy.orm import Session, sessionmaker

from backend.events import DeliveriesQueued, EventBus, MessagePosted, pending, record


@pytest.fixture
def factory() -> sessionmaker[Session]:
    return sessionmaker(create_engine("sqlite://"))


def _bus(factory: sessionmaker[Session], after: list[tuple[int, ...]]) -> EventBus:
    bus = EventBus()

    def queue(session: Session, posted: list[MessagePosted]) -> None:
        record(session, DeliveriesQueued(tuple(e.message_id for e in posted)))

    bus.subscribe(MessagePosted, queue, when="before_commit")
    bus.subscribe(
        DeliveriesQueued,
        lambda queued: after.extend(q.delivery_ids for q in queued),
        when="after_commit",
    )
    bus.attach(factory)
    return bus


def test_handlers_get_every_event_of_the_transaction_at_once_when_it_commits(factory):
    after: list[tuple[int, ...]] = []
    _bus(factory, after)
    with factory() as session:
        record(session, MessagePosted(1, 7, "notice"), MessagePosted(2, 8, "notice"))
        assert after == []
        session.commit()
    assert after == [(1, 2)]


def test_events_dropped_when_the_transaction_rolls_back_before_any_write(factory):
    after: list[tuple[int, ...]] = []
    _bus(factory, after)
    with factory() as session:
        record(session, MessagePosted(1, 7, "notice"))
        session.rollback()
        assert pending(session) == []
        session.commit()
    assert after == []


def test_second_bus_refused_when_one_is_attached_to_the_factory(factory):
    bus = _bus(factory, [])
    bus.attach(factory)  # the same bus again: nothing changes
    with pytest.raises(RuntimeError):
        EventBus().attach(factory)
