"""The repository speaks of itself only: no paths of a development machine, no files outside it."""

import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# Absolute paths of a developer's or CI's machine, and the team's notes that live beside the repo.
OUTSIDE = re.compile(r"(?<![\w.])/(?:work|Users)/[\w.-]+|\.\./shared/|shared/reference/")
TEXT = {
    ".py",
    ".md",
    ".toml",
    ".cfg",
    ".ini",
    ".sh",
    ".yml",
    ".yaml",
    ".vue",
    ".ts",
    ".js",
    ".json",
    ".conf",
    "",
}


def _tracked() -> list[Path]:
    out = subprocess.run(
        ["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.split()
    return [ROOT / name for name in out if (ROOT / name).suffix in TEXT and "lock" not in name]


def test_no_file_refers_to_anything_outside_the_repository_when_tracked():
    offenders = []
    for path in _tracked():
        if not path.is_file() or path == Path(__file__).resolve():
            continue
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            continue
        for number, line in enumerate(text.splitlines(), 1):
            if OUTSIDE.search(line):
                offenders.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()[:100]}")
    assert offenders == []
