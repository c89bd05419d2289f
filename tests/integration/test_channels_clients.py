"""GJJ_CHANNELS=fake: the clients built from settings reach the fakes with the fakes' own keys."""

from __future__ import annotations

from urllib.parse import urlsplit

from adapters.fakes import FakeAlipayGateway, FakeWeChatApi
from backend.channels.clients import build_channel_clients, fake_key_paths


def test_fake_channel_clients_talk_to_fakes_when_channels_fake(settings, tmp_path, redis_client):
    settings = settings.with_(channels="fake", fakes_keys_dir=str(tmp_path / "keys"))
    paths = fake_key_paths(settings)  # what `python -m adapters.fakes serve --keys-dir` creates
    alipay = FakeAlipayGateway(gateway_private_key=paths["gateway_private_key"].read_text())
    alipay.register_app(
        settings.fakes_alipay_app_id,
        paths["app_public_key"].read_text(),
        paths["aes_key"].read_text().strip(),
    )
    user = alipay.add_user(
        {
            "user_id": "2088000000000077",
            "user_name": "周九",
            "cert_no": "x",
            "mobile": "13800000077",
        }
    )
    wechat = FakeWeChatApi()
    wechat.register_app(settings.fakes_wechat_app_id, settings.fakes_wechat_app_secret)
    wx_user = wechat.add_user({"openid": "o-77", "phone": "13800000077"})
    with alipay, wechat:
        settings = settings.with_(
            fakes_alipay_port=urlsplit(alipay.url).port,
            fakes_wechat_port=urlsplit(wechat.url).port,
        )
        clients = build_channel_clients(settings, redis_client)
        token = clients.alipay.exchange_auth_code(alipay.mint_auth_code(user.user_id))
        assert token.user_id == user.user_id
        assert clients.wechat.code_to_session(wechat.mint_js_code(wx_user.openid)).openid == "o-77"
    # The same key files serve again: created once, never replaced.
    assert (
        fake_key_paths(settings)["app_private_key"].read_text()
        == paths["app_private_key"].read_text()
    )


def test_preparing_the_fake_keys_again_leaves_the_files_alone_for_readers_meanwhile(tmp_path):
    """Every process building its channel clients prepares the keys: a file another process is
    reading must never be truncated and rewritten under it (it read an empty public key)."""
    from adapters.fakes.__main__ import prepare_keys

    first = prepare_keys(tmp_path)
    before = {name: (p.stat().st_ino, p.stat().st_mtime_ns) for name, p in first.items()}

    again = prepare_keys(tmp_path)

    assert {name: (p.stat().st_ino, p.stat().st_mtime_ns) for name, p in again.items()} == before
