import http.client
import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import fakeredis
import pytest
import requests

from adapters.alipay import AlipayClient, AlipayConfig
from adapters.errors import ConsentRequiredError, RateLimitedError
from adapters.wechat import WeChatConfig, WeChatMiniClient

REPO = Path(__file__).resolve().parents[2]


def _post(url, body):
    response = requests.post(url, json=body, timeout=2)
    assert response.status_code == 200, response.text
    return response.json()


def test_alipay_admin_api_drives_login_and_push_when_used_over_http(alipay_fake, alipay):
    admin = alipay_fake.url + "/__admin/"
    _post(
        admin + "users",
        {
            "users": [
                {
                    "user_id": "2088000000000002",
                    "open_id": "open-2",
                    "name": "李四",
                    "cert_no": "110101198001010012",
                    "mobile": "13700000000",
                }
            ]
        },
    )
    code = _post(admin + "auth-codes", {"user_id": "2088000000000002"})["auth_code"]
    assert alipay.exchange_auth_code(code).open_id == "open-2"
    assert (
        _post(admin + "consents", {"user_id": "2088000000000002", "template_id": "t1"})["remaining"]
        == 1
    )
    alipay.send_subscription("open-2", "t1", {"keyword1": "v"})
    messages = requests.get(admin + "messages", timeout=2).json()["messages"]
    assert messages[-1]["template_id"] == "t1" and messages[-1]["user_id"] == "2088000000000002"
    _post(
        admin + "errors", {"method": "alipay.open.app.mini.templatemessage.send", "code": "20000"}
    )
    with pytest.raises(Exception) as exc:
        alipay.send_subscription("open-2", "t1", {"keyword1": "v"})
    assert getattr(exc.value, "code", None) == "20000"
    payload = _post(
        admin + "phone-payloads", {"user_id": "2088000000000002", "app_id": "2021000000000001"}
    )["payload"]
    assert alipay.decrypt_phone(payload).mobile == "13700000000"


def test_alipay_admin_api_answers_400_when_user_is_invalid(alipay_fake):
    response = requests.post(alipay_fake.url + "/__admin/users", json={"user_id": "123"}, timeout=2)
    assert response.status_code == 400


def test_wechat_admin_api_drives_login_and_push_when_used_over_http(wechat_fake, wechat):
    admin = wechat_fake.url + "/__admin/"
    _post(admin + "users", {"openid": "o-2", "phone": "13600000000"})
    js_code = _post(admin + "js-codes", {"openid": "o-2"})["js_code"]
    assert wechat.code_to_session(js_code).openid == "o-2"
    phone_code = _post(admin + "phone-codes", {"openid": "o-2"})["code"]
    assert wechat.get_phone_number(phone_code).pure_phone_number == "13600000000"
    _post(admin + "consents", {"openid": "o-2", "template_id": "t1", "count": 1})
    wechat.send_subscription("o-2", "t1", {"thing1": "v"})
    with pytest.raises(ConsentRequiredError):
        wechat.send_subscription("o-2", "t1", {"thing1": "v"})
    assert len(requests.get(admin + "messages", timeout=2).json()["messages"]) == 1
    _post(admin + "consents", {"openid": "o-2", "template_id": "t1"})
    _post(admin + "errors", {"path": "/cgi-bin/message/subscribe/send", "errcode": 45009})
    with pytest.raises(RateLimitedError):
        wechat.send_subscription("o-2", "t1", {"thing1": "v"})


def test_cli_serves_both_fakes_with_state_when_started(tmp_path):
    state = {
        "alipay": {
            "users": [
                {
                    "user_id": "2088000000000009",
                    "open_id": "open-9",
                    "user_name": "王五",
                    "cert_no": "110101197001010019",
                    "mobile": "13500000000",
                }
            ]
        },
        "wechat": {
            "users": [{"openid": "o-9", "phone": "13400000000"}],
            "consents": [{"openid": "o-9", "template_id": "t9", "count": 1}],
        },
    }
    state_file = tmp_path / "state.json"
    state_file.write_text(json.dumps(state))
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "adapters.fakes",
            "serve",
            "--state",
            str(state_file),
            "--keys-dir",
            str(tmp_path / "keys"),
            "--info-file",
            str(tmp_path / "info.json"),
        ],
        stdout=subprocess.PIPE,
        env=env,
        text=True,
    )
    try:
        info = json.loads(proc.stdout.readline())
        assert json.loads((tmp_path / "info.json").read_text()) == info
        alipay = AlipayClient(
            AlipayConfig(
                app_id=info["alipay_app_id"],
                app_private_key=Path(info["app_private_key"]).read_text(),
                alipay_public_key=Path(info["gateway_public_key"]).read_text(),
                server_url=info["alipay_gateway_url"],
                aes_key=Path(info["aes_key"]).read_text().strip(),
                timeout=10.0,
            )
        )
        code = requests.post(
            info["alipay_admin_url"] + "auth-codes",
            json={"user_id": "2088000000000009"},
            timeout=10,
        ).json()["auth_code"]
        token = alipay.exchange_auth_code(code)
        assert alipay.user_info(token.access_token).user_name == "王五"
        wechat = WeChatMiniClient(
            WeChatConfig(
                appid=info["wechat_appid"],
                secret="fake-wechat-secret",
                base_url=info["wechat_base_url"],
            ),
            fakeredis.FakeRedis(),
        )
        assert wechat.send_subscription("o-9", "t9", {"thing1": "v"}).message_id
    finally:
        proc.terminate()
        assert proc.wait(timeout=20) == 0
        proc.stdout.close()


class _RecordingSocket(socket.socket):
    """The fake's side of a connection, recording what the server does with it."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.writes = 0
        self.options = []

    def send(self, data, *args):
        self.writes += 1
        return super().send(data, *args)

    def sendall(self, data, *args):
        self.writes += 1
        return super().sendall(data, *args)

    def setsockopt(self, level, option, value, *args):
        self.options.append((level, option, value))
        return super().setsockopt(level, option, value, *args)


def test_fake_answers_each_keep_alive_request_in_one_write_without_nagle_when_serving(
    wechat_fake,
):
    httpd = wechat_fake._httpd
    accepted = []

    def get_request():
        conn, address = httpd.socket.accept()
        wrapped = _RecordingSocket(fileno=conn.detach())
        accepted.append(wrapped)
        return wrapped, address

    httpd.get_request = get_request
    conn = http.client.HTTPConnection("127.0.0.1", httpd.server_address[1], timeout=5)
    for _ in range(3):
        conn.request("GET", "/__admin/messages")
        response = conn.getresponse()
        assert response.status == 200 and json.loads(response.read()) == {"messages": []}
    conn.close()
    (server_side,) = accepted
    assert server_side.writes == 3  # status line, headers and body together, once per reply
    assert (socket.IPPROTO_TCP, socket.TCP_NODELAY, True) in server_side.options
