"""How the centre prints an account's figures (pure)."""

from __future__ import annotations

from decimal import Decimal


def rate_text(value: Decimal) -> str:
    """A deposit rate as the centre prints it: ``Decimal("0.12")`` → ``"12%"``."""
    return f"{(value * 100).normalize():f}%"
