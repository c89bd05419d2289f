"""``demo-members.csv``: the logins a demo user can try."""

from __future__ import annotations

import csv
import os
from collections.abc import Iterable
from pathlib import Path

from devtools.seed.profiles import DemoMember

HEADER = ("id_number", "name", "phone", "registered", "password", "has_loan")


def _flag(value: bool) -> str:
    return "true" if value else "false"


def write_members_csv(path: Path, members: Iterable[DemoMember]) -> None:
    """Written to a temporary file and renamed, so a reader never sees half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    with partial.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(HEADER)
        for m in members:
            writer.writerow(
                (
                    m.id_number,
                    m.name,
                    m.phone or "",
                    _flag(m.registered),
                    m.password or "",
                    _flag(m.has_loan),
                )
            )
    os.replace(partial, path)


def read_members_csv(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))
