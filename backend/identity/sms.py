"""Building the SMS sender and the code store from settings."""

from __future__ import annotations

from adapters.sms import SmsSender, build_sms_sender
from backend.identity.smscodes import SmsCodes
from backend.runtime import Runtime
from backend.settings import Settings


def make_sms_sender(settings: Settings) -> SmsSender:
    if settings.sms_backend == "file":
        return build_sms_sender("file", path=settings.sms_outbox)
    if settings.sms_backend == "dysms":
        return build_sms_sender(
            "dysms",
            access_key_id=settings.dysms_access_key_id,
            access_key_secret=settings.dysms_access_key_secret,
            sign_name=settings.dysms_sign_name,
            template_code=settings.dysms_template_code,
            template_codes=dict(settings.dysms_template_codes),
            endpoint=settings.dysms_endpoint,
            timeout=settings.channel_timeout,
        )
    return build_sms_sender("log")


def sms_sender(rt: Runtime) -> SmsSender:
    """The runtime's SMS sender (built on first use, then shared; tests may inject one)."""
    sender = rt.extras.get("sms_sender")
    if sender is None:
        sender = rt.extras["sms_sender"] = make_sms_sender(rt.settings)
    return sender


def sms_codes(rt: Runtime) -> SmsCodes:
    """The runtime's code store (built on first use, then shared)."""
    codes = rt.extras.get("sms_codes")
    if codes is None:
        codes = SmsCodes(rt.redis, rt.keys, sms_sender(rt), rt.settings.centre_name, rt.pii)
        rt.extras["sms_codes"] = codes
    return codes
