"""The parallel load's chunks: generated with ids from 0 and moved to their place, they are the
rows one process makes in member order, ids and clashing identities included."""

from __future__ import annotations

import datetime as dt
from typing import Any

from backend.models import Base
from devtools.seed.common import Rows, as_dicts
from devtools.seed.generator import CentreGenerator
from devtools.seed.people import IdentityRegistry, Person, draw_person
from devtools.seed.writer import id_moves

AS_OF = dt.date(2026, 11, 20)
MEMBERS = 40
TABLES = {table.name: table for table in Base.metadata.sorted_tables}


class PlainVault:
    """Deterministic stand-in for the PII vault (the real one's nonces differ between runs)."""

    def encrypt(self, plain: str) -> str:
        return "enc:" + plain

    def id_lookup(self, id_number: str) -> str:
        return "id:" + id_number

    def phone_lookup(self, phone: str) -> str:
        return "phone:" + phone


def _generator() -> CentreGenerator:
    return CentreGenerator(
        seed=3,
        as_of=AS_OF,
        pii=PlainVault(),
        password="Demo2024",
        password_hash="hash",
        next_ids={"members": 101, "fund_transactions": 5001},
        members=MEMBERS,
    )


def _in_order() -> dict[str, list[dict[str, Any]]]:
    generator = _generator()
    rows = Rows()
    generator.employers(rows)
    for index in range(MEMBERS):
        generator.member(index, rows)
    return {name: as_dicts(batch) for name, batch in rows.take().items()}


def _in_chunks(size: int) -> dict[str, list[dict[str, Any]]]:
    parent = _generator()
    rows = Rows()
    parent.employers(rows)
    tables = {name: as_dicts(batch) for name, batch in rows.take().items()}
    next_ids = parent.next_ids
    # a worker forked from the parent: its own generator, the parent's employers
    worker = _generator()
    worker.centre.employers = list(parent.centre.employers)
    for start in range(0, MEMBERS, size):
        claims = [
            parent.registry.claim(draw_person(parent.seed, index))
            for index in range(start, min(start + size, MEMBERS))
        ]
        chunk, taken, _ = worker.chunk(start, claims)
        shift = {name: next_ids.get(name, 1) for name in taken}
        for name, count in taken.items():
            next_ids[name] = next_ids.get(name, 1) + count
        for name, batch in chunk.items():
            for row in as_dicts(batch):
                columns = list(row)
                moved = dict(row)
                for position, offset in id_moves(TABLES[name], columns, shift):
                    if moved[columns[position]] is not None:
                        moved[columns[position]] += offset
                tables.setdefault(name, []).append(moved)
    return tables


def test_chunks_give_the_rows_of_one_process_when_moved_into_place() -> None:
    expected = _in_order()
    for size in (7, 40):
        assert _in_chunks(size) == expected


def test_a_clashing_identity_moves_on_without_new_draws_when_claimed() -> None:
    first = draw_person(3, 20)
    twin = Person(**{**vars(first), "index": 21})
    registry = IdentityRegistry()
    id_number, phone = registry.claim(first)
    twin_id, twin_phone = registry.claim(twin)
    assert twin_id[:14] == id_number[:14] and twin_id != id_number
    assert int(twin_id[14:17]) == (int(id_number[14:17]) + 2) % 1000  # same sex
    assert phone is not None and twin_phone == phone[:3] + f"{int(phone[3:]) + 1:08d}"
