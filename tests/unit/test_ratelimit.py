import datetime as dt

import pytest

from backend.errors import AppError, Forbidden
from backend.ratelimit import Limit, Limiter, next_beijing_midnight

TWO_A_MINUTE = Limit("t", 2, 60, message="请{seconds}秒后再试", error_code="t.too_many")


def test_limit_refuses_third_event_with_retry_after_when_two_allowed(runtime, clock):
    limiter = Limiter(runtime.redis, runtime.keys)
    assert [s.count for s in limiter.take((TWO_A_MINUTE, "ip"))] == [1]
    clock.advance(seconds=10)
    assert limiter.take((TWO_A_MINUTE, "ip"))[0].last
    with pytest.raises(AppError) as refused:
        limiter.take((TWO_A_MINUTE, "ip"))
    assert refused.value.status_code == 429 and refused.value.error_code == "t.too_many"
    assert refused.value.headers["Retry-After"] == "50"
    assert refused.value.message == "请50秒后再试"
    assert limiter.take((TWO_A_MINUTE, "other"))[0].count == 1


def test_limit_window_opens_again_when_its_end_passed(runtime, clock):
    limiter = Limiter(runtime.redis, runtime.keys)
    limiter.take((TWO_A_MINUTE, "ip"))
    limiter.take((TWO_A_MINUTE, "ip"))
    clock.advance(seconds=60)
    assert limiter.take((TWO_A_MINUTE, "ip"))[0].count == 1


def test_refusal_by_one_limit_counts_against_none_when_several_checked(runtime, clock):
    limiter = Limiter(runtime.redis, runtime.keys)
    one = Limit("one", 1, 60)
    limiter.take((one, "a"))
    with pytest.raises(AppError):
        limiter.take((TWO_A_MINUTE, "ip"), (one, "a"))
    assert limiter.take((TWO_A_MINUTE, "ip"))[0].count == 1


def test_given_back_slot_frees_it_when_attempt_succeeded(runtime, clock):
    limiter = Limiter(runtime.redis, runtime.keys)
    slots = limiter.take((TWO_A_MINUTE, "ip"))
    limiter.give_back(slots)
    assert limiter.take((TWO_A_MINUTE, "ip"))[0].count == 1


def test_slot_not_given_back_to_a_later_window_when_window_ended(runtime, clock):
    limiter = Limiter(runtime.redis, runtime.keys)
    old = limiter.take((TWO_A_MINUTE, "ip"))
    clock.advance(seconds=61)
    limiter.take((TWO_A_MINUTE, "ip"))
    limiter.give_back(old)
    assert limiter.take((TWO_A_MINUTE, "ip"))[0].count == 2


def test_daily_limit_ends_at_beijing_midnight_when_utc_date_differs(runtime, clock):
    clock.set(dt.datetime(2026, 11, 26, 15, 30, tzinfo=dt.UTC))  # 23:30 in Beijing
    assert next_beijing_midnight(clock.now) == dt.datetime(2026, 11, 26, 16, 0, tzinfo=dt.UTC)
    limiter = Limiter(runtime.redis, runtime.keys)
    daily = Limit("d", 1)
    limiter.take((daily, "x"))
    with pytest.raises(AppError) as refused:
        limiter.take((daily, "x"))
    assert refused.value.headers["Retry-After"] == str(30 * 60)
    clock.advance(minutes=30)
    assert limiter.take((daily, "x"))[0].count == 1


def test_custom_refusal_gets_retry_after_when_limit_builds_its_own_error(runtime, clock):
    limit = Limit("c", 1, 90, refuse=lambda until: Forbidden("锁定", error_code="x.locked"))
    limiter = Limiter(runtime.redis, runtime.keys)
    limiter.take((limit, "x"))
    with pytest.raises(Forbidden) as refused:
        limiter.take((limit, "x"))
    assert refused.value.headers["Retry-After"] == "90"
