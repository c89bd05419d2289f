"""In-process benchmark of the fund queries and the certificate PDF.

Builds a scratch database (a temporary SQLite file, or the PostgreSQL database named by
--database-url, whose fund tables it fills), seeds members with a long ledger each, then times
ledger pages (first page and a deep cursor page) and certificate issue + PDF rendering through the
Flask test client. Prints p50/p95 per step. Bounded by --rounds; nothing leaves the process.

    python scripts/bench_fund.py --members 200 --months 120 --rounds 200
    python scripts/bench_fund.py --database-url postgresql://postgres@127.0.0.1:5432/gjj_bench
"""

from __future__ import annotations

import argparse
import datetime as dt
import statistics
import tempfile
import time
from decimal import Decimal
from pathlib import Path

from sqlalchemy import insert

from backend import migrate
from backend.accounts.models import FundAccount, FundTransaction
from backend.app import create_app
from backend.bootstrap import bootstrap
from backend.identity.tokens import TokenStore
from backend.members.models import Employer, Member
from backend.months import add_months
from backend.pii import compose_id_number, mask_id_number
from backend.runtime import Runtime
from backend.settings import Settings


def seed(rt: Runtime, members: int, months: int) -> list[int]:
    """Members with one deposit per month for ``months`` months; returns their ids."""
    ids: list[int] = []
    start = add_months(dt.date.today().replace(day=5), -months)
    with rt.session() as s:
        employer = Employer(name="示范市基准测试有限公司", unit_account_no=f"B{time.time_ns()}")
        s.add(employer)
        s.flush()
        for n in range(members):
            id_number = compose_id_number("110105", dt.date(1985, 1, 1), n % 1000)
            member = Member(
                name="基准测试",
                id_number_enc=rt.pii.encrypt(id_number),
                id_number_hash=rt.pii.lookup(f"bench:{time.time_ns()}:{n}"),
                id_number_masked=mask_id_number(id_number),
            )
            s.add(member)
            s.flush()
            account = FundAccount(
                account_no=f"B{time.time_ns() % 10**12:012d}{n}",
                member_id=member.id,
                employer_id=employer.id,
                deposit_base=Decimal("8000.00"),
                monthly_amount=Decimal("1920.00"),
                paid_through=f"{dt.date.today():%Y-%m}",
                opened_on=start,
            )
            s.add(account)
            s.flush()
            rows, balance = [], Decimal("0.00")
            for m in range(months):
                day = add_months(start, m)
                balance += Decimal("1920.00")
                rows.append(
                    {
                        "account_id": account.id,
                        "member_id": member.id,
                        "txn_date": day,
                        "kind": "deposit",
                        "amount": Decimal("1920.00"),
                        "balance_after": balance,
                        "period_month": f"{day:%Y-%m}",
                        "summary": "汇缴",
                    }
                )
            s.execute(insert(FundTransaction), rows)
            account.balance = balance
            ids.append(member.id)
        s.commit()
    return ids


def timed(label: str, samples: list[float]) -> None:
    samples.sort()
    p95 = samples[max(int(len(samples) * 0.95) - 1, 0)]
    print(
        f"{label:<32} n={len(samples):<5} p50={statistics.median(samples) * 1000:7.2f} ms"
        f"  p95={p95 * 1000:7.2f} ms"
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--database-url", default="")
    parser.add_argument("--members", type=int, default=100)
    parser.add_argument("--months", type=int, default=60)
    parser.add_argument("--rounds", type=int, default=200)
    parser.add_argument("--pdf-rounds", type=int, default=20)
    args = parser.parse_args()

    tmp = tempfile.TemporaryDirectory()
    url = args.database_url or f"sqlite:///{Path(tmp.name) / 'bench.sqlite3'}"
    settings = Settings(env="test", database_url=url, log_level="WARNING", redis_prefix="gjjbench:")
    rt = bootstrap(settings)
    migrate.upgrade(rt.engine)
    ids = seed(rt, args.members, args.months)
    app = create_app(runtime=rt)
    client = app.test_client()
    store = TokenStore(rt.redis, rt.keys, 3600, 3600)
    headers = [{"Authorization": f"Bearer {store.issue(i).access_token}"} for i in ids]

    first, deep = [], []
    span = f"start={add_months(dt.date.today(), -60)}&end={dt.date.today()}"
    for r in range(args.rounds):
        h = headers[r % len(headers)]
        t0 = time.perf_counter()
        page = client.get(f"/api/v1/fund/transactions?{span}&limit=20", headers=h)
        first.append(time.perf_counter() - t0)
        cursor = page.json["next_cursor"]
        if cursor:
            t0 = time.perf_counter()
            client.get(f"/api/v1/fund/transactions?{span}&limit=20&cursor={cursor}", headers=h)
            deep.append(time.perf_counter() - t0)
    timed("GET /fund/transactions (page 1)", first)
    if deep:
        timed("GET /fund/transactions (page 2)", deep)

    issue, pdf = [], []
    for r in range(args.pdf_rounds):
        h = headers[r % len(headers)]
        t0 = time.perf_counter()
        body = client.post("/api/v1/fund/certificates", headers=h).json
        issue.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        client.get(f"/api/v1/fund/certificates/{body['serial_no']}/pdf", headers=h)
        pdf.append(time.perf_counter() - t0)
    timed("POST /fund/certificates", issue)
    timed("GET /fund/certificates/{}/pdf", pdf)
    rt.close()
    tmp.cleanup()


if __name__ == "__main__":
    main()
