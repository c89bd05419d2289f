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

# Where the code lives: read-only (an installed wheel sits in site-packages). Nothing is ever
# written under it: writable state goes to ``Settings.instance_path`` (GJJ_INSTANCE_DIR).
PROJECT_ROOT = Path(__file__).resolve().parent.parent

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
    # Reverse proxies in front of the app that set X-Forwarded-For. 0: the header is ignored
    # (whoever reaches gunicorn directly could otherwise invent the address every per-IP limit
    # counts by). GJJ_PROXY_HOPS is read as its former name.
    trusted_proxies: int = 0
    # Writable state (SQLite default, demo CSV, fakes' state, celery beat's schedule). Empty:
    # ``instance/`` under the current directory; never inside the installed package.
    instance_dir: str = ""
    # gunicorn of the production image (backend.gunicorn_conf): processes, and threads in each
    web_workers: int = 4
    web_threads: int = 8
    # The H5 build of the mini-program served at / (empty: miniapp/dist/build/h5 of the checkout)
    h5_dir: str = ""
    # Who may read /metrics (the client address after the trusted proxies): ops networks only
    metrics_networks: tuple[str, ...] = ("127.0.0.0/8", "::1/128")
    # Retention of finished push deliveries and idempotency records (`gjj prune`, beat)
    retention_days: int = 90

    database_url: str = ""  # empty: SQLite file in the instance folder
    redis_url: str = ""  # empty: in-process fakeredis
    redis_prefix: str = "gjj:"

    # PII at rest: AES-GCM key and the HMAC key of the look-up columns (urlsafe base64, 32 bytes).
    pii_key: str = ""
    lookup_key: str = ""

    centre_name: str = "示范市住房公积金管理中心"
    # Where members and bank clerks reach the hall (certificate QR codes and links); empty: the
    # address ``gjj serve`` / ``gjj demo`` listen on (``public_url``).
    public_base_url: str = ""

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
    # Threads (each with its own database connection) booking one batch of ledger entries.
    ledger_batch_threads: int = 4

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
    # Inline mode: seconds between a serving process's looks for due deliveries it did not
    # commit itself (another worker's burst, a retry whose timer died with a restart).
    push_poll_interval: float = 1.0
    # Announcement pushes are written this many members per transaction.
    announcement_fanout_batch: int = 500
    # Appointments: slots may be booked from now to this many days ahead.
    appointment_days_ahead: int = 14

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
    # Seconds a computed repayment plan stays in Redis when nobody reads it (it is recomputed
    # anyway as soon as a repayment, rate or contract change arrives).
    plan_cache_ttl: int = 24 * 3600

    @property
    def production(self) -> bool:
        return self.env == "production"

    @property
    def effective_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{self.instance_path / 'gjj.sqlite3'}"

    @property
    def instance_path(self) -> Path:
        return self.writable_path(self.instance_dir or "instance")

    @property
    def fakes_keys_path(self) -> Path:
        return self.writable_path(self.fakes_keys_dir)

    @property
    def demo_csv_path(self) -> Path:
        """The demo's logins (``gjj seed``, ``gjj demo``)."""
        return self.instance_path / "demo-members.csv"

    @property
    def fakes_state_path(self) -> Path:
        return self.instance_path / "fake-channels-state.json"

    @property
    def beat_schedule_path(self) -> Path:
        return self.instance_path / "celerybeat-schedule"

    @staticmethod
    def writable_path(value: str) -> Path:
        """A configured path to write to: relative ones are taken from the current directory
        (the operator's), never from the code's location."""
        return Path(value).expanduser().absolute()

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
        if "GJJ_PROXY_HOPS" in env and "GJJ_TRUSTED_PROXIES" not in env:
            values["trusted_proxies"] = _convert("proxy_hops", "int", env["GJJ_PROXY_HOPS"])
        values.update(overrides)
        settings = cls(**values)
        settings.validate()
        return settings

    @property
    def public_url(self) -> str:
        """The public base URL without a trailing slash; by default ``http://host:port`` (a
        wildcard bind address shown as 127.0.0.1)."""
        if self.public_base_url:
            return self.public_base_url.rstrip("/")
        host = "127.0.0.1" if self.host in ("0.0.0.0", "::", "") else self.host  # noqa: S104
        return f"http://{host}:{self.port}"

    def with_(self, **changes: Any) -> Settings:
        return replace(self, **changes)

    def validate(self) -> None:
        """Refuses an unusable configuration, naming every problem at once, one line each."""
        problems = self._problems()
        if self.production:
            problems += self._production_problems()
        if problems:
            raise SettingsError(
                "configuration refused:\n" + "\n".join(f"- {problem}" for problem in problems)
            )

    def _problems(self) -> list[str]:
        problems = []
        if self.env not in {"development", "test", "production"}:
            problems.append("GJJ_ENV must be development, test or production")
        if self.sms_backend not in {"log", "file", "dysms"}:
            problems.append("GJJ_SMS_BACKEND must be log, file or dysms")
        if self.sms_backend == "file" and not self.sms_outbox:
            problems.append("GJJ_SMS_BACKEND=file needs GJJ_SMS_OUTBOX=<path>")
        if self.channels not in {"fake", "real"}:
            problems.append("GJJ_CHANNELS must be fake or real")
        for network in self.metrics_networks:
            try:
                ipaddress.ip_network(network)
            except ValueError as exc:
                problems.append(f"GJJ_METRICS_NETWORKS: {exc}")
        if self.retention_days < 1:
            problems.append("GJJ_RETENTION_DAYS must be at least 1")
        if self.push_max_attempts < 1:
            problems.append("GJJ_PUSH_MAX_ATTEMPTS must be at least 1")
        if self.push_mode not in {"inline", "celery"}:
            problems.append("GJJ_PUSH_MODE must be inline or celery")
        if self.trusted_proxies < 0:
            problems.append("GJJ_TRUSTED_PROXIES must be 0 or more")
        for name in ("pii_key", "lookup_key"):
            value = getattr(self, name)
            if value and len(base64.urlsafe_b64decode(value)) != 32:
                problems.append(f"GJJ_{name.upper()} must be 32 bytes, urlsafe base64")
        return problems

    def _production_problems(self) -> list[str]:
        defaults = Settings()
        problems = []
        if self.captcha_fixed:
            problems.append("GJJ_CAPTCHA_FIXED is a test switch: unset it")
        if self.sms_backend in {"log", "file"}:
            problems.append(f"GJJ_SMS_BACKEND={self.sms_backend} never sends the codes: use dysms")
        if self.sms_backend == "dysms":
            problems += _incomplete("dysms SMS", self, _DYSMS, all_required=True)
            if not self.dysms_template_code and not self.dysms_template_codes:
                problems.append(
                    "dysms SMS needs GJJ_DYSMS_TEMPLATE_CODE or GJJ_DYSMS_TEMPLATE_CODES"
                )
        if self.channels == "fake":
            problems.append("GJJ_CHANNELS=fake talks to the loopback fakes: use real")
        if not self.pii_key or not self.lookup_key:
            problems.append(
                "GJJ_PII_KEY or GJJ_LOOKUP_KEY is missing: the development keys are public"
            )
        if not self.database_url or self.database_url.startswith("sqlite"):
            problems.append("SQLite database: set GJJ_DATABASE_URL to PostgreSQL")
        if not self.redis_url:
            problems.append(
                "GJJ_REDIS_URL is missing: each process would keep its own in-memory Redis "
                "(sessions, captchas and limits differ per worker)"
            )
        if self.push_mode == "inline":
            problems.append(
                "GJJ_PUSH_MODE=inline sends pushes inside each API worker: use celery "
                "with `gjj worker`"
            )
        if not self.internal_keys:
            problems.append("GJJ_INTERNAL_KEYS is missing: the core system cannot call in")
        problems += _incomplete("Alipay", self, _ALIPAY)
        problems += _incomplete("WeChat", self, _WECHAT)
        if self.alipay_configured and (
            self.alipay_certify_return_url == defaults.alipay_certify_return_url
        ):
            problems.append(
                "GJJ_ALIPAY_CERTIFY_RETURN_URL is the default (the fakes' app): set the "
                "mini-program's own"
            )
        if self.public_base_url == defaults.public_base_url:
            problems.append(
                "GJJ_PUBLIC_BASE_URL is missing: certificate QR codes and links would point to "
                "the loopback address"
            )
        return problems

    @property
    def alipay_configured(self) -> bool:
        """Every Alipay variable set (GJJ_CHANNELS=real); production refuses a partial set."""
        return all(getattr(self, name) for name in _ALIPAY)

    @property
    def wechat_configured(self) -> bool:
        return all(getattr(self, name) for name in _WECHAT)


_ALIPAY = ("alipay_app_id", "alipay_private_key", "alipay_public_key", "alipay_aes_key")
_WECHAT = ("wechat_app_id", "wechat_app_secret")
_DYSMS = ("dysms_access_key_id", "dysms_access_key_secret", "dysms_sign_name")


def _incomplete(
    what: str, settings: Settings, names: tuple[str, ...], *, all_required: bool = False
) -> list[str]:
    """One problem when some of ``names`` are set but not all (or none, ``all_required``)."""
    missing = [f"GJJ_{name.upper()}" for name in names if not getattr(settings, name)]
    if not missing or (len(missing) == len(names) and not all_required):
        return []
    if all_required:
        return [f"{what} needs {', '.join(missing)}"]
    return [f"{what} half-configured: set {', '.join(missing)} (or none of them)"]


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
