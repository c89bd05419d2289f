"""``seed_centre``: generate and bulk-load a demo centre in one transaction, then write the CSV."""

from __future__ import annotations

import datetime as dt
import logging
import os
import sys
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import func, select, text
from tqdm import tqdm

from backend.clock import today
from backend.identity.passwords import make_hasher, password_meets_policy
from backend.members.models import Member
from backend.runtime import Runtime
from devtools.seed import parallel
from devtools.seed.common import Rows
from devtools.seed.csvfile import write_members_csv
from devtools.seed.generator import MEMBER_TABLES, CentreGenerator
from devtools.seed.profiles import DEMO_PASSWORD, DemoMember
from devtools.seed.services import seed_services
from devtools.seed.writer import BackgroundWriter, BulkWriter, secondary_indexes

logger = logging.getLogger(__name__)

FLUSH_ROWS = 50_000  # rows held in memory before a bulk write
PARALLEL_FROM = 20_000  # members from which PostgreSQL is loaded by worker processes
INDEX_BUILD_MEMORY = "512MB"  # maintenance_work_mem for building the dropped indexes again


class _Progress(tqdm):  # type: ignore[type-arg]
    # No monitor thread: ``gjj demo`` forks gunicorn workers after seeding, and a forked worker
    # that inherited a half-copied thread hangs when it exits.
    monitor_interval = 0


class SeedRefused(Exception):
    """The database already has members (and ``if_empty`` was not asked for)."""


@dataclass
class SeedResult:
    skipped: bool
    members: int = 0
    counts: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0
    csv_path: Path | None = None
    demo_members: list[DemoMember] = field(default_factory=list)
    phases: dict[str, float] = field(default_factory=dict)  # seconds of the parallel load's steps

    @property
    def rows(self) -> int:
        return sum(self.counts.values())


def existing_members(rt: Runtime) -> int:
    with rt.engine.connect() as conn:
        return int(conn.execute(select(func.count(Member.id))).scalar_one())


def seed_centre(
    rt: Runtime,
    *,
    members: int = 200,
    seed: int = 42,
    as_of: dt.date | None = None,
    csv_path: Path | None = None,
    if_empty: bool = False,
    password: str = DEMO_PASSWORD,
    progress: bool = True,
    workers: int | None = None,
) -> SeedResult:
    """Seed ``members`` members (with employers, ledgers, loans, applications, inbox) into the
    runtime's database. The same seed and ``as_of`` date give the same centre, whatever the
    number of ``workers`` (default: one per CPU for a large centre on PostgreSQL, else none: the
    whole centre in one transaction)."""
    if members < 1:
        raise ValueError("members must be at least 1")
    if not password_meets_policy(password):
        raise ValueError("the demo password must be 6–18 letters and digits, with both")
    started = time.perf_counter()
    as_of = as_of or today()
    existing = existing_members(rt)
    if existing:
        if if_empty:
            return SeedResult(skipped=True, members=existing)
        raise SeedRefused(f"the database already has {existing} members")
    # Hashed once: argon2id is deliberately slow, and every demo member shares the password.
    settings = rt.settings
    password_hash = make_hasher(settings.argon2_time_cost, settings.argon2_memory_cost).hash(
        password
    )
    workers = _workers(rt, members, workers)
    with _Progress(
        total=members, unit="member", desc="seed", file=sys.stderr, disable=not progress
    ) as bar:

        def generator(next_ids: dict[str, int]) -> CentreGenerator:
            return CentreGenerator(
                seed=seed,
                as_of=as_of,
                pii=rt.pii,
                password=password,
                password_hash=password_hash,
                next_ids=next_ids,
                members=members,
            )

        def advance(done: int) -> None:
            bar.update(done - bar.n)

        phases: dict[str, float] = {}
        if workers > 1:
            counts, demo = _parallel(rt, generator, members, workers, advance, phases)
        else:
            counts, demo = _in_one_transaction(rt, generator, members, advance)
    seed_services(rt, demo, as_of)
    if csv_path is not None:
        write_members_csv(csv_path, demo)
    result = SeedResult(
        skipped=False,
        members=members,
        counts=dict(counts),
        seconds=time.perf_counter() - started,
        csv_path=csv_path,
        demo_members=demo,
        phases=phases,
    )
    logger.info(
        "seeded",
        extra={"members": members, "rows": result.rows, "seconds": round(result.seconds, 1)},
    )
    return result


def _workers(rt: Runtime, members: int, asked: int | None) -> int:
    if rt.engine.dialect.name != "postgresql":
        return 1  # SQLite has one writer
    if asked is not None:
        return max(asked, 1)
    return (os.cpu_count() or 1) if members >= PARALLEL_FROM else 1


Make = Callable[[dict[str, int]], CentreGenerator]


def _in_one_transaction(
    rt: Runtime, make: Make, members: int, advance: Callable[[int], None]
) -> tuple[Counter[str], list[DemoMember]]:
    demo: list[DemoMember] = []
    with rt.engine.begin() as conn:
        writer = BulkWriter(conn)
        generator = make(writer.next_ids())
        # SQLite connections stay on their thread; PostgreSQL gets the overlapping writer.
        sink = BackgroundWriter(writer) if writer.postgres else None
        write = sink.write if sink else writer.write
        rows = Rows()
        generator.employers(rows)
        try:
            for index in range(members):
                demo.append(generator.member(index, rows))
                if rows.size() >= FLUSH_ROWS:
                    write(rows.take())
                    advance(index + 1)
            generator.announcements(rows)
            generator.appointments(rows)
            write(rows.take())
            advance(members)
        finally:
            if sink is not None:
                sink.close()
        writer.finish()
    return writer.counts, demo


def _parallel(
    rt: Runtime,
    make: Make,
    members: int,
    workers: int,
    advance: Callable[[int], None],
    phases: dict[str, float],
) -> tuple[Counter[str], list[DemoMember]]:
    """Employers first; then the members by worker processes, with the plain indexes of their
    tables dropped and built once at the end; then the centre-wide rows and ANALYZE."""
    with rt.engine.begin() as conn:
        writer = BulkWriter(conn)
        generator = make(writer.next_ids())
        rows = Rows()
        generator.employers(rows)
        writer.write(rows.take())
        indexes = secondary_indexes(conn, MEMBER_TABLES)
        for index in indexes:
            conn.execute(text(f"DROP INDEX {index.name}"))
    counts = writer.counts
    started = time.perf_counter()
    try:
        loaded = parallel.load(rt, generator, members=members, workers=workers, on_progress=advance)
    finally:
        phases["load"] = time.perf_counter() - started
        with rt.engine.begin() as conn:
            conn.execute(text(f"SET LOCAL maintenance_work_mem = '{INDEX_BUILD_MEMORY}'"))
            for index in indexes:
                index.create(conn)
        phases["indexes"] = time.perf_counter() - started - phases["load"]
    generator.move_on(loaded.next_ids)
    with rt.engine.begin() as conn:
        writer = BulkWriter(conn)
        writer.counts.update(counts)
        writer.counts.update(loaded.counts)
        generator.announcements(rows)
        generator.appointments(rows)
        writer.write(rows.take())
        writer.finish()
    started = time.perf_counter()
    with rt.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("ANALYZE"))
    phases["analyze"] = time.perf_counter() - started
    return writer.counts, loaded.demo
