"""Benchmark of the loans feature: the schedule engine, prepayment quotes and the calculator
endpoint (in-process test client over a throwaway SQLite database).

    PYTHONPATH=. python scripts/bench_loans.py [--rounds 200]

Prints timings; asserts nothing (performance checks live here, never in tests).
"""

from __future__ import annotations

import argparse
import datetime as dt
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from backend import migrate
from backend.app import create_app
from backend.bootstrap import bootstrap
from backend.loans import amortisation, prepayment_rules, rates
from backend.settings import Settings


def _timed(label: str, rounds: int, work: Callable[[], object]) -> None:
    samples = []
    for _ in range(rounds):
        started = time.perf_counter()
        work()
        samples.append((time.perf_counter() - started) * 1000)
    samples.sort()
    p95 = samples[int(len(samples) * 0.95) - 1]
    print(
        f"{label:<58} median {statistics.median(samples):7.2f} ms   p95 {p95:7.2f} ms   "
        f"({rounds} rounds)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=200)
    rounds = parser.parse_args().rounds

    history = rates.benchmark_rate_history(360)
    start = dt.date(2024, 3, 15)

    def schedule() -> amortisation.Schedule:
        return amortisation.generate_schedule("1000000", 360, "equal_installment", history, start)

    _timed("engine: 360 months, 等额本息, two re-pricings", rounds, schedule)
    _timed(
        "engine: 360 months, 等额本金, constant rate",
        rounds,
        lambda: amortisation.generate_schedule("1000000", 360, "equal_principal", "2.6", start),
    )
    loan = schedule()
    on = dt.date(2025, 6, 1)
    _timed(
        "quote: shorten term (binary search + new schedule)",
        rounds,
        lambda: prepayment_rules.quote_prepayment(loan, on, "shorten_term", "100000"),
    )
    _timed("quote: full", rounds, lambda: prepayment_rules.quote_prepayment(loan, on, "full"))

    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(
            env="test",
            database_url=f"sqlite:///{Path(tmp) / 'bench.sqlite3'}",
            log_level="WARNING",
        )
        runtime = bootstrap(settings)
        migrate.upgrade(runtime.engine)
        client = create_app(runtime=runtime).test_client()
        url = "/api/v1/loan-calculator?principal=1000000&months=360&annual_rate=2.6&method={}"
        for method in ("equal_installment", "equal_principal"):
            _timed(
                f"GET /loan-calculator 360 rows, {method}",
                rounds,
                lambda method=method: client.get(url.format(method)),
            )
        runtime.close()


if __name__ == "__main__":
    main()
