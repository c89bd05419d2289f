"""A real Celery worker on the machine's Redis delivers a message end to end to the WeChat fake.

Runs only in the real-service run (GJJ_REDIS_URL set): the broker is that Redis, on its own
database number and an own queue name.
"""

from __future__ import annotations

import os
import time
import uuid
from urllib.parse import urlsplit

import pytest
import redis as redis_lib
from celery.contrib.testing.worker import start_worker
from sqlalchemy import select

from backend.inbox.services import post_message
from backend.push.celery import CeleryDispatcher
from backend.push.models import PushDelivery
from backend.worker import make_celery, register_tasks
from tests.channels import wechat_user

REDIS_URL = os.environ.get("GJJ_REDIS_URL", "")
BROKER_DB = 9

pytestmark = pytest.mark.skipif(not REDIS_URL, reason="needs a real Redis (GJJ_REDIS_URL)")


@pytest.fixture
def broker_url():
    parts = urlsplit(REDIS_URL)
    url = f"redis://{parts.hostname}:{parts.port or 6379}/{BROKER_DB}"
    yield url
    client = redis_lib.Redis.from_url(url)
    # Kombu's bookkeeping keys have no TTL; this database number is the test's own.
    for key in client.scan_iter(match="_kombu.binding*"):
        client.delete(key)
    client.close()


def test_celery_worker_delivers_message_when_broker_is_real_redis(
    make_runtime, runtime, channels, wechat_fake, make, session, broker_url
):
    settings = runtime.settings.with_(push_mode="celery", broker_url=broker_url)
    celery_app = make_celery(settings)
    celery_app.conf.task_default_queue = f"gjj-test-{uuid.uuid4().hex[:8]}"
    # The process that commits sends through the same app (and queue) the worker consumes.
    runtime = make_runtime(
        settings=settings, channels=channels, dispatcher=CeleryDispatcher(celery_app)
    )
    register_tasks(celery_app, runtime)

    member = make.member()
    user = wechat_fake.add_user(wechat_user(phone=member.plain_phone))
    make.channel_identity(member, "wechat", user.openid)
    wechat_fake.grant_consent(user.openid, "gjj-wx-notice")
    make.consent(member, "wechat", "gjj-wx-notice")

    with start_worker(celery_app, concurrency=1, perform_ping_check=False, shutdown_timeout=10):
        with runtime.session() as s:
            message, _ = post_message(
                s, member_id=member.id, business_name="提取到账", content="您的提取款已到账"
            )
            s.commit()  # the after-commit hook sends the delivery id to the broker
            message_id = message.id
        status = "pending"
        for _ in range(300):  # waits for the worker; not a timing assertion
            session.expire_all()
            status = session.scalars(
                select(PushDelivery.status).where(PushDelivery.message_id == message_id)
            ).one()
            if status != "pending" and status != "sending":
                break
            time.sleep(0.1)
    assert status == "sent"
    assert [m["openid"] for m in wechat_fake.sent_messages] == [user.openid]
    assert wechat_fake.sent_messages[0]["data"]["thing1"] == "提取到账"
