"""Per-hash time of argon2id with the production parameters (GJJ_ARGON2_* or the defaults).

    python scripts/bench_argon2.py [--rounds 20]

Login and registration pay this once per request (unknown users too: a dummy verify), so it
bounds password logins per core per second.
"""

from __future__ import annotations

import argparse
import statistics
import time

from backend.identity.passwords import make_hasher
from backend.settings import Settings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=20)
    args = parser.parse_args()
    settings = Settings.from_env()
    hasher = make_hasher(settings.argon2_time_cost, settings.argon2_memory_cost)
    password = "abc12345"
    hashes: list[float] = []
    verifies: list[float] = []
    encoded = hasher.hash(password)  # warm-up
    for _ in range(args.rounds):
        start = time.perf_counter()
        encoded = hasher.hash(password)
        hashes.append(time.perf_counter() - start)
        start = time.perf_counter()
        hasher.verify(encoded, password)
        verifies.append(time.perf_counter() - start)
    print(
        f"argon2id time_cost={hasher.time_cost} memory_cost={hasher.memory_cost} KiB "
        f"parallelism={hasher.parallelism}, {args.rounds} rounds"
    )
    for label, samples in (("hash", hashes), ("verify", verifies)):
        print(
            f"{label:>6}: median {statistics.median(samples) * 1000:.1f} ms, "
            f"min {min(samples) * 1000:.1f} ms, max {max(samples) * 1000:.1f} ms"
        )


if __name__ == "__main__":
    main()
