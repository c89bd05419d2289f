"""消息 / 已阅 / 待办 (manual 2.1, 2.2, 2.4) through the member API."""

import datetime as dt

import pytest

from backend.inbox.models import Message

T0 = dt.datetime(2026, 3, 1, 2, 0, tzinfo=dt.UTC)


def _all_pages(client, headers, url, limit):
    seen, cursor, pages = [], None, 0
    while True:
        sep = "&" if "?" in url else "?"
        page_url = f"{url}{sep}limit={limit}" + (f"&cursor={cursor}" if cursor else "")
        r = client.get(page_url, headers=headers)
        assert r.status_code == 200, r.json
        seen += r.json["items"]
        pages += 1
        cursor = r.json["next_cursor"]
        if cursor is None:
            return seen, pages


def test_pages_cover_long_history_without_gaps_or_repeats_when_sent_at_ties(make, client, login):
    member = make.member()
    ids = []
    for i in range(250):
        # groups of five share one sent_at: the id breaks the tie
        msg = make.message(member, sent_at=T0 + dt.timedelta(minutes=i // 5), commit=False)
        ids.append(msg)
    make.session.commit()
    expected = [m.id for m in sorted(ids, key=lambda m: (m.sent_at, m.id), reverse=True)]

    items, pages = _all_pages(client, login(member), "/api/v1/messages?status=unread", 20)

    assert [i["id"] for i in items] == expected
    assert pages == 13


def test_list_shows_newest_first_in_shanghai_time_when_listing(make, client, login):
    member = make.member()
    make.message(member, business_name="早的", sent_at=T0)
    make.message(member, business_name="晚的", sent_at=T0 + dt.timedelta(hours=1))

    r = client.get("/api/v1/messages?status=unread", headers=login(member))

    assert [i["business_name"] for i in r.json["items"]] == ["晚的", "早的"]
    assert r.json["items"][1]["sent_at"] == "2026-03-01T10:00:00+08:00"
    assert r.json["next_cursor"] is None


def test_detail_shows_name_content_channel_and_time_when_viewed(make, client, login):
    member = make.member()
    application = make.application(member)
    msg = make.message(
        member, business_name="提取到账", content="您的提取款已支付。", application=application
    )

    r = client.get(f"/api/v1/messages/{msg.id}", headers=login(member))

    assert r.status_code == 200
    body = r.json
    assert body["business_name"] == "提取到账"
    assert body["content"] == "您的提取款已支付。"
    assert body["source_channel"] == "核心业务系统"
    assert body["sent_at"].endswith("+08:00")
    assert body["read"] is False
    assert body["application"]["application_no"] == application.application_no
    assert body["application"]["status_name"] == "办理中"


def test_message_moves_to_read_list_when_marked_read(make, client, login):
    member = make.member()
    msg = make.message(member)
    headers = login(member)

    r = client.post(f"/api/v1/messages/{msg.id}/read", headers=headers)

    assert r.status_code == 200
    assert r.json["message"] == "已标记为已阅"
    assert r.json["item"]["read"] is True
    unread = client.get("/api/v1/messages?status=unread", headers=headers).json["items"]
    read = client.get("/api/v1/messages?status=read", headers=headers).json["items"]
    assert unread == []
    assert [i["id"] for i in read] == [msg.id]
    again = client.post(f"/api/v1/messages/{msg.id}/read", headers=headers)
    assert again.status_code == 200 and again.json["item"]["read_at"] == r.json["item"]["read_at"]


def test_message_gone_from_every_list_when_deleted(make, client, login):
    member = make.member()
    unread = make.message(member)
    read = make.message(member, read=True)
    headers = login(member)

    for msg in (unread, read):
        r = client.delete(f"/api/v1/messages/{msg.id}", headers=headers)
        assert r.status_code == 204
        assert r.data == b""

    for status in ("unread", "read"):
        r = client.get(f"/api/v1/messages?status={status}", headers=headers)
        assert r.json["items"] == []
    assert client.get("/api/v1/messages", headers=headers).json["items"] == []
    assert client.get(f"/api/v1/messages/{unread.id}", headers=headers).status_code == 404
    assert client.delete(f"/api/v1/messages/{unread.id}", headers=headers).status_code == 404
    # soft: the row stays for the record
    make.session.expire_all()
    assert make.session.get(Message, unread.id).deleted_at is not None


def test_list_without_status_shows_read_and_unread_when_omitted(make, client, login):
    member = make.member()
    a = make.message(member, sent_at=T0)
    b = make.message(member, sent_at=T0 + dt.timedelta(seconds=1), read=True)
    make.message(member, deleted=True)
    make.message(member, kind="todo")

    r = client.get("/api/v1/messages", headers=login(member))

    assert [i["id"] for i in r.json["items"]] == [b.id, a.id]


def test_unread_count_follows_reads_and_deletes_when_state_moves(make, client, login):
    member = make.member()
    msgs = [make.message(member) for _ in range(3)]
    make.message(member, read=True)
    make.message(member, kind="todo")
    make.message(member, kind="todo", done=True)
    headers = login(member)

    def count():
        return client.get("/api/v1/messages/unread-count", headers=headers).json

    assert count() == {"unread_count": 3, "open_todo_count": 1}
    client.post(f"/api/v1/messages/{msgs[0].id}/read", headers=headers)
    client.delete(f"/api/v1/messages/{msgs[1].id}", headers=headers)
    assert count()["unread_count"] == 1
    r = client.post("/api/v1/messages/read-all", headers=headers)
    assert r.status_code == 200 and r.json["count"] == 1
    assert count()["unread_count"] == 0


def test_read_all_leaves_other_members_alone_when_called(make, client, login):
    me, other = make.member(), make.member()
    make.message(me)
    theirs = make.message(other)

    client.post("/api/v1/messages/read-all", headers=login(me))

    make.session.expire_all()
    assert make.session.get(Message, theirs.id).read_at is None


def test_todo_detail_says_what_by_when_and_which_application_when_viewed(make, client, login):
    member = make.member()
    application = make.application(member, kind="loan", amount="400000.00")
    due = dt.datetime(2026, 3, 10, 9, 30, tzinfo=dt.UTC)
    todo = make.message(
        member,
        kind="todo",
        business_name="补充材料",
        content="请补充上传购房合同。",
        due_at=due,
        application=application,
    )

    r = client.get(f"/api/v1/todos/{todo.id}", headers=login(member))

    assert r.status_code == 200
    assert r.json["business_name"] == "补充材料"
    assert r.json["due_at"] == "2026-03-10T17:30:00+08:00"
    assert r.json["done"] is False
    assert r.json["application"]["application_no"] == application.application_no
    assert r.json["application"]["kind_name"] == "贷款申请"


def test_todo_list_filters_open_and_done_when_status_given(make, client, login):
    member = make.member()
    open_todo = make.message(member, kind="todo")
    done_todo = make.message(member, kind="todo", done=True)
    make.message(member)
    headers = login(member)

    assert [
        i["id"] for i in client.get("/api/v1/todos?status=open", headers=headers).json["items"]
    ] == [open_todo.id]
    assert [
        i["id"] for i in client.get("/api/v1/todos?status=done", headers=headers).json["items"]
    ] == [done_todo.id]
    assert len(client.get("/api/v1/todos", headers=headers).json["items"]) == 2


def test_todo_is_not_a_message_when_fetched_through_messages(make, client, login):
    member = make.member()
    todo = make.message(member, kind="todo")
    msg = make.message(member)
    headers = login(member)

    assert client.get(f"/api/v1/messages/{todo.id}", headers=headers).status_code == 404
    assert client.get(f"/api/v1/todos/{msg.id}", headers=headers).status_code == 404


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/api/v1/messages/{m}"),
        ("POST", "/api/v1/messages/{m}/read"),
        ("DELETE", "/api/v1/messages/{m}"),
        ("GET", "/api/v1/todos/{t}"),
        ("GET", "/api/v1/applications/{a}"),
    ],
)
def test_other_members_item_answers_404_when_requested_by_id(make, client, login, method, path):
    owner, intruder = make.member(), make.member()
    ids = {
        "m": make.message(owner).id,
        "t": make.message(owner, kind="todo").id,
        "a": make.application(owner).id,
    }

    r = client.open(path.format(**ids), method=method, headers=login(intruder))

    assert r.status_code == 404
    assert r.json["error_code"].endswith("not_found")
    make.session.expire_all()
    assert make.session.get(Message, ids["m"]).read_at is None
    assert make.session.get(Message, ids["m"]).deleted_at is None


def test_lists_show_only_own_items_when_another_member_has_some(make, client, login):
    me, other = make.member(), make.member()
    mine = make.message(me)
    make.message(other)
    make.message(other, kind="todo")
    make.application(other)
    headers = login(me)

    assert [i["id"] for i in client.get("/api/v1/messages", headers=headers).json["items"]] == [
        mine.id
    ]
    assert client.get("/api/v1/todos", headers=headers).json["items"] == []
    assert client.get("/api/v1/applications", headers=headers).json["items"] == []


def test_inbox_refuses_anonymous_when_no_token(client):
    for path in ("/api/v1/messages", "/api/v1/messages/unread-count", "/api/v1/todos"):
        r = client.get(path)
        assert r.status_code == 401
        assert r.json["error_code"] == "auth.missing_token"


def test_list_answers_422_when_status_or_cursor_is_bad(make, client, login):
    headers = login(make.member())

    bad_status = client.get("/api/v1/messages?status=archived", headers=headers)
    bad_cursor = client.get("/api/v1/messages?cursor=not-a-cursor", headers=headers)

    assert bad_status.status_code == 422 and "status" in bad_status.json["errors"]
    assert bad_cursor.status_code == 422
    assert bad_cursor.json["error_code"] == "pagination.invalid_cursor"


def test_openapi_describes_deleted_notice_when_served(client):
    spec = client.get("/openapi.json").json
    delete = spec["paths"]["/api/v1/messages/{message_id}"]["delete"]
    assert "消息已删除" in delete["responses"]["204"]["description"]
    assert "消息已删除" in delete["description"]


def test_message_list_items_answer_as_the_detail_does_when_linked_or_not(make, client, login):
    member = make.member()
    application = make.application(member)
    linked = make.message(member, business_name="提取到账", application=application)
    plain = make.message(member, business_name="结息")
    headers = login(member)

    r = client.get("/api/v1/messages?limit=20", headers=headers)

    assert r.status_code == 200
    items = {item["id"]: item for item in r.json["items"]}
    for message in (linked, plain):
        detail = client.get(f"/api/v1/messages/{message.id}", headers=headers).json
        assert items[message.id] == detail
    assert items[linked.id]["application"]["kind_name"] == application.kind_name
    assert items[linked.id]["application"]["status_name"] == "办理中"
    assert items[plain.id]["application"] is None
