"""The push pipeline end to end: inbox message → outbox row → delivery to the loopback fakes."""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import sys
import threading

import pytest
from sqlalchemy import event, select

from backend.channels.models import SubscriptionConsent
from backend.clock import to_local
from backend.inbox.models import Message
from backend.inbox.services import post_message
from backend.push.delivery import Senders, any_due, claim, deliver, deliver_due, sweep
from backend.push.dispatch import SyncDispatcher, sweep_once
from backend.push.models import PushDelivery
from tests.channels import alipay_user, wechat_user

WX_NOTICE = "gjj-wx-notice"
SEND = "/cgi-bin/message/subscribe/send"


class Recorder:
    """A dispatcher that only remembers: the test decides who delivers, and when."""

    def __init__(self) -> None:
        self.dispatched: list[tuple[int, float]] = []

    def dispatch(self, delivery_id: int, countdown: float = 0) -> None:
        self.dispatched.append((delivery_id, countdown))

    def dispatch_many(self, delivery_ids: list[int]) -> None:
        self.dispatched.extend((delivery_id, 0) for delivery_id in delivery_ids)


def _post(runtime, member, business_type="notice", content="您的公积金已到账"):
    with runtime.session() as s:
        message, _ = post_message(
            s,
            member_id=member.id,
            business_name="缴存到账",
            content=content,
            business_type=business_type,
        )
        s.commit()
        return message.id


def _deliveries(session, message_id):
    session.expire_all()
    return {
        d.channel: d
        for d in session.scalars(select(PushDelivery).where(PushDelivery.message_id == message_id))
    }


def _consent(session, member, channel="wechat", template_id=WX_NOTICE):
    session.expire_all()
    return session.scalars(
        select(SubscriptionConsent).where(
            SubscriptionConsent.member_id == member.id,
            SubscriptionConsent.channel == channel,
            SubscriptionConsent.template_id == template_id,
        )
    ).one()


@pytest.fixture
def wx_member(make, wechat_fake):
    member = make.member()
    user = wechat_fake.add_user(wechat_user(phone=member.plain_phone))
    make.channel_identity(member, "wechat", user.openid)
    member.openid = user.openid
    return member


def _counting_commits(runtime, deliver_with, ids):
    """What ``deliver_with(runtime, ids, senders)`` answered, and how many commits it made."""
    commits = []

    def on_commit(conn):
        commits.append(conn)

    event.listen(runtime.engine, "commit", on_commit)
    try:
        answer = deliver_with(runtime, ids, runtime.push_senders)
    finally:
        event.remove(runtime.engine, "commit", on_commit)
    return answer, len(commits)


# --- consent accounting ----------------------------------------------------------------------


def test_one_time_consent_gives_one_send_when_accepted_once(
    api, wx_member, wechat_fake, session, login
):
    wechat_fake.grant_consent(wx_member.openid, WX_NOTICE)  # what wx.requestSubscribeMessage did
    r = api.post(
        "/api/v1/me/subscriptions",
        json={"channel": "wechat", "results": {WX_NOTICE: "accept"}},
        headers=login(wx_member),
    )
    assert r.status_code == 201, r.json
    notice = next(i for i in r.json["items"] if i["template_id"] == WX_NOTICE)
    assert notice["remaining"] == 1 and "notice" in notice["business_types"]

    first = _post(api.application.extensions["gjj"], wx_member)
    assert _deliveries(session, first)["wechat"].status == "sent"
    assert len(wechat_fake.sent_messages) == 1
    sent = wechat_fake.sent_messages[0]
    assert sent["openid"] == wx_member.openid and sent["template_id"] == WX_NOTICE
    assert sent["data"]["thing1"] == "缴存到账"
    assert sent["page"] == f"pages/messages/detail?id={first}"
    assert _consent(session, wx_member).remaining == 0

    calls = wechat_fake.calls.get(SEND, 0)
    second = _post(api.application.extensions["gjj"], wx_member)
    delivery = _deliveries(session, second)["wechat"]
    assert (delivery.status, delivery.last_error_code) == ("rejected", "no_consent")
    assert wechat_fake.calls.get(SEND, 0) == calls  # the platform was never asked
    assert len(wechat_fake.sent_messages) == 1
    # The inbox keeps both messages whatever the channel did.
    assert session.get(Message, second) is not None


def test_long_term_consent_keeps_sending_when_accepted(
    runtime, api, wx_member, wechat_fake, make, session
):
    wechat_fake.grant_consent(wx_member.openid, WX_NOTICE, longterm=True)
    make.consent(wx_member, "wechat", WX_NOTICE, remaining=0, long_term=True)
    for _ in range(3):
        _post(runtime, wx_member)
    assert len(wechat_fake.sent_messages) == 3


def test_consent_refused_when_template_unknown(api, wx_member, login):
    r = api.post(
        "/api/v1/me/subscriptions",
        json={"channel": "wechat", "results": {"someone-elses-template": "accept"}},
        headers=login(wx_member),
    )
    assert r.status_code == 422
    assert r.json["error_code"] == "request.validation_failed"


def test_ban_clears_consent_when_member_switches_messages_off(api, wx_member, make, session, login):
    make.consent(wx_member, "wechat", WX_NOTICE, remaining=3)
    r = api.post(
        "/api/v1/me/subscriptions",
        json={"channel": "wechat", "results": {WX_NOTICE: "ban"}},
        headers=login(wx_member),
    )
    assert r.status_code == 201
    assert _consent(session, wx_member).remaining == 0


# --- retries, permanent errors ---------------------------------------------------------------


def test_push_retries_with_backoff_then_fails_when_platform_keeps_refusing(
    make_runtime, runtime, channels, wx_member, wechat_fake, make, session, clock
):
    runtime = make_runtime(
        settings=runtime.settings.with_(push_max_attempts=3, push_backoff_base=30),
        channels=channels,
        make_dispatcher=SyncDispatcher,
    )
    push = runtime.dispatcher
    wechat_fake.grant_consent(wx_member.openid, WX_NOTICE)
    make.consent(wx_member, "wechat", WX_NOTICE)
    wechat_fake.inject_error(SEND, errcode=45009, times=10)
    start = clock.now
    message_id = _post(runtime, wx_member)
    delivery = _deliveries(session, message_id)["wechat"]
    assert (delivery.status, delivery.attempts, delivery.last_error_code) == ("pending", 1, "45009")
    assert push.scheduled == [(delivery.id, 30)]
    # Not due yet: nobody may take it early.
    assert deliver(runtime, delivery.id, runtime.push_senders).status == "skipped"

    clock.set(start + dt.timedelta(seconds=31))
    push.dispatch(delivery.id)
    assert push.scheduled[-1] == (delivery.id, 60)  # the wait doubles
    clock.set(start + dt.timedelta(seconds=95))
    push.dispatch(delivery.id)
    delivery = _deliveries(session, message_id)["wechat"]
    assert (delivery.status, delivery.attempts, delivery.last_error_code) == ("failed", 3, "45009")
    assert len(push.scheduled) == 2  # capped: no fourth try
    assert wechat_fake.sent_messages == []
    # Attempts that reached no verdict gave their consent back.
    assert _consent(session, wx_member).remaining == 1


def test_push_sent_on_retry_when_platform_recovers(
    runtime, api, push, wx_member, wechat_fake, make, session, clock
):
    wechat_fake.grant_consent(wx_member.openid, WX_NOTICE)
    make.consent(wx_member, "wechat", WX_NOTICE)
    wechat_fake.inject_error(SEND, status=502)
    start = clock.now
    message_id = _post(runtime, wx_member)
    delivery = _deliveries(session, message_id)["wechat"]
    assert (delivery.status, delivery.last_error_code) == ("pending", "http-502")
    clock.set(start + dt.timedelta(seconds=runtime.settings.push_backoff_base + 1))
    push.dispatch(delivery.id)
    delivery = _deliveries(session, message_id)["wechat"]
    assert (delivery.status, delivery.attempts) == ("sent", 2)
    assert len(wechat_fake.sent_messages) == 1
    assert _consent(session, wx_member).remaining == 0


def test_push_rejected_with_code_when_platform_says_43101(
    runtime, api, push, wx_member, wechat_fake, make, session
):
    make.consent(wx_member, "wechat", WX_NOTICE, remaining=2)  # we think so; WeChat disagrees
    message_id = _post(runtime, wx_member)
    delivery = _deliveries(session, message_id)["wechat"]
    assert (delivery.status, delivery.last_error_code) == ("rejected", "43101")
    assert push.scheduled == []
    assert _consent(session, wx_member).remaining == 0


def test_push_reaches_alipay_when_bound_and_subscribed(runtime, api, alipay_fake, make, session):
    member = make.member()
    user = alipay_fake.add_user(alipay_user(member))
    make.channel_identity(member, "alipay", user.open_id, user_id=user.user_id)
    alipay_fake.grant_consent(user.user_id, "gjj-ali-deposit")
    make.consent(member, "alipay", "gjj-ali-deposit")
    message_id = _post(runtime, member, business_type="deposit")
    assert _deliveries(session, message_id)["alipay"].status == "sent"
    assert alipay_fake.sent_messages[0]["template_id"] == "gjj-ali-deposit"
    assert alipay_fake.sent_messages[0]["data"]["keyword1"] == "缴存到账"


def test_sms_fallback_sent_when_kind_chosen_and_app_channel_rejected(
    make_runtime, runtime, channels, wx_member, session
):
    runtime = make_runtime(
        settings=runtime.settings.with_(push_sms_fallback_kinds=("loan",)),
        channels=channels,
        make_dispatcher=SyncDispatcher,
    )
    message_id = _post(runtime, wx_member, business_type="loan", content="您的贷款本期应还款")
    by_channel = _deliveries(session, message_id)
    assert by_channel["wechat"].last_error_code == "no_consent"
    assert by_channel["sms"].status == "sent"
    lines = [json.loads(x) for x in open(runtime.settings.sms_outbox, encoding="utf-8")]
    assert lines[-1]["phone"] == wx_member.plain_phone and "贷款" in lines[-1]["text"]


def test_no_sms_fallback_when_kind_not_chosen(make_runtime, runtime, channels, wx_member, session):
    runtime = make_runtime(
        settings=runtime.settings.with_(push_sms_fallback_kinds=("loan",)),
        channels=channels,
        make_dispatcher=SyncDispatcher,
    )
    message_id = _post(runtime, wx_member, business_type="deposit")
    assert set(_deliveries(session, message_id)) == {"wechat"}


# --- at most once, sweeper -------------------------------------------------------------------


def test_push_sent_once_when_two_workers_deliver_same_id(
    make_runtime, runtime, channels, wx_member, wechat_fake, make, session
):
    recorder = Recorder()
    runtime = make_runtime(channels=channels, dispatcher=recorder)
    wechat_fake.grant_consent(wx_member.openid, WX_NOTICE, count=5)
    make.consent(wx_member, "wechat", WX_NOTICE, remaining=5)
    wechat_fake.inject_error(SEND, delay=0.3)  # a slow send keeps both workers in flight
    message_id = _post(runtime, wx_member)
    delivery_id = _deliveries(session, message_id)["wechat"].id
    assert recorder.dispatched == [(delivery_id, 0)]

    start = threading.Barrier(2)
    outcomes = []

    def worker():
        start.wait()
        outcomes.append(deliver(runtime, delivery_id, runtime.push_senders).status)

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes) == ["sent", "skipped"]
    assert len(wechat_fake.sent_messages) == 1
    assert _consent(session, wx_member).remaining == 4


class Killed(BaseException):
    """The worker process dying (SIGKILL): nothing after it runs."""


class Dying:
    """The runtime's senders, but the worker dies on its first send: ``before`` the request is
    on the wire (it never reached the platform), ``marked``: its start mark committed, the
    request not yet sent (in doubt for the sweeper, but the platform has nothing), or ``after``
    it (the platform may have it)."""

    def __init__(self, senders, when, meanwhile=None):
        self.senders, self.when, self.meanwhile = senders, when, meanwhile

    def configured(self, channel):
        return self.senders.channels.configured(channel)

    def sender(self, channel):
        real = self.senders.channels.sender(channel)
        dying = self

        class _Sender:
            def send_subscription(self, *args, before_send=None, **kwargs):
                if dying.meanwhile is not None:
                    dying.meanwhile()
                if dying.when == "after":
                    real.send_subscription(*args, before_send=before_send, **kwargs)
                    raise Killed
                if dying.when == "before":
                    raise Killed
                if dying.when == "marked":
                    before_send()
                    raise Killed
                return real.send_subscription(*args, before_send=before_send, **kwargs)

        return _Sender()

    def as_senders(self):
        return Senders(self, self.senders.sms, self.senders.templates)


def _die_while_sending(runtime, delivery_id, when):
    with pytest.raises(Killed):
        deliver(runtime, delivery_id, Dying(runtime.push_senders, when).as_senders())


def test_sweeper_requeues_delivery_and_gives_consent_back_when_worker_died_before_sending(
    make_runtime, runtime, channels, wx_member, wechat_fake, make, session, clock
):
    runtime = make_runtime(channels=channels, dispatcher=Recorder())
    push = SyncDispatcher(runtime, runtime.push_senders)
    wechat_fake.grant_consent(wx_member.openid, WX_NOTICE)
    make.consent(wx_member, "wechat", WX_NOTICE, remaining=1)
    message_id = _post(runtime, wx_member)
    delivery_id = _deliveries(session, message_id)["wechat"].id
    _die_while_sending(runtime, delivery_id, "before")  # claimed, consent spent, nothing sent
    assert _consent(session, wx_member).remaining == 0
    clock.advance(seconds=runtime.settings.push_lock_seconds + 1)

    result = sweep_once(runtime, push, stale_after=60)

    assert (result.requeued, result.lost) == ([delivery_id], 0)
    delivery = _deliveries(session, message_id)["wechat"]
    assert (delivery.status, delivery.last_error_code) == ("sent", None)
    assert len(wechat_fake.sent_messages) == 1
    assert _consent(session, wx_member).remaining == 0  # given back, then spent by the send


def test_sweeper_writes_off_delivery_when_worker_lost_after_request_left(
    make_runtime, runtime, channels, wx_member, wechat_fake, make, session, clock
):
    runtime = make_runtime(channels=channels, dispatcher=Recorder())
    wechat_fake.grant_consent(wx_member.openid, WX_NOTICE)
    make.consent(wx_member, "wechat", WX_NOTICE, remaining=1)
    message_id = _post(runtime, wx_member)
    delivery_id = _deliveries(session, message_id)["wechat"].id
    _die_while_sending(runtime, delivery_id, "after")  # the platform has it; we never heard
    clock.advance(seconds=runtime.settings.push_lock_seconds + 1)

    result = sweep(runtime)

    assert (result.requeued, result.lost) == ([], 1)
    assert deliver(runtime, delivery_id, runtime.push_senders).status == "skipped"
    delivery = _deliveries(session, message_id)["wechat"]
    assert (delivery.status, delivery.last_error_code) == ("failed", "worker_lost")
    assert delivery.send_started_at is not None
    assert len(wechat_fake.sent_messages) == 1  # never a second time
    assert _consent(session, wx_member).remaining == 0  # the platform spent it


def test_sweeper_tells_member_by_sms_when_it_writes_off_a_send_in_doubt(
    make_runtime, runtime, channels, wx_member, wechat_fake, make, session, clock
):
    """The production check SIGKILLed a worker between its start mark and its request: the
    sweeper wrote the delivery off as ``worker_lost`` (never re-sent: the platform may have it),
    and the member heard of the message on no channel. In doubt, a kind that falls back to SMS
    goes out by SMS: a member may hear twice, never not at all."""
    runtime = make_runtime(
        settings=runtime.settings.with_(push_sms_fallback_kinds=("notice",)),
        channels=channels,
        dispatcher=Recorder(),
    )
    push = SyncDispatcher(runtime, runtime.push_senders)
    wechat_fake.grant_consent(wx_member.openid, WX_NOTICE)
    make.consent(wx_member, "wechat", WX_NOTICE, remaining=1)
    message_id = _post(runtime, wx_member)
    delivery_id = _deliveries(session, message_id)["wechat"].id
    _die_while_sending(runtime, delivery_id, "marked")
    clock.advance(seconds=runtime.settings.push_lock_seconds + 1)

    result = sweep_once(runtime, push, stale_after=60)

    by_channel = _deliveries(session, message_id)
    assert (by_channel["wechat"].status, by_channel["wechat"].last_error_code) == (
        "failed",
        "worker_lost",
    )
    assert result.lost == 1 and result.requeued == [by_channel["sms"].id]
    assert by_channel["sms"].status == "sent"
    assert wechat_fake.sent_messages == []  # the push is never re-sent
    lines = [json.loads(x) for x in open(runtime.settings.sms_outbox, encoding="utf-8")]
    assert lines[-1]["phone"] == wx_member.plain_phone


def test_slow_worker_sends_nothing_when_sweeper_requeued_its_claim(
    make_runtime, runtime, channels, wx_member, wechat_fake, make, session, clock
):
    """A worker stalled past its lock (not dead): the sweeper hands the delivery to another
    worker, which sends it; the stalled one, waking up, finds its claim gone and sends nothing."""
    runtime = make_runtime(channels=channels, dispatcher=Recorder())
    push = SyncDispatcher(runtime, runtime.push_senders)
    wechat_fake.grant_consent(wx_member.openid, WX_NOTICE, count=2)
    make.consent(wx_member, "wechat", WX_NOTICE, remaining=2)
    message_id = _post(runtime, wx_member)
    delivery_id = _deliveries(session, message_id)["wechat"].id
    swept = []

    def stall_past_the_lock():
        clock.advance(seconds=runtime.settings.push_lock_seconds + 1)
        swept.append(sweep_once(runtime, push, stale_after=60))

    stalled = Dying(runtime.push_senders, "never", meanwhile=stall_past_the_lock).as_senders()
    outcome = deliver(runtime, delivery_id, stalled)

    assert outcome.status == "skipped"
    assert swept[0].requeued == [delivery_id]
    assert _deliveries(session, message_id)["wechat"].status == "sent"
    assert len(wechat_fake.sent_messages) == 1
    assert _consent(session, wx_member).remaining == 1  # one send, one consent


def test_sweeper_requeues_pending_when_dispatch_was_lost(
    make_runtime, runtime, channels, wx_member, wechat_fake, make, session, clock
):
    recorder = Recorder()  # the dispatch goes nowhere (broker down)
    runtime = make_runtime(channels=channels, dispatcher=recorder)
    push = SyncDispatcher(runtime, runtime.push_senders)
    wechat_fake.grant_consent(wx_member.openid, WX_NOTICE)
    make.consent(wx_member, "wechat", WX_NOTICE)
    message_id = _post(runtime, wx_member)
    delivery_id = _deliveries(session, message_id)["wechat"].id
    clock.advance(seconds=120)
    result = sweep_once(runtime, push, stale_after=60)  # what `gjj push sweep` and serve run
    assert result.requeued == [delivery_id]
    assert _deliveries(session, message_id)["wechat"].status == "sent"


def test_rollback_queues_nothing_when_message_transaction_fails(
    runtime, api, push, wx_member, wechat_fake
):
    with runtime.session() as s:
        post_message(s, member_id=wx_member.id, business_name="缴存到账", content="x")
        s.rollback()
        s.commit()
    assert push.outcomes == {}
    assert wechat_fake.calls.get(SEND, 0) == 0


# --- statistics ------------------------------------------------------------------------------


def _finished(samples, status, code=""):
    key = (
        "gjj_push_deliveries_finished_total",
        (("channel", "wechat"), ("code", code), ("status", status)),
    )
    return samples.get(key, 0.0)


def test_stats_count_deliveries_when_scraped_and_listed(
    runtime, api, wx_member, wechat_fake, make, database_url, scrape
):
    wechat_fake.grant_consent(wx_member.openid, WX_NOTICE)
    make.consent(wx_member, "wechat", WX_NOTICE)
    before = scrape(api)
    _post(runtime, wx_member)
    _post(runtime, wx_member)
    after = scrape(api)
    assert _finished(after, "sent") - _finished(before, "sent") == 1
    assert (
        _finished(after, "rejected", "no_consent") - _finished(before, "rejected", "no_consent")
        == 1
    )
    sends = ("gjj_push_send_seconds_count", (("channel", "wechat"),))
    assert after[sends] - before.get(sends, 0.0) == 1  # the rejected one never called WeChat

    from click.testing import CliRunner

    from backend.cli import Context, cli

    env = {"GJJ_DATABASE_URL": database_url, "GJJ_REDIS_URL": runtime.settings.redis_url}
    result = CliRunner(env=env).invoke(cli, ["push", "stats"], obj=Context())
    assert result.exit_code == 0, result.output
    rows = [line.split() for line in result.output.splitlines()[1:]]
    assert ["wechat", "sent", "-", "1"] in rows
    assert ["wechat", "rejected", "no_consent", "1"] in rows


# --- keyword values per type, consent given back (issue 12) --------------------------------


def _use_templates(make_runtime, channels, wechat_fake, keywords, template_id=WX_NOTICE):
    """A runtime whose WeChat notice template has these keywords, on both sides."""
    channel = "wechat"
    wechat_fake.add_template(template_id, list(keywords))
    from backend.push.templates import DEFAULT_TEMPLATES, Templates

    config = {ch: dict(kinds) for ch, kinds in DEFAULT_TEMPLATES.items()}
    config[channel]["notice"] = {
        "template_id": template_id,
        "page": "pages/messages/detail?id={message_id}",
        "keywords": keywords,
    }
    return make_runtime(
        channels=channels, push_templates=Templates(config), make_dispatcher=SyncDispatcher
    )


def test_push_formats_each_value_for_its_keyword_type_when_sending(
    make_runtime, runtime, channels, wx_member, wechat_fake, make, session
):
    runtime = _use_templates(
        make_runtime, channels, wechat_fake, {"phrase1": "business_name", "time2": "sent_at"}
    )
    wechat_fake.grant_consent(wx_member.openid, WX_NOTICE)
    make.consent(wx_member, "wechat", WX_NOTICE)
    message_id = _post(runtime, wx_member)
    delivery = _deliveries(session, message_id)["wechat"]
    assert delivery.status == "sent", (delivery.last_error_code, delivery.last_error)
    local = to_local(session.get(Message, message_id).sent_at)
    assert wechat_fake.sent_messages[-1]["data"] == {
        "phrase1": "缴存到账",
        "time2": f"{local.year}年{local.month}月{local.day}日 {local:%H:%M}",
    }


def test_push_fails_without_sending_when_value_cannot_fit_its_keyword_type(
    make_runtime, runtime, channels, wx_member, wechat_fake, make, session
):
    # A phrase is at most five Chinese characters; the content is longer and cannot be cut
    # without changing what it says: the delivery fails for good, WeChat is never asked.
    runtime = _use_templates(
        make_runtime, channels, wechat_fake, {"thing1": "business_name", "phrase2": "content"}
    )
    wechat_fake.grant_consent(wx_member.openid, WX_NOTICE)
    make.consent(wx_member, "wechat", WX_NOTICE)
    calls = wechat_fake.calls.get(SEND, 0)
    message_id = _post(runtime, wx_member)
    delivery = _deliveries(session, message_id)["wechat"]
    assert (delivery.status, delivery.last_error_code) == ("failed", "keyword_invalid")
    assert "phrase2" in delivery.last_error
    assert wechat_fake.calls.get(SEND, 0) == calls
    assert _consent(session, wx_member).remaining == 1
    assert wechat_fake.remaining_consent(wx_member.openid, WX_NOTICE) == 1


def test_push_keeps_long_thing_within_20_and_character_string_uncut(
    make_runtime, runtime, channels, wx_member, wechat_fake, make, session
):
    runtime = _use_templates(
        make_runtime, channels, wechat_fake, {"thing1": "content", "character_string2": "content"}
    )
    wechat_fake.grant_consent(wx_member.openid, WX_NOTICE)
    make.consent(wx_member, "wechat", WX_NOTICE)
    message_id = _post(runtime, wx_member, content="JK140120210000005-2026-11-30-XYZ")  # 32
    assert _deliveries(session, message_id)["wechat"].status == "sent"
    data = wechat_fake.sent_messages[-1]["data"]
    assert data["character_string2"] == "JK140120210000005-2026-11-30-XYZ"
    assert data["thing1"] == "JK140120210000005-2…" and len(data["thing1"]) == 20


@pytest.mark.parametrize("errcode", [43108, 47003, 41030, 40037])
def test_consent_is_given_back_when_platform_refused_without_using_it(
    errcode, runtime, api, push, wx_member, wechat_fake, make, session
):
    wechat_fake.grant_consent(wx_member.openid, WX_NOTICE)
    make.consent(wx_member, "wechat", WX_NOTICE)
    wechat_fake.inject_error(SEND, errcode=errcode)
    message_id = _post(runtime, wx_member)
    delivery = _deliveries(session, message_id)["wechat"]
    assert delivery.last_error_code == str(errcode)
    # The local count stays equal to the platform's.
    assert _consent(session, wx_member).remaining == 1
    assert wechat_fake.remaining_consent(wx_member.openid, WX_NOTICE) == 1
    if errcode == 43108:  # concurrent calls for one openid: try again later
        assert delivery.status == "pending"
        assert push.scheduled == [(delivery.id, runtime.settings.push_backoff_base)]
    else:
        assert delivery.status == "rejected"
        assert push.scheduled == []


def test_push_sends_alipay_values_up_to_50_characters_with_encoded_page(
    runtime, api, alipay_fake, make, session
):
    member = make.member()
    user = alipay_fake.add_user(alipay_user(member))
    make.channel_identity(member, "alipay", user.open_id, user_id=user.user_id)
    alipay_fake.grant_consent(user.user_id, "gjj-ali-deposit")
    make.consent(member, "alipay", "gjj-ali-deposit")
    content = "您的住房公积金本月缴存已到账，单位缴存与个人缴存合计已记入您的个人账户"  # 36
    message_id = _post(runtime, member, business_type="deposit", content=content)
    assert _deliveries(session, message_id)["alipay"].status == "sent"
    assert alipay_fake.sent_messages[0]["data"]["keyword2"] == content


def test_delivery_takes_two_transactions_when_sent(
    make_runtime, runtime, channels, wx_member, wechat_fake, make, session
):
    runtime = make_runtime(channels=channels, dispatcher=Recorder())
    wechat_fake.grant_consent(wx_member.openid, WX_NOTICE)
    make.consent(wx_member, "wechat", WX_NOTICE, remaining=1)
    message_id = _post(runtime, wx_member)
    delivery_id = _deliveries(session, message_id)["wechat"].id
    outcome, commits = _counting_commits(runtime, deliver, delivery_id)
    assert outcome.status == "sent"
    # the claim with its plan and the consent it spends, then the outcome (the start mark before
    # the send is one autocommit statement, no transaction)
    assert commits == 2
    assert len(wechat_fake.sent_messages) == 1
    assert _consent(session, wx_member).remaining == 0


# --- deliveries in chunks --------------------------------------------------------------------


def test_chunk_of_deliveries_claimed_and_finished_in_two_commits_each_sent_once(
    make_runtime, runtime, channels, make, wechat_fake, session, clock
):
    """A chunk costs two transactions whatever its size (claim + plans + consents, then every
    ``sent``), not two per delivery; a delivery another worker holds is skipped, consents are
    spent once per send, long-term ones not at all."""
    from backend.push.delivery import deliver_many

    runtime = make_runtime(channels=channels, dispatcher=Recorder())
    members = []
    for n in range(5):
        member = make.member()
        user = wechat_fake.add_user(wechat_user(phone=member.plain_phone))
        make.channel_identity(member, "wechat", user.openid)
        wechat_fake.grant_consent(user.openid, WX_NOTICE, longterm=n == 0)
        make.consent(member, "wechat", WX_NOTICE, remaining=0 if n == 0 else 1, long_term=n == 0)
        members.append(member)
    ids = [_deliveries(session, _post(runtime, m))["wechat"].id for m in members]
    assert claim(runtime, ids[4], clock.now)  # another worker holds this one
    outcomes, commits = _counting_commits(runtime, deliver_many, ids)

    assert {i: o.status for i, o in outcomes.items()} == {
        ids[0]: "sent",
        ids[1]: "sent",
        ids[2]: "sent",
        ids[3]: "sent",
        ids[4]: "skipped",
    }
    assert commits == 2
    assert len(wechat_fake.sent_messages) == 4
    assert [_consent(session, m).remaining for m in members] == [0, 0, 0, 0, 1]
    session.expire_all()
    rows = session.scalars(select(PushDelivery).order_by(PushDelivery.id)).all()
    assert [(r.status, r.attempts) for r in rows] == [("sent", 1)] * 4 + [("sending", 1)]
    assert all(r.sent_at is not None for r in rows[:4])


# --- every serving process shares a burst (issue 15) -----------------------------------------


def _wx_members(make, wechat_fake, count):
    members = []
    for _ in range(count):
        member = make.member()
        user = wechat_fake.add_user(wechat_user(phone=member.plain_phone))
        make.channel_identity(member, "wechat", user.openid)
        wechat_fake.grant_consent(user.openid, WX_NOTICE, longterm=True)
        make.consent(member, "wechat", WX_NOTICE, remaining=0, long_term=True)
        member.openid = user.openid
        members.append(member)
    return members


def test_idle_process_delivers_burst_another_process_committed_when_it_polls(
    make_runtime, runtime, channels, make, wechat_fake, session
):
    """The core system's connections may all land on one worker: the deliveries its commits
    write are due for every process's pool, not only for the one that committed them."""
    from backend.push.dispatch import InlineDispatcher

    committing = make_runtime(channels=channels, dispatcher=Recorder())  # its pool is busy
    idle = make_runtime(
        channels=channels, make_dispatcher=lambda core, senders: InlineDispatcher(core, senders, 2)
    )
    members = _wx_members(make, wechat_fake, 3)
    for member in members:
        _post(committing, member)

    assert idle.dispatcher.poll_once()
    idle.dispatcher.shutdown()  # waits for the pool

    session.expire_all()
    assert [d.status for d in session.scalars(select(PushDelivery))] == ["sent"] * 3
    assert sorted(m["openid"] for m in wechat_fake.sent_messages) == sorted(
        m.openid for m in members
    )


def test_poll_wakes_nobody_when_nothing_is_due(make_runtime, runtime, channels, make, wechat_fake):
    from backend.push.dispatch import InlineDispatcher

    pool = make_runtime(
        channels=channels, make_dispatcher=lambda core, senders: InlineDispatcher(core, senders, 2)
    )
    member = _wx_members(make, wechat_fake, 1)[0]
    _post(make_runtime(channels=channels, dispatcher=Recorder()), member)
    assert pool.dispatcher.poll_once()
    pool.dispatcher.shutdown()
    assert not pool.dispatcher.poll_once()  # sent: nothing due any more
    assert len(wechat_fake.sent_messages) == 1


@pytest.mark.skipif(sys.platform != "linux", reason="a nice per thread is Linux's")
def test_pool_threads_yield_the_cores_to_request_threads_when_both_want_them(
    make_runtime, channels
):
    """On 30 June the pushes must not make members wait: a member GET waited behind the sends
    at the same priority (p50 19.8 ms against 4.6 idle, ``bench_interest_day.py``)."""
    from backend.push.dispatch import BACKGROUND_NICE, InlineDispatcher

    rt = make_runtime(
        channels=channels, make_dispatcher=lambda core, senders: InlineDispatcher(core, senders, 2)
    )
    process = os.getpriority(os.PRIO_PROCESS, os.getpid())
    pool_level = rt.dispatcher.pool.submit(
        lambda: os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
    ).result()
    rt.dispatcher.shutdown()
    assert pool_level == min(19, process + BACKGROUND_NICE) > process
    assert os.getpriority(os.PRIO_PROCESS, threading.get_native_id()) == process  # the caller's


def test_due_deliveries_claimed_oldest_first_up_to_limit_and_each_once(
    make_runtime, runtime, channels, make, wechat_fake, session, clock
):
    rt = make_runtime(channels=channels, dispatcher=Recorder())
    members = _wx_members(make, wechat_fake, 4)
    ids = []
    for member in members:
        ids.append(_deliveries(session, _post(rt, member))["wechat"].id)
        clock.advance(seconds=1)
    with rt.session() as s:  # the newest is a retry, not due yet
        s.get(PushDelivery, ids[3]).next_attempt_at = clock.now + dt.timedelta(minutes=5)
        s.commit()

    first = deliver_due(rt, rt.push_senders, 2)
    rest = deliver_due(rt, rt.push_senders, 2)

    assert {i: o.status for i, o in first.items()} == {ids[0]: "sent", ids[1]: "sent"}
    assert {i: o.status for i, o in rest.items()} == {ids[2]: "sent"}
    assert deliver_due(rt, rt.push_senders, 2) == {}
    assert len(wechat_fake.sent_messages) == 3


def test_due_claim_skips_rows_another_worker_is_claiming_instead_of_waiting(
    postgres_only, make_runtime, runtime, channels, make, wechat_fake, session
):
    """Two processes' drainers claim at once: the rows one has locked are skipped by the other
    (``FOR UPDATE SKIP LOCKED``), which takes the next ones instead of queueing behind it."""
    rt = make_runtime(channels=channels, dispatcher=Recorder())
    ids = [
        _deliveries(session, _post(rt, m))["wechat"].id for m in _wx_members(make, wechat_fake, 3)
    ]
    done: dict[int, str] = {}
    with rt.engine.connect() as other:
        other.execute(
            select(PushDelivery.id).where(PushDelivery.id == ids[0]).with_for_update()
        ).all()  # another worker's claim transaction, still open

        def claim_next() -> None:
            done.update({i: o.status for i, o in deliver_due(rt, rt.push_senders, 50).items()})

        worker = threading.Thread(target=claim_next)
        worker.start()
        worker.join(timeout=60)  # with a lock wait it would still be blocked on ids[0]
        blocked = worker.is_alive()
        other.rollback()
    worker.join()
    assert not blocked
    assert done == {ids[1]: "sent", ids[2]: "sent"}


@pytest.mark.parametrize(
    "reader",
    [
        pytest.param(lambda rt: deliver_due(rt, rt.push_senders, 50), id="burst claim"),
        pytest.param(any_due, id="poller"),
        pytest.param(lambda rt: sweep(rt, stale_after=60), id="sweeper"),
    ],
)
def test_pending_readers_walk_pending_index_in_order_whatever_the_statistics_say(
    postgres_only, make_runtime, channels, make, clock, reader
):
    """On 30 June the burst lands on a table whose statistics know nothing of it (a quiet day,
    or none at all). Whatever reads the pending deliveries (a pool's claim of its chunk, the
    poller's look for anything due, the sweeper's list of the forgotten) must still walk the
    pending index in due order and stop after what it needs: planned from such statistics, the
    claim read the whole backlog through a bitmap and sorted it for every chunk of 50 (27-29 ms
    a claim at 45,000 pending, in ``bench_interest_day.py``)."""
    rt = make_runtime(channels=channels, dispatcher=Recorder())
    template = make.message(make.member())
    plans: list[str] = []

    def explain(conn, cursor, statement, parameters, context, executemany):  # noqa: ANN001
        # A read of pending rows, planned in its own transaction (the claim's: under its settings).
        if "LIMIT" in statement and "pending" in (parameters or {}).values():
            rows = cursor.connection.execute("EXPLAIN " + statement, parameters).fetchall()
            plans.append("\n".join(row[0] for row in rows))

    columns = "ALTER TABLE push_deliveries ALTER COLUMN {} SET STATISTICS {}"
    with rt.engine.begin() as conn:
        # The planner falls back on its default guesses, as on a table never analyzed.
        for column in ("status", "next_attempt_at"):
            conn.exec_driver_sql(columns.format(column, 0))
    try:
        with rt.engine.begin() as conn:
            conn.exec_driver_sql(
                "INSERT INTO messages (member_id, kind, business_name, content, source_channel,"
                " business_type, sent_at, created_at) SELECT member_id, kind, business_name,"
                " content, source_channel, business_type, sent_at, created_at FROM messages"
                " CROSS JOIN generate_series(1, 30000) WHERE id = %(id)s",
                {"id": template.id},
            )
            conn.exec_driver_sql(
                "INSERT INTO push_deliveries (message_id, member_id, channel, status, attempts,"
                " next_attempt_at, created_at, updated_at) SELECT id, member_id, 'wechat',"
                " 'pending', 0, %(due)s, %(due)s, %(due)s FROM messages WHERE id <> %(id)s",
                {"id": template.id, "due": clock.now - dt.timedelta(minutes=5)},
            )
            conn.exec_driver_sql("ANALYZE push_deliveries")
        event.listen(rt.engine, "before_cursor_execute", explain)
        try:
            reader(rt)
        finally:
            event.remove(rt.engine, "before_cursor_execute", explain)
    finally:
        with rt.engine.begin() as conn:
            for column in ("status", "next_attempt_at"):
                conn.exec_driver_sql(columns.format(column, -1))
    [plan] = plans
    assert re.search(r"Index (Only )?Scan using ix_push_deliveries_pending", plan), plan
    assert "Sort" not in plan and "Bitmap" not in plan, plan
