"""The test suite's own rules, checked: time moves only through the ``clock`` fixture, and fixtures
live in a conftest instead of being imported from one test module into another."""

import importlib
import re
from pathlib import Path

from _pytest.fixtures import FixtureFunctionDefinition

TESTS = Path(__file__).resolve().parents[1]
ROOT = TESTS.parent

# Patching the clock by any other route than the fixture: patching ``utcnow`` misses every module
# that imported it by name; the fixture patches ``backend.clock._now``, which all of them read.
PATCHES_CLOCK = re.compile(
    r"backend\.clock\._now|patch\(\s*[\"']backend\.clock|fixed_at\(|setattr\(\s*(?:backend\.)?clock\b"
)
# Reading the wall clock makes a test depend on when (and how fast) it runs.
READS_WALL_CLOCK = re.compile(
    r"datetime\.now\(|date\.today\(|time\.time\(|\.monotonic\(|perf_counter\("
)
# The e2e tests drive a server in another process, whose clock no fixture reaches; the adapter
# tests speak to platform fakes that, like the platforms, keep the host's time.
OWN_CLOCK = ("e2e", "adapters")


def _sources() -> list[Path]:
    return sorted(p for p in TESTS.rglob("*.py") if p != Path(__file__).resolve())


def _offenders(pattern: re.Pattern[str], paths: list[Path]) -> list[str]:
    return [
        f"{path.relative_to(ROOT)}:{number}: {line.strip()}"
        for path in paths
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if pattern.search(line)
    ]


def test_only_the_clock_fixture_patches_the_clock_when_tests_control_time():
    paths = [p for p in _sources() if p != TESTS / "conftest.py"]
    assert _offenders(PATCHES_CLOCK, paths) == []


def test_no_in_process_test_reads_the_wall_clock_when_it_runs():
    paths = [p for p in _sources() if p.relative_to(TESTS).parts[0] not in OWN_CLOCK]
    assert _offenders(READS_WALL_CLOCK, paths) == []


def test_no_test_module_imports_a_fixture_from_another_when_collected():
    offenders = []
    for path in _sources():
        if not path.name.startswith("test_"):
            continue
        name = ".".join(path.relative_to(ROOT).with_suffix("").parts)
        module = importlib.import_module(name)
        for attr, value in vars(module).items():
            if isinstance(value, FixtureFunctionDefinition):
                if value.__module__ != name:
                    offenders.append(f"{name}: {attr} from {value.__module__}")
    assert offenders == []
