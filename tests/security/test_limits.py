"""Limits that hold under concurrency (issue 11): one atomic Redis script per check, exact under
parallel requests (real Redis: GJJ_REDIS_URL), and the same semantics one request at a time on
fakeredis; every 429 says ``Retry-After``; Redis holds no phone or code in clear."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from backend.audit.services import RequestOrigin
from backend.certificates.services import VERIFY_LIMITED
from backend.errors import AppError
from backend.identity import lockout, services
from backend.identity.lockout import IP_FAILURES, PAIR_FAILURES
from backend.identity.notices import NOTICE_DAILY
from backend.identity.sms import sms_codes
from backend.identity.smscodes import (
    DAILY_PER_IP,
    DAILY_PER_PHONE,
    IP_DAILY,
    MAX_TRIES,
    PHONE_DAILY,
    RESEND_GATE,
    CodeSent,
)
from backend.ratelimit import Limiter
from tests.api.identity import PASSWORD, last_code, sms_count
from tests.api.test_identity_register import send_code
from tests.security.parallel import CountingHasher, fire, real_redis

PHONE = "13912345678"


def _other_than(code: str, i: int = 0) -> str:
    return f"{(int(code) + 1 + i) % 10**6:06d}"


def _answer(call):  # noqa: ANN001, ANN202
    try:
        call()
    except AppError as error:
        return error.error_code
    return "ok"


def _login(runtime, username: str, password: str, ip: str):  # noqa: ANN001, ANN202
    new = services.captchas(runtime).new()
    answer = json.loads(runtime.redis.get(runtime.keys("captcha", new.captcha_id)))["a"]
    with runtime.session() as session:
        return services.login(
            runtime,
            session,
            username=username,
            password=password,
            captcha_id=new.captcha_id,
            captcha_code=answer,
            origin=RequestOrigin(ip=ip),
        )


# --- SMS code tries ------------------------------------------------------------------------


def sent(runtime):  # noqa: ANN001, ANN201
    """The code store and the code it just sent to ``PHONE``."""
    codes = sms_codes(runtime)
    codes.send(PHONE, "register", ip="10.0.0.1")
    return codes, last_code(runtime, PHONE, "register")


def test_code_burned_at_fifth_wrong_try_and_never_back_when_guessed_one_by_one(runtime):
    codes, real = sent(runtime)
    answers = [
        _answer(lambda: codes.verify(PHONE, "register", _other_than(real))) for _ in range(6)
    ]
    assert answers == ["sms.code_invalid"] * (MAX_TRIES - 1) + ["sms.code_burned"] + [
        "sms.code_expired"
    ]
    assert _answer(lambda: codes.verify(PHONE, "register", real)) == "sms.code_expired"


def test_code_single_use_when_right_code_offered_twice(runtime):
    codes, real = sent(runtime)
    assert _answer(lambda: codes.verify(PHONE, "register", real)) == "ok"
    assert _answer(lambda: codes.verify(PHONE, "register", real)) == "sms.code_expired"


def test_code_expires_by_application_clock_when_five_minutes_passed(runtime, clock):
    codes, real = sent(runtime)
    clock.advance(seconds=300)
    assert _answer(lambda: codes.verify(PHONE, "register", real)) == "sms.code_expired"


@real_redis
def test_exactly_five_guesses_evaluated_when_hundred_wrong_codes_fired_in_parallel(runtime):
    codes, real = sent(runtime)
    answers = fire(100, lambda i: codes.verify(PHONE, "register", _other_than(real, i)))
    assert answers.count("sms.code_invalid") == MAX_TRIES - 1
    assert answers.count("sms.code_burned") == 1
    assert answers.count("sms.code_expired") == 100 - MAX_TRIES
    # the burned code never comes back
    assert _answer(lambda: codes.verify(PHONE, "register", real)) == "sms.code_expired"


@real_redis
def test_exactly_one_code_used_when_right_code_offered_in_parallel(runtime):
    codes, real = sent(runtime)
    answers = fire(50, lambda i: codes.verify(PHONE, "register", real))
    assert answers.count(None) == 1
    assert answers.count("sms.code_expired") == 49


# --- SMS sending: resend gate, daily quotas ------------------------------------------------


def test_resend_refused_with_retry_after_when_asked_within_sixty_seconds(client, runtime, clock):
    assert send_code(client, runtime, PHONE).status_code == 202
    clock.advance(seconds=20)
    r = send_code(client, runtime, PHONE)
    assert r.status_code == 429
    assert r.json["error_code"] == "sms.resend_too_soon"
    assert r.headers["Retry-After"] == "40"
    assert r.json["retry_after"] == 40
    clock.advance(seconds=40)
    assert send_code(client, runtime, PHONE).status_code == 202


@real_redis
def test_exactly_one_code_sent_when_hundred_sends_to_one_phone_fired_in_parallel(runtime):
    codes = sms_codes(runtime)
    answers = fire(100, lambda i: codes.send(PHONE, "register", ip=f"10.0.1.{i}"))
    assert sum(isinstance(a, CodeSent) for a in answers) == 1
    assert answers.count("sms.resend_too_soon") == 99
    assert sms_count(runtime) == 1


def test_phone_quota_follows_beijing_day_when_utc_date_unchanged(runtime, clock):
    codes = sms_codes(runtime)
    clock.set(dt.datetime(2026, 11, 26, 15, 40, tzinfo=dt.UTC))  # 23:40 in Beijing
    for i in range(DAILY_PER_PHONE):
        assert _answer(lambda i=i: codes.send(PHONE, "register", ip=f"10.0.2.{i}")) == "ok"
        clock.advance(seconds=61)
    refused = pytest.raises(AppError, codes.send, PHONE, "register", ip="10.0.2.99")
    assert refused.value.error_code == "sms.daily_quota"
    # 00:01 on the next Beijing day is still 26 November in UTC
    until_midnight = dt.datetime(2026, 11, 26, 16, 0, tzinfo=dt.UTC) - clock.now
    assert refused.value.headers["Retry-After"] == str(int(until_midnight.total_seconds()))
    clock.set(dt.datetime(2026, 11, 26, 16, 1, tzinfo=dt.UTC))
    assert _answer(lambda: codes.send(PHONE, "register", ip="10.0.2.99")) == "ok"


def test_address_quota_counts_nothing_when_refused(runtime):
    codes = sms_codes(runtime)
    for i in range(DAILY_PER_IP):
        codes.send(f"1391234{i:04d}", "register", ip="10.0.0.9")
    refused = pytest.raises(AppError, codes.send, "13912349999", "register", ip="10.0.0.9")
    assert refused.value.error_code == "sms.daily_quota"
    assert "Retry-After" in refused.value.headers
    # the refused request took no slot of that phone: its own quota and gate are untouched
    assert _answer(lambda: codes.send("13912349999", "register", ip="10.0.0.10")) == "ok"


@real_redis
def test_exactly_twenty_codes_sent_when_one_address_asks_hundred_phones_in_parallel(runtime):
    codes = sms_codes(runtime)
    answers = fire(100, lambda i: codes.send(f"1391234{i:04d}", "register", ip="10.0.0.9"))
    assert sum(isinstance(a, CodeSent) for a in answers) == DAILY_PER_IP
    assert answers.count("sms.daily_quota") == 100 - DAILY_PER_IP
    assert sms_count(runtime) == DAILY_PER_IP


# --- captcha issuing -----------------------------------------------------------------------


def test_captcha_refused_with_retry_after_when_one_address_asks_too_often(client, clock):
    for _ in range(services.CAPTCHAS_PER_IP_MINUTE):
        assert client.post("/api/v1/captchas").status_code == 201
    clock.advance(seconds=15)
    r = client.post("/api/v1/captchas")
    assert r.status_code == 429
    assert r.json["error_code"] == "captcha.too_many"
    assert r.headers["Retry-After"] == "45"
    clock.advance(seconds=45)
    assert client.post("/api/v1/captchas").status_code == 201


@real_redis
def test_exactly_sixty_captchas_when_one_address_asks_hundred_in_parallel(runtime):
    origin = RequestOrigin(ip="10.0.4.1")
    answers = fire(100, lambda i: services.new_captcha(runtime, origin))
    assert answers.count("captcha.too_many") == 100 - services.CAPTCHAS_PER_IP_MINUTE


# --- password attempts ---------------------------------------------------------------------


@real_redis
@pytest.mark.parametrize("known", [True, False], ids=["member", "unknown-name"])
def test_exactly_five_passwords_checked_when_sixty_wrong_logins_for_one_name_fired_in_parallel(
    runtime, make, known
):
    hasher = runtime.extras["password_hasher"] = CountingHasher()
    name = make.member(password=PASSWORD).plain_id_number if known else make.id_number()
    answers = fire(60, lambda i: _login(runtime, name, f"wrong{i:04d}", "10.0.3.1"))
    assert hasher.verified == PAIR_FAILURES
    assert answers.count("auth.invalid_credentials") == PAIR_FAILURES - 1
    assert answers.count("auth.account_locked") == 60 - PAIR_FAILURES + 1


@real_redis
def test_exactly_twenty_passwords_checked_when_one_address_tries_sixty_names_in_parallel(
    runtime, make
):
    hasher = runtime.extras["password_hasher"] = CountingHasher()
    names = [make.id_number(dt.date(1980, 1, 1) + dt.timedelta(days=i)) for i in range(60)]
    answers = fire(60, lambda i: _login(runtime, names[i], "wrong1234", "10.0.3.2"))
    assert hasher.verified == IP_FAILURES
    assert answers.count("auth.ip_throttled") == 60 - IP_FAILURES


def test_address_slot_given_back_when_login_succeeds(runtime, make):
    member = make.member(password=PASSWORD)
    for _ in range(IP_FAILURES + 5):
        assert _login(runtime, member.plain_phone, PASSWORD, "10.0.3.3").member.id == member.id


# --- Redis at rest -------------------------------------------------------------------------


def test_redis_holds_no_phone_or_code_in_clear_when_codes_sent(client, runtime, make):
    member = make.member(password=PASSWORD)
    assert send_code(client, runtime, PHONE).status_code == 202
    codes = [last_code(runtime, PHONE, "register")]
    sms_codes(runtime).send(member.plain_phone, "transaction", ip="10.0.0.1")
    codes.append(last_code(runtime, member.plain_phone, "transaction"))
    r = runtime.redis
    keys = list(r.scan_iter(match=runtime.keys("*")))
    assert any(runtime.pii.phone_lookup(PHONE) in key for key in keys)
    for key in keys:
        kind = r.type(key)
        value = str(r.hgetall(key) if kind == "hash" else r.get(key) if kind == "string" else "")
        for secret in (PHONE, member.plain_phone, *codes):
            assert secret not in key
        assert PHONE not in value and member.plain_phone not in value
    stored = [r.hgetall(key) for key in keys if ":sms:code:" in key]
    assert len(stored) == 2
    # an HMAC, never the code (six digits could turn up inside 64 hex characters by chance)
    assert all(len(s["h"]) == 64 and s["h"] not in codes for s in stored)


# --- every limit, through the primitive --------------------------------------------------


@real_redis
@pytest.mark.parametrize(
    "limit",
    [
        RESEND_GATE,
        PHONE_DAILY,
        IP_DAILY,
        services.CAPTCHA_ISSUE,
        lockout.PAIR,
        lockout.ACCOUNT,
        lockout.IP,
        NOTICE_DAILY,
        VERIFY_LIMITED,
    ],
    ids=lambda limit: limit.name,
)
def test_limit_exact_when_hundred_events_fired_in_parallel(runtime, limit):
    limiter = Limiter(runtime.redis, runtime.keys)
    answers = fire(100, lambda i: limiter.take((limit, "subject")))
    assert sum(isinstance(a, list) for a in answers) == limit.limit
    refused = [a for a in answers if not isinstance(a, list)]
    assert len(refused) == 100 - limit.limit
