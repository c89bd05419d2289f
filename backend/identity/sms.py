"""Building the SMS sender and the code store from settings."""

from __future__ import annotations

from adapters.sms import SmsSender, build_sms_sender
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
