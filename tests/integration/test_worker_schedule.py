"""The worker's beat runs the announcement fan-out and the appointment reminders."""

from __future__ import annotations

from sqlalchemy import select

from backend.inbox.models import Message
from backend.worker import ANNOUNCEMENTS_TASK, REMINDERS_TASK, make_celery
from tests.api.test_announcements_api import _publish, _wechat_member
from tests.api.test_appointments_api import _book, _configure


def test_beat_schedules_fanout_and_reminders_when_worker_built(runtime):
    app = make_celery(runtime.settings.with_(broker_url="memory://"))
    tasks = {entry["task"] for entry in app.conf.beat_schedule.values()}
    assert {ANNOUNCEMENTS_TASK, REMINDERS_TASK} <= tasks


def test_worker_tasks_push_due_announcement_and_remind_tomorrows_booking(
    runtime, make, client, login, session, clock
):
    import datetime as dt

    pushed = _wechat_member(make, password="abc12345")
    _publish(make, client, published_at="2026-11-26T12:00:00")  # later today: not yet
    [slot] = _configure(make, client)
    _book(client, login(pushed), slot["id"])
    app = make_celery(runtime.settings.with_(broker_url="memory://"), runtime)
    clock.set(dt.datetime(2026, 11, 26, 4, 0, tzinfo=dt.UTC))  # 12:00 Beijing time

    assert app.tasks[ANNOUNCEMENTS_TASK]() == 1
    assert app.tasks[REMINDERS_TASK]() == 1

    session.expire_all()
    kinds = sorted((m.kind, m.business_type) for m in session.scalars(select(Message)))
    assert kinds == [("message", "appointment"), ("notice", "announcement")]
