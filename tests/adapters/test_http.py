import requests

from adapters.http import pinned_session


def test_pinned_session_keeps_environment_proxy_when_client_is_built(monkeypatch, tmp_path):
    bundle = tmp_path / "ca.pem"
    bundle.write_text("")
    monkeypatch.setenv("HTTPS_PROXY", "http://egress.example:3128")
    monkeypatch.setenv("NO_PROXY", "")
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(bundle))
    session = pinned_session("https://api.weixin.qq.com")
    monkeypatch.setenv("HTTPS_PROXY", "http://other.example:3128")  # read once, not per request
    assert session.trust_env is False
    assert session.proxies["https"] == "http://egress.example:3128"
    assert session.verify == str(bundle)


def test_pinned_session_has_no_proxy_when_host_is_excluded(monkeypatch):
    monkeypatch.setenv("HTTPS_PROXY", "http://egress.example:3128")
    monkeypatch.setenv("NO_PROXY", "api.weixin.qq.com")
    monkeypatch.delenv("REQUESTS_CA_BUNDLE", raising=False)
    monkeypatch.delenv("CURL_CA_BUNDLE", raising=False)
    session = pinned_session("https://api.weixin.qq.com")
    assert "https" not in session.proxies
    assert session.verify is True


def test_pinned_session_sends_through_proxy_when_one_was_set(monkeypatch, wechat_fake):
    # The proxy is the fake itself (it serves an absolute-form request line by its path): an
    # answer for a host that does not exist proves the request went through the proxy.
    monkeypatch.setenv("HTTP_PROXY", wechat_fake.url)
    monkeypatch.setenv("NO_PROXY", "")
    session = pinned_session("http://platform.invalid")
    monkeypatch.delenv("HTTP_PROXY")
    reply = session.get("http://platform.invalid/__admin/health", timeout=2)
    assert reply.json() == {"ok": True}
    assert isinstance(session, requests.Session)


def test_wechat_client_reads_environment_once_when_built(monkeypatch, wechat_fake, make_wechat):
    import fakeredis

    for name in ("NO_PROXY", "no_proxy", "HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
    client = make_wechat(wechat_fake, fakeredis.FakeRedis())
    monkeypatch.setenv("HTTP_PROXY", "http://egress.invalid:3128")  # would break every send
    wechat_fake.grant_consent("o-wx-0001", "tmpl-wx-1")
    assert client.send_subscription("o-wx-0001", "tmpl-wx-1", {"thing1": "x"}).message_id
