"""Pure rules of announcements (公告)."""

import datetime as dt

import pytest

from backend.announcements import rules

NOW = dt.datetime(2026, 11, 26, 2, 0, tzinfo=dt.UTC)


@pytest.mark.parametrize(
    ("published_at", "withdrawn_at", "expected"),
    [
        (NOW - dt.timedelta(days=1), None, "published"),
        (NOW, None, "published"),
        (NOW + dt.timedelta(seconds=1), None, "scheduled"),
        (NOW - dt.timedelta(days=1), NOW, "withdrawn"),
        (NOW + dt.timedelta(days=1), NOW, "withdrawn"),
    ],
)
def test_state_follows_publish_time_and_withdrawal(published_at, withdrawn_at, expected):
    assert rules.state(published_at, withdrawn_at, NOW) == expected


def test_summary_folds_whitespace_and_cuts_with_ellipsis_when_long():
    assert rules.summary("一\n二  三") == "一 二 三"
    cut = rules.summary("字" * 100, length=10)
    assert cut == "字" * 9 + "…" and len(cut) == 10


def test_request_hash_differs_when_any_field_differs_and_ignores_key_order():
    base = {"announcement_no": "A1", "title": "t", "body": "b", "audience": "everyone"}
    same = dict(reversed(list(base.items())))
    assert rules.request_hash(base) == rules.request_hash(same)
    assert rules.request_hash(base) != rules.request_hash({**base, "title": "t2"})
    at = dt.datetime(2026, 12, 1, 9, 0, tzinfo=dt.timezone(dt.timedelta(hours=8)))
    # the same moment in another offset is the same request
    assert rules.request_hash({**base, "published_at": at}) == rules.request_hash(
        {**base, "published_at": at.astimezone(dt.UTC)}
    )


def test_carrier_key_starts_with_the_announcements_prefix():
    assert rules.carrier_key(7, 42).startswith(rules.carrier_prefix(7))
    assert not rules.carrier_key(71, 2).startswith(rules.carrier_prefix(7))
