"""Every entry point's container is wired the same way (issue 13): a message posted through any
session of it queues its deliveries in the same transaction and hands them to the dispatcher
after commit. Nothing to install, nothing to forget."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import event, select

from backend.app import create_app
from backend.bootstrap import bootstrap
from backend.cli import Context
from backend.events import DeliveriesQueued, MessagePosted, pending
from backend.inbox.services import post_message
from backend.members.models import MemberPreference
from backend.push.dispatch import InlineDispatcher, SyncDispatcher
from backend.push.models import PushDelivery
from backend.runtime import Runtime
from tests.conftest import RecordingDispatcher


def _sms_member(make: Any) -> Any:
    """A member who chose SMS: the file outbox delivers it in the test, no channel needed."""
    member = make.member()
    make.session.add(MemberPreference(member_id=member.id, push_channels=["sms"]))
    make.session.commit()
    return member


def _post(rt: Runtime, member: Any) -> int:
    with rt.session() as s:
        message, _ = post_message(s, member_id=member.id, business_name="缴存到账", content="到账")
        assert [type(e) for e in pending(s)] == [MessagePosted]
        s.commit()
        return message.id


def _delivery(rt: Runtime, message_id: int) -> PushDelivery:
    with rt.session() as s:
        return s.scalars(select(PushDelivery).where(PushDelivery.message_id == message_id)).one()


def test_message_queued_and_dispatched_when_posted_through_a_bootstrapped_runtime(
    runtime, make, engine, settings, redis_client
):
    recorder = RecordingDispatcher()
    rt = bootstrap(settings, engine=engine, redis_client=redis_client, dispatcher=recorder)
    message_id = _post(rt, _sms_member(make))
    assert recorder.dispatched == [(_delivery(rt, message_id).id, 0)]


def test_message_sent_when_posted_through_the_app_runtime(runtime, make, settings):
    app = create_app(settings)
    rt: Runtime = app.extensions["gjj"]
    assert isinstance(rt.dispatcher, InlineDispatcher)  # GJJ_PUSH_MODE=inline, the default
    message_id = _post(rt, _sms_member(make))
    rt.dispatcher.shutdown()  # waits for the pool: the delivery ran
    assert _delivery(rt, message_id).status == "sent"
    rt.close()


def test_message_sent_when_posted_through_a_command_runtime(runtime, make, settings):
    rt = Context(settings).delivering()
    assert isinstance(rt.dispatcher, SyncDispatcher)  # no worker in inline mode
    message_id = _post(rt, _sms_member(make))
    assert _delivery(rt, message_id).status == "sent"


def test_message_queued_for_the_worker_when_posted_through_a_celery_runtime(
    runtime, make, settings
):
    rt = Context(settings.with_(push_mode="celery", broker_url="memory://")).runtime
    queued: list[DeliveriesQueued] = []
    rt.bus.subscribe(DeliveriesQueued, queued.extend, when="after_commit")
    message_id = _post(rt, _sms_member(make))
    assert queued == [DeliveriesQueued((_delivery(rt, message_id).id,))]


def test_nothing_queued_when_message_transaction_rolls_back(runtime, make):
    member = _sms_member(make)
    with runtime.session() as s:
        post_message(s, member_id=member.id, business_name="缴存到账", content="到账")
        s.rollback()
        s.commit()
    assert runtime.dispatcher.dispatched == []
    with runtime.session() as s:
        assert s.scalars(select(PushDelivery)).all() == []


@pytest.mark.parametrize("messages", [1, 40])
def test_deliveries_written_in_a_fixed_number_of_statements_when_a_transaction_posts_many(
    runtime, make, messages
):
    members = [make.member() for _ in range(4)]
    for member in members[:2]:
        make.channel_identity(member, "wechat", f"o-wiring-{member.id}")
    statements: list[str] = []

    def count(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        statements.append(statement)

    with runtime.session() as s:
        for n in range(messages):
            post_message(s, member_id=members[n % 4].id, business_name="结息", content="结息")
        s.flush()
        event.listen(runtime.engine, "before_cursor_execute", count)
        try:
            s.commit()
        finally:
            event.remove(runtime.engine, "before_cursor_execute", count)

    # preferences, bindings and one bulk insert returning the new ids (SQLite: SQLAlchemy may
    # batch the insert's rows itself), whatever the number of messages
    ours = [x for x in statements if "push_deliveries" in x]
    inserts = [x for x in ours if x.lstrip().upper().startswith("INSERT")]
    assert len([x for x in statements if "push_deliveries" not in x]) == 2
    assert 1 <= len(inserts) <= 2 and len(ours) == len(inserts)
    with runtime.session() as s:
        rows = s.scalars(select(PushDelivery)).all()
    assert len(rows) == sum(1 for n in range(messages) if n % 4 < 2)
    assert sorted(i for i, _ in runtime.dispatcher.dispatched) == sorted(r.id for r in rows)
