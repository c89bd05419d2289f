"""Running deliveries after commit: the dispatchers, one code path (:func:`run_delivery`) for all.

The transaction that writes a message records :class:`~backend.events.MessagePosted`; the push
handlers (:mod:`backend.push.handlers`, subscribed at bootstrap) write its ``PushDelivery`` rows
before that transaction commits and hand their ids to the runtime's dispatcher after it commits.

- :class:`InlineDispatcher` (``GJJ_PUSH_MODE=inline``, the embedded default): a small thread pool
  in the web process; retries wait on timers.
- ``CeleryDispatcher`` (``celery``, in :mod:`backend.push.celery`): sends the ids to the Celery
  worker (``gjj worker``), new deliveries a chunk to a task.
- :class:`SyncDispatcher` (tests, one-off commands): delivers right away in the calling thread;
  retries are only recorded, the test moves the clock and runs them.
"""

from __future__ import annotations

import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Protocol

from backend.push.delivery import Outcome, Senders, SweepResult, deliver_many, sweep
from backend.runtime import Core

logger = logging.getLogger(__name__)

DISPATCH_CHUNK = 50  # deliveries per claim: few transactions, and the pool threads share them


class Dispatcher(Protocol):
    def dispatch(self, delivery_id: int, countdown: float = 0) -> None:
        """One delivery (a retry after ``countdown`` seconds, a fallback, a requeued claim)."""

    def dispatch_many(self, delivery_ids: list[int]) -> None:
        """The new deliveries of one commit, due now: delivered a chunk at a time (one claim,
        one plan read, one ``sent`` write a chunk)."""


def chunks(delivery_ids: list[int]) -> list[list[int]]:
    return [
        delivery_ids[start : start + DISPATCH_CHUNK]
        for start in range(0, len(delivery_ids), DISPATCH_CHUNK)
    ]


def run_delivery(core: Core, senders: Senders, delivery_id: int, dispatcher: Dispatcher) -> Outcome:
    """One attempt, then whatever it asks for next (a retry later, an SMS fallback now)."""
    return run_deliveries(core, senders, [delivery_id], dispatcher)[delivery_id]


def run_deliveries(
    core: Core, senders: Senders, delivery_ids: list[int], dispatcher: Dispatcher
) -> dict[int, Outcome]:
    """A chunk of ids (one claim, one plan read, one ``sent`` write), then what each outcome
    asks for next: a retry later, an SMS fallback now."""
    try:
        outcomes = deliver_many(core, delivery_ids, senders)
    except Exception:
        # The rows stay 'sending' until their lock expires; then the sweeper requeues those whose
        # send never started and writes off those whose send did.
        logger.exception("push deliveries crashed", extra={"delivery_ids": delivery_ids[:20]})
        raise
    for delivery_id, outcome in outcomes.items():
        if outcome.retry_in is not None:
            dispatcher.dispatch(delivery_id, countdown=outcome.retry_in)
        if outcome.fallback_id is not None:
            dispatcher.dispatch(outcome.fallback_id)
    return outcomes


class SyncDispatcher:
    def __init__(self, core: Core, senders: Senders) -> None:
        self.core = core
        self.senders = senders
        self.outcomes: dict[int, list[Outcome]] = {}
        self.scheduled: list[tuple[int, float]] = []

    def dispatch(self, delivery_id: int, countdown: float = 0) -> None:
        if countdown > 0:
            self.scheduled.append((delivery_id, countdown))
            return
        outcome = run_delivery(self.core, self.senders, delivery_id, self)
        self.outcomes.setdefault(delivery_id, []).append(outcome)

    def dispatch_many(self, delivery_ids: list[int]) -> None:
        for chunk in chunks(delivery_ids):
            for delivery_id, outcome in run_deliveries(
                self.core, self.senders, chunk, self
            ).items():
                self.outcomes.setdefault(delivery_id, []).append(outcome)


class InlineDispatcher:
    def __init__(self, core: Core, senders: Senders, threads: int = 2) -> None:
        self.core = core
        self.senders = senders
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
        """Each pool thread claims, plans and finishes a chunk in a few transactions."""
        for chunk in chunks(delivery_ids):
            self.pool.submit(self._run_many, chunk)

    def _run(self, delivery_id: int) -> None:
        try:
            run_delivery(self.core, self.senders, delivery_id, self)
        except Exception:  # logged in run_delivery; a pool thread must not die silently
            return

    def _run_many(self, delivery_ids: list[int]) -> None:
        try:
            run_deliveries(self.core, self.senders, delivery_ids, self)
        except Exception:  # logged in run_deliveries; the sweeper picks the rows up
            return

    def shutdown(self) -> None:
        self.pool.shutdown(wait=True)


def dispatch_all(target: Dispatcher, delivery_ids: list[int]) -> None:
    """Hand committed delivery ids to ``target``; a failure (the broker is down) is logged and
    left to the sweeper: the rows are committed."""
    try:
        target.dispatch_many(delivery_ids)
    except Exception:
        logger.exception("push dispatch failed", extra={"delivery_ids": delivery_ids[:20]})


def sweep_once(rt: Core, target: Dispatcher, *, stale_after: int) -> SweepResult:
    """One sweeper pass: settle the claims of dead workers (requeue the unsent, write off the
    sends in doubt), hand what is requeued and stale pending deliveries to ``target``."""
    result = sweep(rt, stale_after=stale_after)
    for delivery_id in result.requeued:
        target.dispatch(delivery_id)
    return result


def start_inline_sweeper(rt: Core, target: Dispatcher) -> threading.Thread:
    """Embedded mode has no Celery beat: a daemon thread of the serving process sweeps every
    ``GJJ_PUSH_SWEEP_INTERVAL`` seconds, so retries lost with a restart are picked up again."""
    interval = rt.settings.push_sweep_interval

    def _loop() -> None:
        while True:
            time.sleep(interval)
            try:
                sweep_once(rt, target, stale_after=interval)
            except Exception:  # the next pass tries again; the thread must not die
                logger.exception("push sweeper pass failed")

    thread = threading.Thread(target=_loop, name="gjj-push-sweeper", daemon=True)
    thread.start()
    return thread
