"""Pure rules of the push pipeline."""

from __future__ import annotations


def backoff_seconds(attempts: int, base: int, cap: int) -> int:
    """Wait before the next try after ``attempts`` failed ones: base, 2·base, 4·base … ≤ cap."""
    if attempts < 1:
        return 0
    return int(min(cap, base * 2 ** min(attempts - 1, 30)))
