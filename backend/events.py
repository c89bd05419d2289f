"""Domain events: what a use case says happened, recorded on its unit of work (the session).

A use case records events with :func:`record` while it writes; nothing listens at that point.
One :class:`EventBus`, built and wired by the entry point's bootstrap, is attached to the
process's session factory and runs the subscribed handlers at two moments:

- ``before_commit`` — inside the same transaction, batched per event type: a handler gets the
  session and every event of its type recorded since the last commit (the push feature writes the
  delivery rows of new messages here: the outbox commits with the message or not at all). A
  handler may record further events; they are handled in the same pass.
- ``after_commit`` — once the transaction is durable, batched the same way, with no session (the
  push feature hands the new delivery ids to its dispatcher). A rollback drops every event.

The vocabulary (the chain a member's news travels along):
``MemberNotified`` (loans, applications: something to tell a member; the inbox listens) →
``MessagePosted`` (the inbox wrote a message; push listens) → ``DeliveriesQueued`` (push wrote the
delivery rows; its dispatcher sends them after commit). Event types live here, in the kernel, so
a feature records them without importing the feature that reacts.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar

from sqlalchemy import event as sa_event
from sqlalchemy.orm import Session, sessionmaker

PENDING = "gjj_events_pending"  # session.info: recorded, not yet seen by before_commit handlers
COMMITTING = "gjj_events_committing"  # session.info: handled in-transaction, waiting for commit
MAX_PASSES = 10  # handlers recording events that record events …: a cycle is a bug, not a loop


@dataclass(frozen=True)
class Event:
    """Base of every domain event: immutable, ids only (handlers re-read what they need)."""


@dataclass(frozen=True)
class MemberNotified(Event):
    """A feature has something to tell a member: the inbox (subscribed at bootstrap) posts it as
    a message in the same transaction, so features that must not know the inbox (loans,
    applications) still reach the member. The fields are those of ``inbox.post_message``."""

    member_id: int
    business_name: str
    content: str
    business_type: str = "notice"
    source_channel: str = "核心业务系统"
    application_id: int | None = None
    dedupe_key: str | None = None
    request_hash: str | None = None


@dataclass(frozen=True)
class MessagePosted(Event):
    """A message or to-do reached a member's inbox (``backend.inbox``)."""

    message_id: int
    member_id: int
    business_type: str


@dataclass(frozen=True)
class DeliveriesQueued(Event):
    """Push delivery rows were written in this transaction; send them once it commits."""

    delivery_ids: tuple[int, ...]


E = TypeVar("E", bound=Event)
Phase = Literal["before_commit", "after_commit"]
InTransaction = Callable[[Session, Sequence[Any]], None]
AfterCommit = Callable[[Sequence[Any]], None]


def record(session: Session, *events: Event) -> None:
    """Record events on the session's unit of work; handlers run at commit (see module doc)."""
    if not session.in_transaction():
        session.begin()  # so that a rollback before any write drops them too
    session.info.setdefault(PENDING, []).extend(events)


def pending(session: Session) -> list[Event]:
    """Events recorded and not yet handled (tests and diagnostics)."""
    return list(session.info.get(PENDING, ()))


@dataclass
class EventBus:
    """Handlers per event type and phase. Subscribe at bootstrap, then :meth:`attach` once."""

    before: dict[type[Event], list[InTransaction]] = field(
        default_factory=lambda: defaultdict(list)
    )
    after: dict[type[Event], list[AfterCommit]] = field(default_factory=lambda: defaultdict(list))
    on_error: Callable[[type[Event], BaseException], None] | None = None

    def subscribe(self, kind: type[E], handler: Callable[..., None], *, when: Phase) -> None:
        if when == "before_commit":
            self.before[kind].append(handler)
        else:
            self.after[kind].append(handler)

    def attach(self, factory: sessionmaker[Session]) -> None:
        """Run the handlers for every session the factory makes (idempotent per factory)."""
        attached = factory.kw.get("info", {}).get("gjj_event_bus")
        if attached is self:
            return
        if attached is not None:  # two buses would each take the other's events: refuse
            raise RuntimeError("another event bus is attached to this session factory")
        info = dict(factory.kw.get("info") or {})
        info["gjj_event_bus"] = self
        factory.configure(info=info)
        sa_event.listen(factory, "before_commit", self._before_commit)
        sa_event.listen(factory, "after_commit", self._after_commit)
        sa_event.listen(factory, "after_rollback", self._after_rollback)

    # -- the session hooks -----------------------------------------------------------------

    def _before_commit(self, session: Session) -> None:
        for _ in range(MAX_PASSES):
            batch: list[Event] = session.info.pop(PENDING, [])
            if not batch:
                return
            session.info.setdefault(COMMITTING, []).extend(batch)
            for kind, events in _by_type(batch).items():
                for handler in self.before.get(kind, ()):
                    handler(session, events)
        raise RuntimeError("domain events kept recording events: a handler cycle")

    def _after_commit(self, session: Session) -> None:
        done: list[Event] = session.info.pop(COMMITTING, [])
        for kind, events in _by_type(done).items():
            for handler in self.after.get(kind, ()):
                try:
                    handler(events)
                except Exception as exc:  # committed already: report, never undo
                    if self.on_error is not None:
                        self.on_error(kind, exc)

    def _after_rollback(self, session: Session) -> None:
        session.info.pop(PENDING, None)
        session.info.pop(COMMITTING, None)


def _by_type(events: Sequence[Event]) -> dict[type[Event], list[Event]]:
    grouped: dict[type[Event], list[Event]] = {}
    for item in events:
        grouped.setdefault(type(item), []).append(item)
    return grouped
