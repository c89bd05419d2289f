"""Redis: a real client when ``GJJ_REDIS_URL`` is set, an in-process fakeredis otherwise."""

from __future__ import annotations

from typing import Any

import redis


def make_redis(url: str) -> redis.Redis:
    if url:
        return redis.Redis.from_url(
            url, decode_responses=True, socket_timeout=5, socket_connect_timeout=5
        )
    import fakeredis  # embedded default only; production always names a real Redis

    return fakeredis.FakeRedis(decode_responses=True)


class Keys:
    """Builds every Redis key under one prefix, so deployments and test runs never collide."""

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix

    def __call__(self, *parts: Any) -> str:
        return self.prefix + ":".join(str(p) for p in parts)
