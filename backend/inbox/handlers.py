"""How the inbox listens: subscribed to the event bus by the bootstrap. A
:class:`~backend.events.MemberNotified` becomes a message before its transaction commits (and the
message's own :class:`~backend.events.MessagePosted` queues its pushes in the same commit)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict

from sqlalchemy.orm import Session

from backend.events import EventBus, MemberNotified
from backend.inbox.services import post_message


def post_notices(session: Session, notices: Sequence[MemberNotified]) -> None:
    for notice in notices:
        post_message(session, **asdict(notice))


def subscribe(bus: EventBus) -> None:
    bus.subscribe(MemberNotified, post_notices, when="before_commit")
