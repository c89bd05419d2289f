"""Settings: the one place that reads ``GJJ_*`` environment variables.

Everything else receives a :class:`Settings` instance from its entry point (app factory, CLI,
worker), so tests can build one with the values they need and nothing is read at import time.
"""

from __future__ import annotations

import base64
import hashlib
import ipaddress
import os
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from decimal import Decimal
from pathlib import Path
from typing import Any

PROJECT_ROOT = Path(__file__).resolve().parent.parent
INSTANCE_DIR = PROJECT_ROOT / "instance"

# Development-only key material. Production refuses to start with it (see validate()).
_DEV_SECRET = "gjj-development-only-secret-never-use-in-production"  # noqa: S105


class SettingsError(ValueError):
    """Raised when the environment describes an unusable or unsafe configuration."""


def _dev_key(purpose: str) -> str:
    digest = hashlib.sha256(f"{_DEV_SECRET}:{purpose}".encode()).digest()
    return base64.urlsafe_b64encode(digest).decode()


def _bool(value: str) -> bool:
    lowered = value.strip().lower()
    if lowered in {"1", "true", "yes", "on"}:
        return True
    if lowered in {"0", "false", "no", "off", ""}:
        return False
    raise SettingsError(f"not a boolean: {value!r}")


def _pairs(value: str, variable: str, shape: str) -> dict[str, str]:
    """Parse ``a:b[,a:b…]``."""
    pairs: dict[str, str] = {}
    for part in filter(None, (p.strip() for p in value.split(","))):
        key, sep, val = part.partition(":")
        if not sep or not key or not val:
            raise SettingsError(f"{variable} must look like {shape}[,{shape}]")
        pairs[key] = val
    return pairs


def _keys(value: str) -> dict[str, str]:
    """Parse ``keyid:secret[,keyid:secret…]`` (several at once, so callers can rotate)."""
    return _pairs(value, "GJJ_INTERNAL_KEYS", "keyid:secret")


@dataclass(frozen=True)
class Settings:
    """Typed configuration. Field ``foo_bar`` is read from ``GJJ_FOO_BAR``."""

    env: str = "development"  # development | test | production
    port: int = 8000
    host: str = "127.0.0.1"
    log_level: str = "INFO"
    log_json: bool = True
    # gunicorn of the production image (backend.gunicorn_conf): processes, and threads in each
    web_workers: int = 4
    web_threads: int = 8
    proxy_hops: int = 0  # reverse proxies in front of the app that set X-Forwarded-For
    # Writable files (SQLite, beat schedule, Prometheus multiprocess files); empty: ./instance
    instance_dir: str = ""
    # The H5 build of the mini-program served at / (empty: miniapp/dist/build/h5 of the checkout)
    h5_dir: str = ""
    # Who may read /metrics (the client address after the trusted proxies): ops networks only
    metrics_networks: tuple[str, ...] = ("127.0.0.0/8", "::1/128")
    # Retention of finished push deliveries and idempotency records (`gjj prune`, beat)
    retention_days: int = 90

    database_url: str = ""  # empty: SQLite file under instance/
    redis_url: str = ""  # empty: in-process fakeredis
    redis_prefix: str = "gjj:"

    # PII at rest: AES-GCM key and the HMAC key of the look-up columns (urlsafe base64, 32 bytes).
    pii_key: str = ""
    lookup_key: str = ""

    centre_name: str = "示范市住房公积金管理中心"
    public_base_url: str = "http://127.0.0.1:8000"

    # Password hashing (argon2id); tests lower the cost, production keeps the baseline
    argon2_time_cost: int = 2
    argon2_memory_cost: int = 19 * 1024  # KiB

    # Sessions
    access_token_ttl: int = 30 * 60  # idle timeout, seconds
    refresh_token_ttl: int = 7 * 24 * 3600

    # Non-production switches (refused in production)
    captcha_fixed: str = ""
    sms_backend: str = "log"  # log | file | dysms
    sms_outbox: str = ""
    channels: str = "fake"  # fake | real

    # Alibaba Cloud SMS (dysms)
    dysms_access_key_id: str = ""
    dysms_access_key_secret: str = ""
    dysms_sign_name: str = ""
    dysms_template_code: str = ""
    # Per-scene templates, "scene:code[,scene:code…]" (e.g. "register:SMS_1,push:SMS_9")
    dysms_template_codes: Mapping[str, str] = field(default_factory=dict)
    dysms_endpoint: str = "https://dysmsapi.aliyuncs.com/"

    # Alipay / WeChat
    alipay_app_id: str = ""
    alipay_private_key: str = ""  # PEM text or a path to a PEM file
    alipay_public_key: str = ""  # Alipay's public key, PEM text or path
    alipay_server_url: str = "https://openapi.alipay.com/gateway.do"
    alipay_aes_key: str = ""
    wechat_app_id: str = ""
    wechat_app_secret: str = ""
    wechat_base_url: str = "https://api.weixin.qq.com"
    wechat_miniprogram_state: str = "formal"
    fakes_alipay_port: int = 8101
    fakes_wechat_port: int = 8102
    channel_timeout: float = 5.0
    # GJJ_CHANNELS=fake: where `python -m adapters.fakes serve --keys-dir` keeps its keys, and the
    # app ids the fakes register by default.
    fakes_keys_dir: str = "var/fake-channels"
    fakes_alipay_app_id: str = "2021000000000001"
    fakes_wechat_app_id: str = "wxfake0000000001"
    fakes_wechat_app_secret: str = "fake-wechat-secret"  # noqa: S105 - the fakes' public default
    # Where Alipay's face-verification page returns the member to (the mini-program page).
    alipay_certify_return_url: str = "alipays://platformapi/startapp?appId=2021000000000001"
    # Short-lived tickets between a failed channel login and its binding/face-check step.
    channel_ticket_ttl: int = 10 * 60

    # Core-system integration API callers: {key_id: secret}
    internal_keys: Mapping[str, str] = field(default_factory=dict)
    internal_max_skew: int = 300

    # Push pipeline
    push_mode: str = "inline"  # inline (embedded default) | celery
    broker_url: str = ""  # empty: redis_url
    result_backend: str = ""
    push_max_attempts: int = 6
    push_sms_fallback_kinds: tuple[str, ...] = ()
    push_templates_file: str = ""  # JSON overriding the built-in template mapping
    push_backoff_base: int = 30  # seconds before the first retry; doubles each attempt
    push_backoff_cap: int = 3600
    push_lock_seconds: int = 120  # a 'sending' delivery older than this lost its worker
    push_sweep_interval: int = 60
    push_inline_threads: int = 2

    # Business rules of the centre (configurable; defaults are typical of Chinese centres)
    certificate_valid_days: int = 30
    # TrueType CJK font for the certificate PDF; empty: found via fontconfig / known paths
    certificate_font: str = ""
    rent_monthly_share: Decimal = Decimal("0.60")
    withdrawal_min_balance: Decimal = Decimal("0.00")
    loan_balance_multiple: Decimal = Decimal("15")
    loan_ceiling: Decimal = Decimal("1000000.00")
    loan_min_deposit_months: int = 6
    prepayment_blackout_days: int = 2

    @property
    def production(self) -> bool:
        return self.env == "production"

    @property
    def instance_path(self) -> Path:
        return Path(self.instance_dir) if self.instance_dir else INSTANCE_DIR

    @property
    def effective_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{INSTANCE_DIR / 'gjj.sqlite3'}"

    @property
    def effective_pii_key(self) -> bytes:
        return base64.urlsafe_b64decode(self.pii_key or _dev_key("pii"))

    @property
    def effective_lookup_key(self) -> bytes:
        return base64.urlsafe_b64decode(self.lookup_key or _dev_key("lookup"))

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
        env = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        for f in fields(cls):
            raw = env.get(f"GJJ_{f.name.upper()}")
            if raw is None:
                continue
            values[f.name] = _convert(f.name, f.type, raw)
        values.update(overrides)
        settings = cls(**values)
        settings.validate()
        return settings

    def with_(self, **changes: Any) -> Settings:
        return replace(self, **changes)

    def validate(self) -> None:
        if self.env not in {"development", "test", "production"}:
            raise SettingsError("GJJ_ENV must be development, test or production")
        if self.sms_backend not in {"log", "file", "dysms"}:
            raise SettingsError("GJJ_SMS_BACKEND must be log, file or dysms")
        if self.sms_backend == "file" and not self.sms_outbox:
            raise SettingsError("GJJ_SMS_BACKEND=file needs GJJ_SMS_OUTBOX=<path>")
        if self.channels not in {"fake", "real"}:
            raise SettingsError("GJJ_CHANNELS must be fake or real")
        for network in self.metrics_networks:
            try:
                ipaddress.ip_network(network)
            except ValueError as exc:
                raise SettingsError(f"GJJ_METRICS_NETWORKS: {exc}") from exc
        if self.retention_days < 1:
            raise SettingsError("GJJ_RETENTION_DAYS must be at least 1")
        if self.push_max_attempts < 1:
            raise SettingsError("GJJ_PUSH_MAX_ATTEMPTS must be at least 1")
        if self.push_mode not in {"inline", "celery"}:
            raise SettingsError("GJJ_PUSH_MODE must be inline or celery")
        for name in ("pii_key", "lookup_key"):
            value = getattr(self, name)
            if value and len(base64.urlsafe_b64decode(value)) != 32:
                raise SettingsError(f"GJJ_{name.upper()} must be 32 bytes, urlsafe base64")
        if self.production:
            refused = []
            if self.captcha_fixed:
                refused.append("GJJ_CAPTCHA_FIXED")
            if self.sms_backend == "file":
                refused.append("GJJ_SMS_BACKEND=file")
            if self.channels == "fake":
                refused.append("GJJ_CHANNELS=fake")
            if not self.pii_key or not self.lookup_key:
                refused.append("missing GJJ_PII_KEY/GJJ_LOOKUP_KEY (development keys)")
            if not self.database_url:
                refused.append("missing GJJ_DATABASE_URL (SQLite)")
            if refused:
                raise SettingsError("refused in production: " + ", ".join(refused))


def _convert(name: str, type_: Any, raw: str) -> Any:
    type_name = type_ if isinstance(type_, str) else getattr(type_, "__name__", str(type_))
    try:
        if name == "internal_keys":
            return _keys(raw)
        if name == "dysms_template_codes":
            return _pairs(raw, "GJJ_DYSMS_TEMPLATE_CODES", "scene:template_code")
        if type_name == "bool":
            return _bool(raw)
        if type_name == "int":
            return int(raw)
        if type_name == "float":
            return float(raw)
        if type_name == "Decimal":
            return Decimal(raw)
        if type_name.startswith("tuple"):
            return tuple(filter(None, (p.strip() for p in raw.split(","))))
    except (ValueError, ArithmeticError) as exc:
        raise SettingsError(f"GJJ_{name.upper()}: {exc}") from exc
    return raw
