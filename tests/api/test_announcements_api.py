"""Announcements (公告): published by the core system through the signed internal API, read by
members with unread marks, pushed through the one push pipeline to members who consented."""

import dataclasses
import datetime as dt

import pytest
from sqlalchemy import event, func, select

from backend.announcements.models import Announcement
from backend.inbox.models import Message
from backend.push.models import PushDelivery
from backend.push.services import NEW_DELIVERIES

WX_TEMPLATE = "gjj-wx-announcement"


def _publish(make, client, number="GG-2026-001", **fields):
    payload = {
        "announcement_no": number,
        "title": "关于调整住房公积金贷款利率的通知",
        "body": "自2026年12月1日起，首套个人住房公积金贷款利率下调0.25个百分点。",
        **fields,
    }
    return make.signed(client, "POST", "/internal/v1/announcements", payload), payload


def _pushed_members(session):
    session.expire_all()
    return sorted(session.scalars(select(PushDelivery.member_id)))


def _wechat_member(make, *, consent=True, **fields):
    member = make.member(**fields)
    make.channel_identity(member, "wechat", f"o-wx-{member.id}")
    if consent:
        make.consent(member, "wechat", WX_TEMPLATE)
    return member


# --- member side ------------------------------------------------------------------------------


def test_member_sees_unread_announcement_then_read_when_opened(make, client, login):
    member = make.member(password="abc12345")
    r, _ = _publish(make, client)
    assert r.status_code == 201 and r.json["state"] == "published"
    headers = login(member)

    listed = client.get("/api/v1/announcements", headers=headers).json
    assert client.get("/api/v1/announcements/unread-count", headers=headers).json == {
        "unread_count": 1
    }
    [item] = listed["items"]
    assert item["read"] is False and item["title"] == "关于调整住房公积金贷款利率的通知"
    assert item["published_at"].endswith("+08:00") and "body" not in item
    detail = client.get(f"/api/v1/announcements/{item['id']}", headers=headers).json
    assert detail["body"].startswith("自2026年12月1日起")

    first = client.post(f"/api/v1/announcements/{item['id']}/read", headers=headers)
    again = client.post(f"/api/v1/announcements/{item['id']}/read", headers=headers)

    assert first.status_code == 200 and first.json == again.json
    assert client.get("/api/v1/announcements/unread-count", headers=headers).json == {
        "unread_count": 0
    }
    assert client.get("/api/v1/announcements", headers=headers).json["items"][0]["read"] is True


def test_read_state_is_per_member_when_two_members_see_one_announcement(make, client, login):
    reader = make.member(password="abc12345")
    other = make.member(password="abc12345")
    r, _ = _publish(make, client)
    client.post(f"/api/v1/announcements/{r.json['id']}/read", headers=login(reader))

    unread = client.get("/api/v1/announcements/unread-count", headers=login(other)).json
    assert unread == {"unread_count": 1}


def test_loan_holder_announcement_hidden_when_member_has_no_loan(make, client, login):
    holder = make.member(password="abc12345")
    make.loan(holder)
    settled = make.member(password="abc12345")
    make.loan(settled, status="settled", balance="0.00")
    r, _ = _publish(make, client, audience="loan_holders")
    assert r.status_code == 201

    assert len(client.get("/api/v1/announcements", headers=login(holder)).json["items"]) == 1
    assert client.get("/api/v1/announcements", headers=login(settled)).json["items"] == []
    missing = client.get(f"/api/v1/announcements/{r.json['id']}", headers=login(settled))
    assert missing.status_code == 404
    assert missing.json["error_code"] == "announcement.not_found"


def test_active_account_announcement_hidden_when_account_sealed(make, client, login):
    active = make.member(password="abc12345")
    sealed = make.member(password="abc12345", status="sealed")
    _publish(make, client, audience="active_accounts")

    assert len(client.get("/api/v1/announcements", headers=login(active)).json["items"]) == 1
    assert client.get("/api/v1/announcements", headers=login(sealed)).json["items"] == []


def test_scheduled_announcement_appears_when_its_time_comes(make, client, login, clock):
    member = make.member(password="abc12345")
    headers = login(member)
    r, _ = _publish(make, client, published_at="2026-11-27T09:00:00")
    assert r.json["state"] == "scheduled"
    assert client.get("/api/v1/announcements", headers=headers).json["items"] == []

    clock.set(dt.datetime(2026, 11, 27, 1, 0, tzinfo=dt.UTC))  # 09:00 Beijing time

    assert [
        a["id"] for a in client.get("/api/v1/announcements", headers=login(member)).json["items"]
    ] == [r.json["id"]]


def test_withdrawn_announcement_hidden_and_not_counted_when_withdrawn(make, client, login):
    member = make.member(password="abc12345")
    headers = login(member)
    r, _ = _publish(make, client)

    w = make.signed(
        client, "POST", "/internal/v1/announcements/GG-2026-001/withdraw", {"reason": "内容有误"}
    )

    assert w.status_code == 200 and w.json["state"] == "withdrawn"
    assert client.get("/api/v1/announcements", headers=headers).json["items"] == []
    assert client.get("/api/v1/announcements/unread-count", headers=headers).json == {
        "unread_count": 0
    }
    gone = client.post(f"/api/v1/announcements/{r.json['id']}/read", headers=headers)
    assert gone.status_code == 404 and gone.json["message"] == "未找到该公告，可能已撤回"


def test_announcements_paged_newest_first_when_more_than_a_page(make, client, login, clock):
    member = make.member(password="abc12345")
    for n in range(3):
        _publish(make, client, number=f"GG-{n}", title=f"公告{n}")
        clock.advance(minutes=1)
    headers = login(member)

    first = client.get("/api/v1/announcements?limit=2", headers=headers).json
    rest = client.get(
        f"/api/v1/announcements?limit=2&cursor={first['next_cursor']}", headers=headers
    ).json

    assert [a["title"] for a in first["items"] + rest["items"]] == ["公告2", "公告1", "公告0"]
    assert rest["next_cursor"] is None


def test_announcements_refused_when_not_logged_in(client):
    r = client.get("/api/v1/announcements")
    assert r.status_code == 401 and r.json["error_code"]


# --- internal side: idempotency ---------------------------------------------------------------


def test_publish_replayed_when_whole_request_is_the_same(make, client, session):
    first, payload = _publish(make, client)
    second = make.signed(client, "POST", "/internal/v1/announcements", payload)

    assert first.status_code == 201 and second.status_code == 200
    assert first.json == second.json
    session.expire_all()
    assert session.scalar(select(func.count()).select_from(Announcement)) == 1


@pytest.mark.parametrize(
    "change",
    [
        {"title": "另一个标题"},
        {"audience": "loan_holders"},
        {"published_at": "2026-12-01T09:00:00"},
    ],
)
def test_publish_refused_with_409_when_same_number_differs(make, client, change):
    _, payload = _publish(make, client)

    r = make.signed(client, "POST", "/internal/v1/announcements", {**payload, **change})

    assert r.status_code == 409
    assert r.json["error_code"] == "announcement.number_conflict"
    assert r.json["message"] == "该公告编号已用不同内容发布"


def test_withdraw_replayed_when_same_reason_and_409_when_another(make, client):
    _publish(make, client)
    path = "/internal/v1/announcements/GG-2026-001/withdraw"
    first = make.signed(client, "POST", path, {"reason": "内容有误"})
    again = make.signed(client, "POST", path, {"reason": "内容有误"})
    other = make.signed(client, "POST", path, {"reason": "政策调整"})

    assert first.status_code == again.status_code == 200 and first.json == again.json
    assert other.status_code == 409
    assert other.json["error_code"] == "announcement.already_withdrawn"


def test_withdraw_unknown_announcement_is_404(make, client):
    r = make.signed(client, "POST", "/internal/v1/announcements/NOPE/withdraw", {})
    assert r.status_code == 404 and r.json["error_code"] == "announcement.not_found"


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"audience": "retirees"}, "audience"),
        ({"title": ""}, "title"),
        ({"announcement_no": "有空格 no"}, "announcement_no"),
        ({"colour": "red"}, "colour"),
    ],
)
def test_publish_refused_with_422_when_payload_bad(make, client, change, field):
    r, _ = _publish(make, client, **change)
    assert r.status_code == 422
    assert r.json["error_code"] and field in r.json["errors"]


def test_publish_refused_when_unsigned(client):
    r = client.post("/internal/v1/announcements", json={"announcement_no": "x"})
    assert r.status_code == 401 and r.json["error_code"].startswith("internal.")


# --- pushes -----------------------------------------------------------------------------------


def test_publish_pushes_only_audience_members_who_consented(make, client, session):
    consented = _wechat_member(make)
    no_consent = _wechat_member(make, consent=False)
    _wechat_member(make)  # consented, but no loan
    make.loan(consented)
    make.loan(no_consent)

    r, _ = _publish(make, client, audience="loan_holders")

    assert r.json["pushed"] == 1 and r.json["fanout_done"] is True
    assert _pushed_members(session) == [consented.id]
    carrier = session.scalars(select(Message)).one()
    assert (carrier.kind, carrier.business_type, carrier.content) == (
        "notice",
        "announcement",
        "关于调整住房公积金贷款利率的通知",
    )


def test_carrier_stays_out_of_inbox_when_announcement_pushed(make, client, login):
    member = _wechat_member(make, password="abc12345")
    _publish(make, client)
    headers = login(member)

    assert client.get("/api/v1/messages", headers=headers).json["items"] == []
    assert client.get("/api/v1/messages/unread-count", headers=headers).json["unread_count"] == 0


def test_fanout_commits_in_batches_and_pushes_each_member_once(make, client, runtime, session):
    members = [_wechat_member(make) for _ in range(5)]
    runtime.settings = dataclasses.replace(runtime.settings, announcement_fanout_batch=2)
    batches = []

    def count_batches(s):
        if s.info.get(NEW_DELIVERIES):
            batches.append(len(s.info[NEW_DELIVERIES]))

    event.listen(runtime.session_factory, "before_commit", count_batches)
    try:
        r, payload = _publish(make, client)
        replay = make.signed(client, "POST", "/internal/v1/announcements", payload)
    finally:
        event.remove(runtime.session_factory, "before_commit", count_batches)

    assert batches == [2, 2, 1]  # one transaction per batch of members
    assert r.json["pushed"] == 5 and replay.json["pushed"] == 5
    assert _pushed_members(session) == sorted(m.id for m in members)


def test_fanout_resumes_without_pushing_twice_when_interrupted(
    make, runtime, session, client, clock
):
    from backend.push.dispatch import push_templates
    from backend.push.fanout import fanout, fanout_batch

    members = [_wechat_member(make) for _ in range(3)]
    _publish(make, client, published_at="2026-12-31T09:00:00")  # not due: no fan-out yet
    announcement = session.scalars(select(Announcement)).one()
    announcement.published_at = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    session.commit()
    templates = push_templates(runtime)
    with runtime.session() as s:
        first = fanout_batch(s, templates, announcement.id, batch_size=2)
    assert (first.done, first.pushed) == (False, 2)
    # As if the worker died after the first batch and the command ran the whole fan-out again
    with runtime.session() as s:
        s.query(Announcement).update({"fanout_after": 0})
        s.commit()

    pushed = fanout(runtime.session_factory, templates, announcement.id, batch_size=2)

    assert pushed == 1
    assert _pushed_members(session) == sorted(m.id for m in members)


def test_scheduled_announcement_pushed_by_fanout_command_when_due(
    make, client, session, clock, runtime
):
    from click.testing import CliRunner

    from backend.cli import Context, cli

    member = _wechat_member(make)
    _publish(make, client, published_at="2026-11-27T09:00:00")
    assert _pushed_members(session) == []

    def run():
        return CliRunner().invoke(cli, ["announcements", "fanout"], obj=Context(runtime=runtime))

    early = run()
    assert early.exit_code == 0, early.output
    assert _pushed_members(session) == []
    clock.set(dt.datetime(2026, 11, 27, 1, 0, tzinfo=dt.UTC))
    due = run()

    assert due.exit_code == 0, due.output
    assert "pushed 1 members" in due.output
    assert _pushed_members(session) == [member.id]


def test_withdraw_cancels_pushes_not_yet_sent(make, client, session):
    _wechat_member(make)
    _publish(make, client)

    make.signed(client, "POST", "/internal/v1/announcements/GG-2026-001/withdraw", {})

    session.expire_all()
    assert session.scalars(select(Message.deleted_at)).one() is not None
