"""``seed_centre``: generate and bulk-load a demo centre in one transaction, then write the CSV."""

from __future__ import annotations

import datetime as dt
import logging
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import func, select
from tqdm import tqdm

from backend.clock import today
from backend.identity.passwords import make_hasher, password_meets_policy
from backend.members.models import Member
from backend.runtime import Runtime
from devtools.seed.common import Rows
from devtools.seed.csvfile import write_members_csv
from devtools.seed.generator import CentreGenerator
from devtools.seed.profiles import DEMO_PASSWORD, DemoMember
from devtools.seed.services import seed_services
from devtools.seed.writer import BackgroundWriter, BulkWriter

logger = logging.getLogger(__name__)

FLUSH_ROWS = 50_000  # rows held in memory before a bulk write


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
) -> SeedResult:
    """Seed ``members`` members (with employers, ledgers, loans, applications, inbox) into the
    runtime's database. The same seed and ``as_of`` date give the same centre."""
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
    demo: list[DemoMember] = []
    with rt.engine.begin() as conn:
        writer = BulkWriter(conn)
        generator = CentreGenerator(
            seed=seed,
            as_of=as_of,
            pii=rt.pii,
            password=password,
            password_hash=password_hash,
            next_ids=writer.next_ids(),
            members=members,
        )
        # SQLite connections stay on their thread; PostgreSQL gets the overlapping writer.
        sink = BackgroundWriter(writer) if writer.postgres else None
        write = sink.write if sink else writer.write
        rows = Rows()
        generator.employers(rows)
        try:
            with _Progress(
                total=members, unit="member", desc="seed", file=sys.stderr, disable=not progress
            ) as bar:
                for index in range(members):
                    demo.append(generator.member(index, rows))
                    if rows.size() >= FLUSH_ROWS:
                        write(rows.take())
                        bar.update(index + 1 - bar.n)
                generator.announcements(rows)
                generator.appointments(rows)
                write(rows.take())
                bar.update(members - bar.n)
        finally:
            if sink is not None:
                sink.close()
        writer.finish()
    seed_services(rt, demo, as_of)
    if csv_path is not None:
        write_members_csv(csv_path, demo)
    result = SeedResult(
        skipped=False,
        members=members,
        counts=dict(writer.counts),
        seconds=time.perf_counter() - started,
        csv_path=csv_path,
        demo_members=demo,
    )
    logger.info(
        "seeded",
        extra={"members": members, "rows": result.rows, "seconds": round(result.seconds, 1)},
    )
    return result
