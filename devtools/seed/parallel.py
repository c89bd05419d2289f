"""The parallel load of a large centre on PostgreSQL: worker processes generate chunks of members
and COPY them over connections of their own, while this process settles the identities.

The centre is the same whichever number of processes makes it:

- a member is drawn from their own random stream (``seed:member:index``);
- ID numbers and phones are claimed here, in member order, and handed to the workers
  (:class:`devtools.seed.people.IdentityRegistry`);
- a worker generates its chunk with ids counted from 0, then waits for the chunk's turn: chunk k
  takes the ids after those of chunks 0…k-1 (a shared counter per table), so every row gets the
  id a single process would have given it; the ids are moved while the rows are copied.

Each chunk is committed on its own: a load that fails half way leaves a partial centre (empty the
database and seed again; ``gjj seed`` refuses a database that has members)."""

from __future__ import annotations

import gc
import multiprocessing as mp
import queue
import threading
import traceback
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import text

from backend.runtime import Runtime
from devtools.seed.generator import MEMBER_TABLES, CentreGenerator
from devtools.seed.people import Claimed, draw_person
from devtools.seed.profiles import DemoMember
from devtools.seed.writer import BulkWriter

CHUNK = 1000  # members per chunk: fixed, so the chunks (and the ids) do not depend on workers
_TURN_POLL = 1.0  # seconds between looks at the abort flag while waiting for a turn


@dataclass
class _Shared:
    """What the workers share: whose turn it is to take ids, the next id of every table."""

    turn: Any
    next_ids: Any
    condition: Any
    abort: Any
    tasks: Any
    results: Any


@dataclass
class LoadResult:
    counts: Counter[str] = field(default_factory=Counter)
    demo: list[DemoMember] = field(default_factory=list)
    next_ids: dict[str, int] = field(default_factory=dict)


def load(
    rt: Runtime,
    generator: CentreGenerator,
    *,
    members: int,
    workers: int,
    on_progress: Callable[[int], None] = lambda done: None,
) -> LoadResult:
    """Members 0…``members``-1 into the database, ``workers`` processes; the generator has made
    the employers (and gives the first free ids)."""
    context = mp.get_context("fork")  # the workers inherit the runtime and the generator
    start_ids = generator.next_ids
    shared = _Shared(
        turn=context.Value("q", 0, lock=False),
        next_ids=context.Array("q", [start_ids.get(t, 1) for t in MEMBER_TABLES], lock=False),
        condition=context.Condition(),
        abort=context.Event(),
        tasks=context.Queue(maxsize=2 * workers),
        results=context.Queue(),
    )
    chunks = list(range(0, members, CHUNK))
    processes = [
        context.Process(target=_work, args=(rt, generator, shared), name=f"seed-{n}", daemon=True)
        for n in range(workers)
    ]
    for process in processes:
        process.start()
    feeder = threading.Thread(
        target=_feed, args=(generator, shared, chunks, members, workers), daemon=True
    )
    feeder.start()
    result = LoadResult()
    by_chunk: dict[int, list[DemoMember]] = {}
    done = 0
    try:
        while len(by_chunk) < len(chunks):
            try:
                message = shared.results.get(timeout=5)
            except queue.Empty:
                if any(p.exitcode not in (None, 0) for p in processes):
                    raise RuntimeError("a seed worker died") from None
                continue
            if message[0] == "error":
                raise RuntimeError(f"a seed worker failed:\n{message[1]}")
            _, k, counts, demo = message
            by_chunk[k] = demo
            result.counts.update(counts)
            done += len(demo)
            on_progress(done)
        for process in processes:
            process.join()
    except BaseException:
        shared.abort.set()
        for process in processes:
            process.terminate()
        raise
    result.demo = [member for k in sorted(by_chunk) for member in by_chunk[k]]
    result.next_ids = dict(zip(MEMBER_TABLES, shared.next_ids[:], strict=True))
    return result


def _feed(
    generator: CentreGenerator, shared: _Shared, chunks: list[int], members: int, workers: int
) -> None:
    """Claim identities in member order, a chunk at a time, and queue the chunks in order."""
    for k, start in enumerate(chunks):
        claims = [
            generator.registry.claim(draw_person(generator.seed, index))
            for index in range(start, min(start + CHUNK, members))
        ]
        while not shared.abort.is_set():
            try:
                shared.tasks.put((k, start, claims), timeout=_TURN_POLL)
                break
            except queue.Full:
                continue
    for _ in range(workers):
        shared.tasks.put(None)


def _tasks(shared: _Shared) -> Iterator[tuple[int, int, list[Claimed]]]:
    while (task := shared.tasks.get()) is not None:
        yield task


def _work(rt: Runtime, generator: CentreGenerator, shared: _Shared) -> None:
    rt.engine.dispose(close=False)  # the parent's pooled connections stay the parent's
    # A chunk is some 120,000 rows of dicts, Decimals and dates that live until it is written:
    # the cyclic collector would walk them again and again while they are made (measured: 8-10 %
    # of a worker's CPU). It runs once per chunk instead, after the chunk is gone; what the
    # worker inherited is frozen (never walked, never copied on write by the walk).
    gc.freeze()
    gc.disable()
    try:
        with rt.engine.connect() as conn:
            _skip_row_triggers(conn)
            writer = BulkWriter(conn)
            for k, start, claims in _tasks(shared):
                tables, taken, demo = generator.chunk(start, claims)
                shift = _take_turn(shared, k, taken)
                if shift is None:
                    return
                with conn.begin():
                    writer.write(tables, shift=shift)
                counts = {name: len(rows) for name, rows in tables.items()}
                shared.results.put(("chunk", k, counts, demo))
                del tables
                gc.collect()
    except BaseException:  # noqa: BLE001 - reported to the parent, which stops the load
        shared.abort.set()
        shared.results.put(("error", traceback.format_exc()))


def _take_turn(shared: _Shared, k: int, taken: dict[str, int]) -> dict[str, int] | None:
    """Wait until the chunks before ``k`` have taken their ids; take ours. None: aborted."""
    with shared.condition:
        while shared.turn.value != k:
            if shared.abort.is_set():
                return None
            shared.condition.wait(_TURN_POLL)
        shift = {}
        for position, name in enumerate(MEMBER_TABLES):
            shift[name] = shared.next_ids[position]
            shared.next_ids[position] += taken.get(name, 0)
        shared.turn.value = k + 1
        shared.condition.notify_all()
    return shift


def _skip_row_triggers(conn: Any) -> None:
    """Foreign keys are checked by a trigger per row; the generator writes parents before their
    children by construction, so a superuser's load skips them (replica mode). Without the right,
    the checks run."""
    try:
        with conn.begin():
            conn.execute(text("SET session_replication_role = replica"))
    except Exception:  # noqa: BLE001 - not a superuser: keep the checks
        conn.rollback()
