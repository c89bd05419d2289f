"""Running deliveries after commit: the dispatchers, one code path (:func:`run_delivery`) for all.

The transaction that writes a message records :class:`~backend.events.MessagePosted`; the push
handlers (:mod:`backend.push.handlers`, subscribed at bootstrap) write its ``PushDelivery`` rows
before that transaction commits and hand their ids to the runtime's dispatcher after it commits.

- :class:`InlineDispatcher` (``GJJ_PUSH_MODE=inline``, the embedded default): a small thread pool
  in each serving process. A commit wakes its own process's pool; every pool claims whatever is
  due, a chunk at a time, whichever process committed it (and a poller wakes it when another
  process's commits left work), so all workers share a burst. Retries wait on timers.
- ``CeleryDispatcher`` (``celery``, in :mod:`backend.push.celery`): sends the ids to the Celery
  worker (``gjj worker``), new deliveries a chunk to a task.
- :class:`SyncDispatcher` (tests, one-off commands): delivers right away in the calling thread;
  retries are only recorded, the test moves the clock and runs them.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Protocol

from backend.push.delivery import (
    Outcome,
    Senders,
    SweepResult,
    any_due,
    deliver_due,
    deliver_many,
    sweep,
)
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
    _follow_up(outcomes, dispatcher)
    return outcomes


def run_due(core: Core, senders: Senders, dispatcher: Dispatcher) -> dict[int, Outcome]:
    """:func:`run_deliveries` of the next chunk of due deliveries nobody is claiming; empty
    when none is left."""
    try:
        outcomes = deliver_due(core, senders, DISPATCH_CHUNK)
    except Exception:
        logger.exception("push deliveries crashed")  # the sweeper settles the chunk, as above
        raise
    _follow_up(outcomes, dispatcher)
    return outcomes


def _follow_up(outcomes: dict[int, Outcome], dispatcher: Dispatcher) -> None:
    """What each outcome asks for next: a retry later, an SMS fallback now."""
    for delivery_id, outcome in outcomes.items():
        if outcome.retry_in is not None:
            dispatcher.dispatch(delivery_id, countdown=outcome.retry_in)
        if outcome.fallback_id is not None:
            dispatcher.dispatch(outcome.fallback_id)


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
    """The embedded pool. A commit's new deliveries wake up to ``threads`` drainers; a drainer
    claims the oldest due deliveries nobody else is claiming, a chunk at a time, until none is
    left. Any process's drainers take any process's deliveries, so a burst committed by one
    worker (the core system's connections may all land on one) is shared by all of them:
    :meth:`poll` wakes the pool when due deliveries wait that this process did not commit."""

    def __init__(self, core: Core, senders: Senders, threads: int = 2) -> None:
        self.core = core
        self.senders = senders
        self.threads = threads
        self.pool = ThreadPoolExecutor(
            max_workers=threads, thread_name_prefix="gjj-push", initializer=yield_to_requests
        )
        self._lock = threading.Lock()
        self._draining = 0  # drainers running or queued
        self._wakes = 0  # a drainer that found nothing leaves only if no wake came meanwhile
        self._stopped = threading.Event()

    def dispatch(self, delivery_id: int, countdown: float = 0) -> None:
        if countdown > 0:
            # Lost if the process stops first: the poller or the sweeper picks it up when due.
            timer = threading.Timer(countdown, self.dispatch, args=(delivery_id,))
            timer.daemon = True
            timer.start()
            return
        self.pool.submit(self._run, delivery_id)

    def dispatch_many(self, delivery_ids: list[int]) -> None:
        """The ids are committed and due: wake a drainer for each chunk, up to the pool's size."""
        self._wake(-(-len(delivery_ids) // DISPATCH_CHUNK))

    def poll(self, interval: float) -> threading.Thread:
        """A daemon thread waking the pool every ``interval`` seconds while deliveries are due
        (one look at the due index): those another process committed, retries whose timer died
        with a restart."""

        return _every(
            interval, self.poll_once, "gjj-push-poller", "push poll failed", self._stopped
        )

    def poll_once(self) -> bool:
        """One look: wakes the whole pool when a delivery is due; whether it did."""
        if not any_due(self.core):
            return False
        self._wake(self.threads)
        return True

    def _wake(self, wanted: int) -> None:
        with self._lock:
            self._wakes += 1
            start = max(0, min(wanted, self.threads - self._draining))
            self._draining += start
        for _ in range(start):
            self.pool.submit(self._drain)

    def _drain(self) -> None:
        try:
            while True:
                with self._lock:
                    seen = self._wakes
                if not run_due(self.core, self.senders, self):
                    with self._lock:
                        if self._wakes == seen:
                            self._draining -= 1
                            return
        except Exception:  # logged in run_due; the next wake, or the poller, starts another
            with self._lock:
                self._draining -= 1

    def _run(self, delivery_id: int) -> None:
        try:
            run_delivery(self.core, self.senders, delivery_id, self)
        except Exception:  # logged in run_delivery; a pool thread must not die silently
            return

    def shutdown(self) -> None:
        self._stopped.set()
        self.pool.shutdown(wait=True)


# How much lower than the process a pool thread runs (nice, on Linux), so the request threads of
# the same process get the cores first when both want them.
BACKGROUND_NICE = 10


def yield_to_requests() -> None:
    """Lower the calling thread's CPU priority by :data:`BACKGROUND_NICE` (Linux sets nice per
    thread; elsewhere a thread id is no process id, and nothing changes). On 30 June the pools
    of the serving processes push 100,000 messages while members read: at the same priority a
    member GET waited for the cores behind the sends (``bench_interest_day.py``, 100,000
    members: run p50 17.9-19.8 ms, idle 3.6-4.6). With the pool below the request threads:
    10.7-13.0 ms; booking 2,868-3,545 -> 3,371-4,321 entries/s; deliveries 0.49-0.69 of the
    raw-send ceiling (0.53-0.60 before: the sends now give way to booking too)."""
    if sys.platform != "linux":
        return
    # From the process's own level (its main thread's), not this thread's: a thread inherits
    # the nice of the thread that started it, which may be a pool thread.
    level = min(19, os.getpriority(os.PRIO_PROCESS, os.getpid()) + BACKGROUND_NICE)
    try:
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), level)
    except OSError:  # a sandbox that forbids it: the pool still works (a failed initializer
        # would break it), at the request threads' priority
        logger.warning("push pool: thread priority not lowered", exc_info=True)


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
    return _every(
        interval,
        lambda: sweep_once(rt, target, stale_after=interval),
        "gjj-push-sweeper",
        "push sweeper pass failed",
        threading.Event(),  # runs as long as the process
    )


def _every(
    interval: float,
    step: Callable[[], object],
    name: str,
    failure: str,
    stopped: threading.Event,
) -> threading.Thread:
    """A daemon thread running ``step`` every ``interval`` seconds until ``stopped`` is set; a
    failed pass is logged and the next one tries again (the thread must not die)."""

    def _loop() -> None:
        while not stopped.wait(interval):
            try:
                step()
            except Exception:
                logger.exception(failure)

    thread = threading.Thread(target=_loop, name=name, daemon=True)
    thread.start()
    return thread
