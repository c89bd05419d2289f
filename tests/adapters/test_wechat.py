import logging
import time

import fakeredis
import pytest

from adapters.errors import (
    AccessTokenError,
    ConsentRequiredError,
    InvalidCodeError,
    PermanentChannelError,
    RateLimitedError,
    TransportError,
)
from adapters.wechat.client import TOKEN_KEY_PREFIX

OPENID = "o-wx-0001"
TEMPLATE = "tmpl-wx-1"
SEND = "/cgi-bin/message/subscribe/send"


def test_code_to_session_returns_openid_without_token_when_code_is_fresh(wechat, wechat_fake):
    session = wechat.code_to_session(wechat_fake.mint_js_code(OPENID))
    assert session.openid == OPENID
    assert session.unionid == "u-wx-0001"
    assert session.session_key and session.session_key not in repr(session)
    assert wechat_fake.calls.get("/cgi-bin/stable_token", 0) == 0
    assert wechat_fake.calls.get("/cgi-bin/token", 0) == 0


def test_code_to_session_raises_invalid_code_when_code_is_reused(wechat, wechat_fake):
    code = wechat_fake.mint_js_code(OPENID)
    wechat.code_to_session(code)
    with pytest.raises(InvalidCodeError) as exc:
        wechat.code_to_session(code)
    assert exc.value.code == "40163"
    with pytest.raises(InvalidCodeError) as exc:
        wechat.code_to_session("never-issued")
    assert exc.value.code == "40029"


def test_code_to_session_refuses_code_when_older_than_five_minutes(wechat, wechat_fake):
    code = wechat_fake.mint_js_code(OPENID)
    wechat_fake.clock = lambda: time.time() + 301
    with pytest.raises(InvalidCodeError):
        wechat.code_to_session(code)


def test_phone_number_is_returned_once_when_phone_code_is_valid(wechat, wechat_fake):
    code = wechat_fake.mint_phone_code(OPENID)
    phone = wechat.get_phone_number(code)
    assert (phone.pure_phone_number, phone.country_code) == ("13987654321", "86")
    assert "13987654321" not in repr(phone)
    with pytest.raises(InvalidCodeError):
        wechat.get_phone_number(code)


def test_phone_code_is_refused_when_expired(wechat, wechat_fake):
    code = wechat_fake.mint_phone_code(OPENID)
    wechat_fake.clock = lambda: time.time() + 301
    with pytest.raises(InvalidCodeError):
        wechat.get_phone_number(code)


class ExpiryRecorder:
    """The Redis client, writing down the expiry each SET asks for (what Redis counts down from)."""

    def __init__(self, redis):
        self._redis = redis
        self.expiries = {}

    def set(self, name, value, ex=None, **kwargs):
        self.expiries[name] = ex
        return self._redis.set(name, value, ex=ex, **kwargs)

    def __getattr__(self, name):
        return getattr(self._redis, name)


def test_token_is_fetched_once_and_shared_when_two_clients_use_one_redis(
    wechat_fake, redis_client, make_wechat
):
    wechat_fake.clock = lambda: 1_700_000_000.0  # the fake's token answers expires_in=7200 exactly
    redis = ExpiryRecorder(redis_client)
    first = make_wechat(wechat_fake, redis)
    second = make_wechat(wechat_fake, redis)
    assert first.access_token == second.access_token
    assert wechat_fake.calls["/cgi-bin/stable_token"] == 1
    key = f"{TOKEN_KEY_PREFIX}:{first.appid}_access_token"
    assert redis.expiries == {key: 7200 - 300}  # cached 5 minutes short of WeChat's expiry
    assert redis_client.ttl(key) > 0
    wechat_fake.grant_consent(OPENID, TEMPLATE, count=2)
    first.send_subscription(OPENID, TEMPLATE, {"thing1": "a"})
    second.send_subscription(OPENID, TEMPLATE, {"thing1": "b"})
    assert wechat_fake.calls["/cgi-bin/stable_token"] == 1


def test_token_is_not_shared_when_clients_use_separate_redis(wechat_fake, make_wechat):
    make_wechat(wechat_fake, fakeredis.FakeRedis()).access_token
    make_wechat(wechat_fake, fakeredis.FakeRedis()).access_token
    assert wechat_fake.calls["/cgi-bin/stable_token"] == 2


def test_send_refreshes_token_once_when_token_was_invalidated(wechat, wechat_fake):
    wechat_fake.grant_consent(OPENID, TEMPLATE)
    old = wechat.access_token
    wechat_fake.invalidate_tokens()
    result = wechat.send_subscription(OPENID, TEMPLATE, {"thing1": "到账"})
    assert result.message_id
    assert wechat.access_token != old
    assert wechat_fake.calls[SEND] == 2


def test_send_raises_token_error_when_platform_keeps_rejecting_token(wechat, wechat_fake):
    wechat_fake.grant_consent(OPENID, TEMPLATE)
    wechat_fake.inject_error(SEND, errcode=40001, times=5)
    with pytest.raises(AccessTokenError) as exc:
        wechat.send_subscription(OPENID, TEMPLATE, {"thing1": "x"})
    assert exc.value.code == "40001" and exc.value.retryable
    assert wechat_fake.calls[SEND] == 2  # one retry, no more
    assert wechat_fake.remaining_consent(OPENID, TEMPLATE) == 1


def test_send_refreshes_token_when_it_expired(wechat_fake, redis_client, make_wechat):
    client = make_wechat(wechat_fake, redis_client)
    wechat_fake.grant_consent(OPENID, TEMPLATE)
    client.access_token
    wechat_fake.clock = lambda: time.time() + 7201  # Redis TTL not yet over: token still cached
    client.send_subscription(OPENID, TEMPLATE, {"thing1": "x"})
    assert wechat_fake.calls["/cgi-bin/stable_token"] == 2


def test_classic_token_call_knocks_out_the_previous_token_when_called_again(wechat_fake):
    import requests

    params = {"grant_type": "client_credential", "appid": "wxtest0000000001", "secret": "wx-secret"}
    first = requests.get(wechat_fake.url + "/cgi-bin/token", params=params, timeout=2).json()[
        "access_token"
    ]
    requests.get(wechat_fake.url + "/cgi-bin/token", params=params, timeout=2)
    wechat_fake.grant_consent(OPENID, TEMPLATE)
    reply = requests.post(
        wechat_fake.url + SEND,
        params={"access_token": first},
        json={"touser": OPENID, "template_id": TEMPLATE, "data": {"k": {"value": "v"}}},
        timeout=2,
    ).json()
    assert reply["errcode"] == 40001


def test_one_time_consent_is_spent_per_send_when_messages_go_out(wechat, wechat_fake):
    wechat_fake.grant_consent(OPENID, TEMPLATE, count=2)
    wechat.send_subscription(OPENID, TEMPLATE, {"thing1": "一"}, page="pages/inbox/detail?id=7")
    assert wechat_fake.remaining_consent(OPENID, TEMPLATE) == 1
    wechat.send_subscription(OPENID, TEMPLATE, {"thing1": "二"})
    with pytest.raises(ConsentRequiredError) as exc:
        wechat.send_subscription(OPENID, TEMPLATE, {"thing1": "三"})
    assert exc.value.code == "43101" and not exc.value.retryable
    sent = wechat_fake.sent_messages
    assert [m["data"]["thing1"] for m in sent] == ["一", "二"]
    assert sent[0]["page"] == "pages/inbox/detail?id=7"
    assert (sent[0]["miniprogram_state"], sent[0]["lang"]) == ("formal", "zh_CN")


def test_longterm_consent_does_not_run_out_when_sending_repeatedly(wechat, wechat_fake):
    wechat_fake.grant_consent(OPENID, TEMPLATE, longterm=True)
    for _ in range(3):
        wechat.send_subscription(OPENID, TEMPLATE, {"thing1": "x"})
    assert len(wechat_fake.sent_messages) == 3


def test_send_uses_configured_state_when_client_is_for_trial_build(
    wechat_fake, redis_client, make_wechat
):
    client = make_wechat(wechat_fake, redis_client, miniprogram_state="trial", lang="en_US")
    wechat_fake.grant_consent(OPENID, TEMPLATE)
    client.send_subscription(OPENID, TEMPLATE, {"thing1": "x"})
    assert wechat_fake.sent_messages[0]["miniprogram_state"] == "trial"
    assert wechat_fake.sent_messages[0]["lang"] == "en_US"


@pytest.mark.parametrize("errcode", [40003, 40037, 47003, 41030])
def test_send_error_is_permanent_when_platform_answers(errcode, wechat, wechat_fake):
    wechat_fake.inject_error(SEND, errcode=errcode)
    with pytest.raises(PermanentChannelError) as exc:
        wechat.send_subscription(OPENID, TEMPLATE, {"thing1": "x"})
    assert exc.value.code == str(errcode) and not exc.value.retryable


def test_send_is_refused_with_real_codes_when_request_is_wrong(wechat, wechat_fake):
    wechat_fake.add_template(TEMPLATE, ["thing1"])
    wechat_fake.grant_consent(OPENID, TEMPLATE)
    wechat_fake.pages.add("pages/inbox/detail")
    cases = [
        (("o-unknown", TEMPLATE, {"thing1": "x"}, None), "40003"),
        ((OPENID, "tmpl-unknown", {"thing1": "x"}, None), "40037"),
        ((OPENID, TEMPLATE, {"other": "x"}, None), "47003"),
        ((OPENID, TEMPLATE, {"thing1": "x"}, "pages/nowhere"), "41030"),
    ]
    for args, code in cases:
        with pytest.raises(PermanentChannelError) as exc:
            wechat.send_subscription(*args)
        assert exc.value.code == code
    assert wechat_fake.remaining_consent(OPENID, TEMPLATE) == 1


@pytest.mark.parametrize("errcode", [45009, 45011])
def test_send_error_is_rate_limited_when_platform_answers(errcode, wechat, wechat_fake):
    wechat_fake.inject_error(SEND, errcode=errcode)
    with pytest.raises(RateLimitedError) as exc:
        wechat.send_subscription(OPENID, TEMPLATE, {"thing1": "x"})
    assert exc.value.retryable


@pytest.mark.parametrize("status", [500, 502, 503])
def test_error_is_retryable_when_api_answers_http(status, wechat, wechat_fake):
    wechat_fake.inject_error(SEND, status=status)
    with pytest.raises(TransportError) as exc:
        wechat.send_subscription(OPENID, TEMPLATE, {"thing1": "x"})
    assert exc.value.code == f"http-{status}" and exc.value.retryable


def test_timeout_is_honoured_when_api_never_answers(wechat_fake, redis_client, make_wechat):
    client = make_wechat(wechat_fake, redis_client, timeout=0.3)
    wechat_fake.inject_error("/sns/jscode2session", hang=True)
    with pytest.raises(TransportError) as exc:
        client.code_to_session(wechat_fake.mint_js_code(OPENID))
    assert exc.value.code == "timeout" and exc.value.retryable


def test_concurrent_send_43108_is_retryable_and_leaves_consent(wechat, wechat_fake):
    wechat_fake.grant_consent(OPENID, TEMPLATE, count=1)
    wechat_fake.inject_error(SEND, errcode=43108, errmsg="concurrent limit")
    with pytest.raises(RateLimitedError) as exc:
        wechat.send_subscription(OPENID, TEMPLATE, {"thing1": "x"})
    assert exc.value.code == "43108" and exc.value.retryable and exc.value.consent_unused
    assert wechat_fake.remaining_consent(OPENID, TEMPLATE) == 1


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("thing1", "一二三四五六七八九十一二三四五六七八九十一"),  # 21 > 20
        ("phrase2", "正在审核中了"),  # 6 > 5
        ("phrase2", "ok"),  # Chinese only
        ("character_string3", "合同JK1401"),  # no Chinese
        ("character_string3", "A" * 33),
        ("number4", "12a"),
        ("amount5", "一千元"),
        ("time6", "明天"),
        ("date7", "30/11"),
        ("name8", "张三李四王五赵六钱七孙"),  # 11 Chinese > 10
        ("letter9", "abc1"),
        ("symbol10", "!!!!!!"),
        ("phone_number11", "tel 12345"),
        ("car_number12", "粤A8Z888挂XY"),
    ],
)
def test_send_is_refused_with_47003_when_value_breaks_its_keyword_rule(
    key, value, wechat, wechat_fake
):
    wechat_fake.grant_consent(OPENID, TEMPLATE, count=1)
    with pytest.raises(PermanentChannelError) as exc:
        wechat.send_subscription(OPENID, TEMPLATE, {key: value})
    assert exc.value.code == "47003" and f"data.{key}.value invalid" in exc.value.message
    assert exc.value.consent_unused
    assert wechat_fake.remaining_consent(OPENID, TEMPLATE) == 1


def test_send_is_accepted_when_values_follow_their_keyword_rules(wechat, wechat_fake):
    wechat_fake.grant_consent(OPENID, TEMPLATE, count=1)
    data = {
        "thing1": "一二三四五六七八九十一二三四五六七八九十",
        "phrase2": "审核中",
        "character_string3": "JK140120210000005",
        "number4": "12.5",
        "amount5": "¥655.22",
        "time6": "2026年11月30日 15:01",
        "date7": "2026年11月30日",
        "name8": "张三",
        "letter9": "abc",
        "symbol10": "%",
        "phone_number11": "+86-0351-12345678",
        "car_number12": "晋A8Z888",
    }
    wechat.send_subscription(OPENID, TEMPLATE, data)
    assert wechat_fake.sent_messages[-1]["data"] == data


def test_connection_error_is_retryable_when_api_is_down(wechat, wechat_fake):
    wechat_fake.stop()
    with pytest.raises(TransportError) as exc:
        wechat.code_to_session("x")
    assert exc.value.code == "connection"


def test_stable_token_error_is_permanent_when_secret_is_wrong(
    wechat_fake, redis_client, make_wechat
):
    client = make_wechat(wechat_fake, redis_client, secret="wrong")
    with pytest.raises(PermanentChannelError) as exc:
        client.get_phone_number("x")
    assert exc.value.code == "40125"


def test_callback_signature_verifies_when_token_matches():
    import hashlib

    from adapters.wechat import WeChatConfig, WeChatMiniClient

    client = WeChatMiniClient(
        WeChatConfig(appid="a", secret="s", callback_token="cb-token"), fakeredis.FakeRedis()
    )
    signature = hashlib.sha1(
        "".join(sorted(["cb-token", "1700000000", "nonce1"])).encode()
    ).hexdigest()
    assert client.verify_callback(signature, "1700000000", "nonce1")
    assert not client.verify_callback(signature, "1700000001", "nonce1")


def test_debug_logs_carry_no_secret_when_calls_go_out(
    caplog, wechat_fake, redis_client, make_wechat
):
    client = make_wechat(wechat_fake, redis_client, secret="wx-secret")
    wechat_fake.grant_consent(OPENID, TEMPLATE, count=1)
    with caplog.at_level(logging.DEBUG):
        client.code_to_session(wechat_fake.mint_js_code(OPENID))
        client.send_subscription(OPENID, TEMPLATE, {"thing1": "x"})
        client.get_phone_number(wechat_fake.mint_phone_code(OPENID))
    token = redis_client.get(f"{TOKEN_KEY_PREFIX}:wxtest0000000001_access_token")
    assert token
    text = "\n".join(r.getMessage() for r in caplog.records)
    assert "urllib3" in {r.name.split(".")[0] for r in caplog.records}  # the request lines
    assert "secret=***" in text
    assert "wx-secret" not in text
    assert token.decode() not in text
    assert "13987654321" not in text


class Abort(Exception):
    pass


def test_send_calls_before_send_before_each_request_when_token_is_refreshed(wechat, wechat_fake):
    wechat_fake.grant_consent(OPENID, TEMPLATE)
    wechat.access_token  # noqa: B018 - a token in hand, so the first request is the send
    wechat_fake.invalidate_tokens()
    seen = []
    wechat.send_subscription(
        OPENID,
        TEMPLATE,
        {"thing1": "x"},
        before_send=lambda: seen.append(wechat_fake.calls.get(SEND, 0)),
    )
    assert seen == [0, 1]  # before the rejected request, and before the retry


def test_send_sends_nothing_when_before_send_raises(wechat, wechat_fake):
    wechat_fake.grant_consent(OPENID, TEMPLATE)

    def abort():
        raise Abort

    with pytest.raises(Abort):
        wechat.send_subscription(OPENID, TEMPLATE, {"thing1": "x"}, before_send=abort)
    assert wechat_fake.calls.get(SEND, 0) == 0
    assert wechat_fake.remaining_consent(OPENID, TEMPLATE) == 1


class GetCounter:
    """The Redis client, counting the GETs of the token key."""

    def __init__(self, redis):
        self._redis = redis
        self.gets = 0

    def get(self, name):
        self.gets += 1
        return self._redis.get(name)

    def __getattr__(self, name):
        return getattr(self._redis, name)


def test_token_is_read_from_redis_once_when_sends_follow_each_other(wechat_fake, redis_client):
    from adapters.wechat import WeChatConfig, WeChatMiniClient

    redis = GetCounter(redis_client)
    now = [1000.0]
    config = WeChatConfig(appid="wxtest0000000001", secret="wx-secret", base_url=wechat_fake.url)
    other = WeChatMiniClient(config, redis_client)
    other.access_token  # noqa: B018 - another process fetched it: it is in Redis
    client = WeChatMiniClient(config, redis, monotonic=lambda: now[0])
    wechat_fake.grant_consent(OPENID, TEMPLATE, count=3)
    client.send_subscription(OPENID, TEMPLATE, {"thing1": "a"})
    client.send_subscription(OPENID, TEMPLATE, {"thing1": "b"})
    assert redis.gets == 1
    key = f"{TOKEN_KEY_PREFIX}:{client.appid}_access_token"
    now[0] += redis_client.ttl(key) + 1  # the shared copy expired: read Redis again
    client.send_subscription(OPENID, TEMPLATE, {"thing1": "c"})
    assert redis.gets == 2
    assert wechat_fake.calls["/cgi-bin/stable_token"] == 1


def test_token_kept_in_process_is_replaced_when_another_process_refreshed_it(
    wechat_fake, redis_client, make_wechat
):
    first = make_wechat(wechat_fake, redis_client)
    second = make_wechat(wechat_fake, redis_client)
    wechat_fake.grant_consent(OPENID, TEMPLATE, count=3)
    first.send_subscription(OPENID, TEMPLATE, {"thing1": "a"})
    second.send_subscription(OPENID, TEMPLATE, {"thing1": "b"})
    wechat_fake.invalidate_tokens()
    first.send_subscription(OPENID, TEMPLATE, {"thing1": "c"})  # refreshes the shared token
    assert wechat_fake.calls["/cgi-bin/stable_token"] == 2
    wechat_fake.grant_consent(OPENID, TEMPLATE)
    second.send_subscription(OPENID, TEMPLATE, {"thing1": "d"})  # its copy is refused once
    assert second.access_token == first.access_token
    assert wechat_fake.calls["/cgi-bin/stable_token"] == 2
