"""``Settings.validate()`` refuses every production configuration that cannot work (issue 14):
one line per problem, every problem at once; the development defaults stay as easy as today."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest

from backend.settings import Settings, SettingsError


def _key(fill: bytes) -> str:
    return base64.urlsafe_b64encode(fill * 32).decode()


# A production configuration that passes: every test below breaks exactly one thing.
GOOD = {
    "GJJ_ENV": "production",
    "GJJ_PII_KEY": _key(b"p"),
    "GJJ_LOOKUP_KEY": _key(b"l"),
    "GJJ_DATABASE_URL": "postgresql://gjj@db.internal:5432/gjj",
    "GJJ_REDIS_URL": "redis://redis.internal:6379/0",
    "GJJ_PUSH_MODE": "celery",
    "GJJ_INTERNAL_KEYS": "core:a-long-shared-secret",
    "GJJ_SMS_BACKEND": "dysms",
    "GJJ_DYSMS_ACCESS_KEY_ID": "LTAI-id",
    "GJJ_DYSMS_ACCESS_KEY_SECRET": "dysms-secret",
    "GJJ_DYSMS_SIGN_NAME": "示范市公积金",
    "GJJ_DYSMS_TEMPLATE_CODE": "SMS_1",
    "GJJ_CHANNELS": "real",
    "GJJ_PUBLIC_BASE_URL": "https://gjj.example.gov.cn",
    "GJJ_INSTANCE_DIR": "/var/lib/gjj",
}

ALIPAY = {
    "GJJ_ALIPAY_APP_ID": "2021009900000001",
    "GJJ_ALIPAY_PRIVATE_KEY": "/etc/gjj/alipay-app.pem",
    "GJJ_ALIPAY_PUBLIC_KEY": "/etc/gjj/alipay-public.pem",
    "GJJ_ALIPAY_AES_KEY": "aes-key-base64",
    "GJJ_ALIPAY_CERTIFY_RETURN_URL": "alipays://platformapi/startapp?appId=2021009900000001",
}
WECHAT = {"GJJ_WECHAT_APP_ID": "wx0123456789", "GJJ_WECHAT_APP_SECRET": "wechat-secret"}


def refusal(**changes: str | None) -> str:
    env = {**GOOD, **{k: v for k, v in changes.items() if v is not None}}
    for name, value in changes.items():
        if value is None:
            env.pop(name, None)
    with pytest.raises(SettingsError) as err:
        Settings.from_env(env)
    return str(err.value)


def test_production_settings_accepted_when_complete():
    settings = Settings.from_env({**GOOD, **ALIPAY, **WECHAT})
    assert settings.production


def test_development_defaults_accepted_when_nothing_is_set():
    settings = Settings.from_env({})
    assert settings.env == "development"
    assert settings.sms_backend == "log" and settings.push_mode == "inline"


@pytest.mark.parametrize("backend", ["log", "file"])
def test_production_refused_when_sms_codes_are_never_sent(backend, tmp_path):
    message = refusal(GJJ_SMS_BACKEND=backend, GJJ_SMS_OUTBOX=str(tmp_path / "outbox.jsonl"))
    assert f"GJJ_SMS_BACKEND={backend}" in message


def test_production_refused_when_dysms_lacks_credentials():
    assert "GJJ_DYSMS_ACCESS_KEY_SECRET" in refusal(GJJ_DYSMS_ACCESS_KEY_SECRET=None)


def test_production_refused_when_redis_url_missing():
    assert "GJJ_REDIS_URL" in refusal(GJJ_REDIS_URL=None)


def test_production_refused_when_pushes_are_inline():
    assert "GJJ_PUSH_MODE=inline" in refusal(GJJ_PUSH_MODE="inline")


def test_production_refused_when_internal_keys_missing():
    assert "GJJ_INTERNAL_KEYS" in refusal(GJJ_INTERNAL_KEYS=None)


@pytest.mark.parametrize("missing", sorted(ALIPAY.keys() - {"GJJ_ALIPAY_CERTIFY_RETURN_URL"}))
def test_production_refused_when_alipay_half_configured(missing):
    env = {**ALIPAY}
    del env[missing]
    message = refusal(**env)
    assert "Alipay" in message and missing in message


def test_production_refused_when_wechat_half_configured():
    message = refusal(GJJ_WECHAT_APP_ID="wx0123456789")
    assert "WeChat" in message and "GJJ_WECHAT_APP_SECRET" in message


def test_production_refused_when_alipay_certify_return_url_is_the_default():
    env = {k: v for k, v in ALIPAY.items() if k != "GJJ_ALIPAY_CERTIFY_RETURN_URL"}
    message = refusal(**env)
    assert "GJJ_ALIPAY_CERTIFY_RETURN_URL" in message


def test_production_refused_when_public_base_url_is_the_default():
    assert "GJJ_PUBLIC_BASE_URL" in refusal(GJJ_PUBLIC_BASE_URL=None)


@pytest.mark.parametrize("url", [None, "sqlite:////var/lib/gjj/gjj.sqlite3"])
def test_production_refused_when_database_is_sqlite(url):
    assert "SQLite" in refusal(GJJ_DATABASE_URL=url)


def test_production_refused_when_development_keys_are_used():
    assert "GJJ_PII_KEY" in refusal(GJJ_PII_KEY=None)


def test_production_refused_when_channels_are_the_fakes():
    assert "GJJ_CHANNELS=fake" in refusal(GJJ_CHANNELS="fake")


def test_production_refusal_lists_every_problem_when_several_are_wrong():
    message = refusal(
        GJJ_SMS_BACKEND="log",
        GJJ_REDIS_URL=None,
        GJJ_PUSH_MODE="inline",
        GJJ_INTERNAL_KEYS=None,
        GJJ_DATABASE_URL=None,
        GJJ_PUBLIC_BASE_URL=None,
        GJJ_PII_KEY=None,
        GJJ_WECHAT_APP_ID="wx0123456789",
    )
    lines = [line for line in message.splitlines() if line.startswith("- ")]
    expected = [
        "GJJ_SMS_BACKEND=log",
        "GJJ_REDIS_URL",
        "GJJ_PUSH_MODE=inline",
        "GJJ_INTERNAL_KEYS",
        "SQLite",
        "GJJ_PUBLIC_BASE_URL",
        "GJJ_PII_KEY",
        "GJJ_WECHAT_APP_SECRET",
    ]
    for needle in expected:
        assert sum(needle in line for line in lines) == 1, (needle, message)
    assert len(lines) == len(expected)


def test_settings_resolve_writable_paths_under_instance_dir_when_set(tmp_path):
    settings = Settings.from_env({"GJJ_INSTANCE_DIR": str(tmp_path / "state")})
    assert settings.instance_path == tmp_path / "state"
    assert settings.effective_database_url == f"sqlite:///{tmp_path / 'state' / 'gjj.sqlite3'}"


def test_instance_dir_defaults_to_the_current_directory_when_unset(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert Settings.from_env({}).instance_path == Path(tmp_path) / "instance"
