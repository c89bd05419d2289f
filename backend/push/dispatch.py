"""Running deliveries after commit: the hook, and the dispatchers behind it.

The transaction that writes a message also writes its ``PushDelivery`` rows and leaves their ids
in ``session.info`` (:func:`backend.push.services.queue_deliveries`). After that transaction
commits, the hook installed here hands the ids to the runtime's dispatcher; a rollback drops them.

Dispatchers, one code path (:func:`run_delivery`) for all:
- :class:`InlineDispatcher` (``GJJ_PUSH_MODE=inline``, the embedded default): a small thread pool
  in the web process; retries wait on timers.
- :class:`CeleryDispatcher` (``celery``): sends the id to the Celery worker (``gjj worker``).
- :class:`SyncDispatcher` (tests): delivers right away in the calling thread; retries are only
  recorded, the test moves the clock and runs them.
"""

from __future__ import annotations

import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Protocol

from sqlalchemy import event
from sqlalchemy.orm import Session

from backend.channels.clients import channel_clients
from backend.identity.sms import make_sms_sender
from backend.logs import request_id_var
from backend.push.delivery import Outcome, Senders, SweepResult, deliver, deliver_many, sweep
from backend.push.services import NEW_DELIVERIES, SMS_FALLBACK_KINDS
from backend.push.templates import Templates, load_templates
from backend.runtime import Runtime

logger = logging.getLogger(__name__)


DISPATCH_CHUNK = 50  # deliveries per claim: few transactions, and the pool threads share them


class Dispatcher(Protocol):
    def dispatch(self, delivery_id: int, countdown: float = 0) -> None: ...


def push_templates(rt: Runtime) -> Templates:
    found = rt.extras.get("push_templates")
    if found is None:
        found = rt.extras["push_templates"] = load_templates(rt.settings.push_templates_file)
    return found  # type: ignore[no-any-return]


def senders(rt: Runtime) -> Senders:
    """The runtime's senders (built on first use, then shared)."""
    found = rt.extras.get("push_senders")
    if found is None:
        sms = rt.extras.get("sms_sender") or make_sms_sender(rt.settings)
        found = Senders(
            channels=channel_clients(rt),
            sms=sms,
            templates=push_templates(rt),
        )
        rt.extras["push_senders"] = found
    return found  # type: ignore[no-any-return]


def run_delivery(rt: Runtime, delivery_id: int, dispatcher: Dispatcher) -> Outcome:
    """One attempt, then whatever it asks for next (a retry later, an SMS fallback now)."""
    try:
        outcome = deliver(rt, delivery_id, senders(rt))
    except Exception:
        # The row stays 'sending' until its lock expires; the sweeper writes it off.
        logger.exception("push delivery crashed", extra={"delivery_id": delivery_id})
        raise
    if outcome.retry_in is not None:
        dispatcher.dispatch(delivery_id, countdown=outcome.retry_in)
    if outcome.fallback_id is not None:
        dispatcher.dispatch(outcome.fallback_id)
    return outcome


def run_deliveries(rt: Runtime, delivery_ids: list[int], dispatcher: Dispatcher) -> None:
    """:func:`run_delivery` for a chunk of ids: one claim, one plan read, one ``sent`` write."""
    try:
        outcomes = deliver_many(rt, delivery_ids, senders(rt))
    except Exception:
        logger.exception("push deliveries crashed", extra={"delivery_ids": delivery_ids[:20]})
        raise
    for delivery_id, outcome in outcomes.items():
        if outcome.retry_in is not None:
            dispatcher.dispatch(delivery_id, countdown=outcome.retry_in)
        if outcome.fallback_id is not None:
            dispatcher.dispatch(outcome.fallback_id)


class SyncDispatcher:
    def __init__(self, rt: Runtime) -> None:
        self.rt = rt
        self.outcomes: dict[int, list[Outcome]] = {}
        self.scheduled: list[tuple[int, float]] = []

    def dispatch(self, delivery_id: int, countdown: float = 0) -> None:
        if countdown > 0:
            self.scheduled.append((delivery_id, countdown))
            return
        outcome = run_delivery(self.rt, delivery_id, self)
        self.outcomes.setdefault(delivery_id, []).append(outcome)


class InlineDispatcher:
    def __init__(self, rt: Runtime, threads: int = 2) -> None:
        self.rt = rt
        self.pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="gjj-push")

    def dispatch(self, delivery_id: int, countdown: float = 0) -> None:
        if countdown > 0:
            # Lost if the process stops first: the sweeper (`gjj push sweep`) picks it up.
            timer = threading.Timer(countdown, self.dispatch, args=(delivery_id,))
            timer.daemon = True
            timer.start()
            return
        self.pool.submit(self._run, delivery_id)

    def dispatch_many(self, delivery_ids: list[int]) -> None:
        """New deliveries of one commit, in chunks: each pool thread claims, plans and finishes a
        chunk in a few transactions instead of two per delivery."""
        for start in range(0, len(delivery_ids), DISPATCH_CHUNK):
            self.pool.submit(self._run_many, delivery_ids[start : start + DISPATCH_CHUNK])

    def _run(self, delivery_id: int) -> None:
        try:
            run_delivery(self.rt, delivery_id, self)
        except Exception:  # logged in run_delivery; a pool thread must not die silently
            return

    def _run_many(self, delivery_ids: list[int]) -> None:
        try:
            run_deliveries(self.rt, delivery_ids, self)
        except Exception:  # logged in run_deliveries; the sweeper picks the rows up
            return

    def shutdown(self) -> None:
        self.pool.shutdown(wait=True)


class CeleryDispatcher:
    def __init__(self, celery_app: Any) -> None:
        self.celery = celery_app

    def dispatch(self, delivery_id: int, countdown: float = 0) -> None:
        # The request id travels with the task: the worker's log lines carry it too.
        self.celery.send_task(
            "gjj.push.deliver",
            args=[delivery_id],
            kwargs={"request_id": request_id_var.get()},
            countdown=countdown or None,
        )


def dispatcher(rt: Runtime) -> Dispatcher:
    """The runtime's dispatcher: injected (tests), or the one ``GJJ_PUSH_MODE`` names."""
    found = rt.extras.get("push_dispatcher")
    if found is None:
        if rt.settings.push_mode == "celery":
            from backend.push.worker import make_celery  # the web process needs only the client

            found = CeleryDispatcher(make_celery(rt.settings))
        else:
            found = InlineDispatcher(rt, rt.settings.push_inline_threads)
        rt.extras["push_dispatcher"] = found
    return found  # type: ignore[no-any-return]


def install(rt: Runtime) -> None:
    """Hook the runtime's sessions: new deliveries go to the dispatcher after commit. Idempotent."""
    if rt.extras.get("push_installed"):
        return
    rt.extras["push_installed"] = True
    rt.session_factory.configure(
        info={SMS_FALLBACK_KINDS: tuple(rt.settings.push_sms_fallback_kinds)}
    )

    def _after_commit(session: Session) -> None:
        ids = session.info.pop(NEW_DELIVERIES, None)
        if not ids:
            return
        target = dispatcher(rt)
        if isinstance(target, InlineDispatcher):
            target.dispatch_many(ids)
            return
        for delivery_id in ids:
            try:
                target.dispatch(delivery_id)
            except Exception:
                # The broker is down: the rows are committed, the sweeper will send them.
                logger.exception("push dispatch failed", extra={"delivery_id": delivery_id})

    def _after_rollback(session: Session) -> None:
        session.info.pop(NEW_DELIVERIES, None)

    event.listen(rt.session_factory, "after_commit", _after_commit)
    event.listen(rt.session_factory, "after_rollback", _after_rollback)


def sweep_once(rt: Runtime, target: Dispatcher, *, stale_after: int) -> SweepResult:
    """One sweeper pass: write off lost sends, hand stale pending deliveries to ``target``."""
    result = sweep(rt, stale_after=stale_after)
    for delivery_id in result.requeued:
        target.dispatch(delivery_id)
    return result


def start_inline_sweeper(rt: Runtime) -> threading.Thread:
    """Embedded mode has no Celery beat: a daemon thread of the serving process sweeps every
    ``GJJ_PUSH_SWEEP_INTERVAL`` seconds, so retries lost with a restart are picked up again."""
    interval = rt.settings.push_sweep_interval

    def _loop() -> None:
        while True:
            time.sleep(interval)
            try:
                sweep_once(rt, dispatcher(rt), stale_after=interval)
            except Exception:  # the next pass tries again; the thread must not die
                logger.exception("push sweeper pass failed")

    thread = threading.Thread(target=_loop, name="gjj-push-sweeper", daemon=True)
    thread.start()
    return thread
