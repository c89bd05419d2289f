"""Throughput benchmark of the push pipeline against the loopback WeChat fake.

Builds a throw-away schema (a temporary SQLite file, or the database GJJ_DATABASE_URL names —
use a database of its own: the tables are dropped and rebuilt), binds --members members on
WeChat with long-term consent, posts --messages inbox messages and lets the inline dispatcher
(--threads) deliver them. Prints messages/s and commit-to-sent latency p50/p95.

    python scripts/bench_push.py --messages 500 --threads 4
    GJJ_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/gjj_bench_push python scripts/bench_push.py

Only 127.0.0.1 is contacted; the run stops after --seconds whatever happened.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import statistics
import tempfile
import time
from pathlib import Path

from sqlalchemy import func, select, text

import backend.models  # noqa: F401 - every mapper
from adapters.fakes import FakeWeChatApi
from adapters.wechat import WeChatConfig, WeChatMiniClient
from backend import migrate
from backend.bootstrap import bootstrap
from backend.cache import make_redis
from backend.channels.clients import ChannelClients
from backend.channels.models import ChannelIdentity, SubscriptionConsent
from backend.db import Base
from backend.inbox.services import post_message
from backend.members.models import Member
from backend.pii import compose_id_number, mask_id_number
from backend.push.dispatch import InlineDispatcher
from backend.push.models import PushDelivery
from backend.runtime import Runtime
from backend.settings import Settings

APPID = "wxbench000000001"
TEMPLATE = "gjj-wx-notice"


def build_runtime(url: str, threads: int, fake_url: str) -> Runtime:
    """The runtime the API process would have, its WeChat client pointed at the fake."""
    settings = Settings(env="test", database_url=url, push_inline_threads=threads)
    redis_client = make_redis(settings.redis_url)
    wechat = WeChatMiniClient(
        WeChatConfig(appid=APPID, secret="bench-secret", base_url=fake_url, timeout=5.0),
        redis_client,
    )
    rt = bootstrap(
        settings, redis_client=redis_client, channels=ChannelClients(alipay=None, wechat=wechat)
    )
    with rt.engine.begin() as conn:
        Base.metadata.drop_all(conn)
        conn.execute(text("DROP TABLE IF EXISTS alembic_version"))
    migrate.upgrade(rt.engine)
    return rt


def seed(rt: Runtime, fake: FakeWeChatApi, count: int) -> list[int]:
    ids = []
    with rt.session() as s:
        for n in range(count):
            id_number = compose_id_number("110105", dt.date(1990, 1, 1), n)
            member = Member(
                name=f"成员{n}",
                id_number_enc=rt.pii.encrypt(id_number),
                id_number_hash=rt.pii.id_lookup(id_number),
                id_number_masked=mask_id_number(id_number),
            )
            s.add(member)
            s.flush()
            openid = f"o-bench-{n}"
            fake.add_user({"openid": openid, "phone": f"139{n:08d}"})
            fake.grant_consent(openid, TEMPLATE, longterm=True)
            s.add(ChannelIdentity(member_id=member.id, channel="wechat", open_id=openid))
            s.add(
                SubscriptionConsent(
                    member_id=member.id,
                    channel="wechat",
                    template_id=TEMPLATE,
                    remaining=0,
                    long_term=True,
                )
            )
            ids.append(member.id)
        s.commit()
    return ids


def main(args: argparse.Namespace) -> None:
    url = os.environ.get("GJJ_DATABASE_URL") or (
        f"sqlite:///{Path(tempfile.mkdtemp()) / 'bench_push.sqlite3'}"
    )
    with FakeWeChatApi(port=args.fake_port) as fake:
        fake.register_app(APPID, "bench-secret")
        rt = build_runtime(url, args.threads, fake.url)
        members = seed(rt, fake, args.members)
        posted_at: dict[int, float] = {}
        started = time.perf_counter()
        for n in range(args.messages):
            with rt.session() as s:
                message, _ = post_message(
                    s,
                    member_id=members[n % len(members)],
                    business_name="缴存到账",
                    content=f"第{n}条：您的公积金已到账",
                )
                s.commit()
                posted_at[message.id] = time.perf_counter()
        deadline = started + args.seconds
        sent = 0
        while time.perf_counter() < deadline:
            with rt.session() as s:
                sent = (
                    s.scalar(
                        select(func.count())
                        .where(PushDelivery.status != "pending")
                        .where(PushDelivery.status != "sending")
                    )
                    or 0
                )
            if sent >= args.messages:
                break
            time.sleep(0.05)
        elapsed = time.perf_counter() - started
        with rt.session() as s:
            rows = s.execute(
                select(PushDelivery.message_id, PushDelivery.status, PushDelivery.sent_at)
            )
            finished = [(mid, status, at) for mid, status, at in rows]
        # sent_at is wall-clock UTC; turn it into the perf_counter timeline via one offset.
        offset = time.time() - time.perf_counter()
        latencies = sorted(
            at.timestamp() - offset - posted_at[mid]
            for mid, status, at in finished
            if status == "sent" and at is not None and mid in posted_at
        )
        assert isinstance(rt.dispatcher, InlineDispatcher)
        rt.dispatcher.shutdown()
    ok = sum(1 for _, status, _ in finished if status == "sent")
    print(f"database: {rt.engine.dialect.name}, threads: {args.threads}")
    print(f"messages: {args.messages}, sent: {ok}, other: {len(finished) - ok}")
    print(f"elapsed: {elapsed:.2f}s, throughput: {sent / elapsed:.1f} deliveries/s")
    if latencies:
        p95 = latencies[int(0.95 * (len(latencies) - 1))]
        print(
            f"commit→sent latency: p50 {statistics.median(latencies) * 1000:.0f} ms, "
            f"p95 {p95 * 1000:.0f} ms"
        )
    print(f"platform sends seen by the fake: {len(fake.sent_messages)}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--messages", type=int, default=300)
    parser.add_argument("--members", type=int, default=50)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seconds", type=float, default=120)
    parser.add_argument("--fake-port", type=int, default=0, help="the WeChat fake's (0: any free)")
    main(parser.parse_args())
