"""我发起的 (manual 2.3): the member's applications, their status and nodes."""

import datetime as dt


def test_list_filters_by_kind_newest_first_when_kind_given(make, client, login, session):
    member = make.member()
    w2 = make.application(member, kind="withdrawal", amount="1200.50")
    w1 = make.application(member, kind="withdrawal")
    w1.submitted_at = dt.datetime(2026, 1, 5, tzinfo=dt.UTC)  # older, though its id is higher
    session.commit()
    make.application(member, kind="loan", amount="400000.00")
    headers = login(member)

    r = client.get("/api/v1/applications?kind=withdrawal", headers=headers)

    assert r.status_code == 200
    assert [i["id"] for i in r.json["items"]] == [w2.id, w1.id]
    first = r.json["items"][0]
    assert first["amount"] == "1200.50"
    assert first["kind_name"] == "提取"
    assert first["status"] == "processing" and first["status_name"] == "办理中"
    assert first["current_node"] == "受理"
    assert len(client.get("/api/v1/applications", headers=headers).json["items"]) == 3


def test_list_pages_through_all_when_more_than_a_page(make, client, login):
    member = make.member()
    made = [make.application(member) for _ in range(7)]
    headers = login(member)

    seen, cursor = [], None
    while True:
        url = "/api/v1/applications?limit=3" + (f"&cursor={cursor}" if cursor else "")
        body = client.get(url, headers=headers).json
        seen += [i["id"] for i in body["items"]]
        cursor = body["next_cursor"]
        if not cursor:
            break

    assert sorted(seen) == sorted(a.id for a in made)
    assert len(seen) == len(set(seen))


def test_detail_shows_every_node_with_opinion_handler_and_time_when_viewed(
    make, client, login, session
):
    member = make.member()
    application = make.application(member, kind="withdrawal", reason="rent", amount="3600.00")
    first = application.nodes[0]
    first.state, first.opinion, first.handler = "done", "材料齐全", "王五"
    first.acted_at = dt.datetime(2026, 3, 2, 1, 0, tzinfo=dt.UTC)
    application.nodes[1].state = "current"
    session.commit()

    r = client.get(f"/api/v1/applications/{application.id}", headers=login(member))

    assert r.status_code == 200
    body = r.json
    assert body["application_no"] == application.application_no
    assert body["reason"] == "rent" and body["amount"] == "3600.00"
    assert body["submitted_at"].endswith("+08:00") and body["completed_at"] is None
    nodes = body["nodes"]
    assert [n["name"] for n in nodes] == ["受理", "审核", "审批", "支付"]
    assert [n["state"] for n in nodes] == ["done", "current", "pending", "pending"]
    assert nodes[0] == {
        "seq": 0,
        "name": "受理",
        "state": "done",
        "state_name": "已完成",
        "opinion": "材料齐全",
        "handler": "王五",
        "acted_at": "2026-03-02T09:00:00+08:00",
    }
    assert body["current_node"] == "审核"


def test_list_answers_422_when_kind_unknown(make, client, login):
    r = client.get("/api/v1/applications?kind=pension", headers=login(make.member()))
    assert r.status_code == 422 and "kind" in r.json["errors"]


def test_unknown_application_answers_404_when_id_absent(make, client, login):
    r = client.get("/api/v1/applications/999999", headers=login(make.member()))
    assert r.status_code == 404 and r.json["error_code"] == "application.not_found"
