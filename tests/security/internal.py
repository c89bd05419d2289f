"""Payloads of the internal API shared by the security tests."""

from typing import Any


def message_payload(member: Any, **change: Any) -> dict[str, Any]:
    """A ``POST /internal/v1/messages`` body for ``member``, with ``change`` applied."""
    return {
        "id_number": member.plain_id_number,
        "business_name": "缴存基数调整",
        "content": "您的缴存基数已调整为 9000.00 元。",
        "dedupe_key": "notice-1",
        **change,
    }
