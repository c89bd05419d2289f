"""``gjj internal curl``: print a signed curl command for the internal API (operators, demos)."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlsplit

import click

from backend.clock import utcnow
from backend.integration import signing


@click.group("internal")
def internal() -> None:
    """Core-system integration API (/internal/v1)."""


@internal.command("curl")
@click.argument("method")
@click.argument("path")
@click.option("--body", default=None, help="JSON body (signed as compact JSON)")
@click.option(
    "--key", "key_id", default=None, help="Key id from GJJ_INTERNAL_KEYS (default: first)"
)
@click.option("--base-url", default=None, help="Default GJJ_PUBLIC_BASE_URL")
@click.pass_obj
def curl(
    ctx: Any, method: str, path: str, body: str | None, key_id: str | None, base_url: str | None
) -> None:
    """Print a signed curl command for METHOD PATH (PATH may carry ?query).

    The signature is valid for GJJ_INTERNAL_MAX_SKEW seconds and its nonce for one use.
    """
    settings = ctx.settings
    keys = dict(settings.internal_keys)
    if not keys and not settings.production:
        # The demo plays the core system with its own caller when none is configured.
        keys = dict([signing.DEMO_INTERNAL_KEY])
    if not keys:
        raise click.ClickException("no caller configured: set GJJ_INTERNAL_KEYS=keyid:secret")
    key_id = key_id or next(iter(keys))
    if key_id not in keys:
        raise click.ClickException(f"unknown key id {key_id!r}; known: {', '.join(keys)}")
    raw = b""
    if body is not None:
        try:
            raw = signing.encode_body(json.loads(body))
        except json.JSONDecodeError as exc:
            raise click.ClickException(f"--body is not JSON: {exc}") from exc
    target = urlsplit(path)
    if not target.path.startswith("/"):
        raise click.ClickException("PATH must start with /, e.g. /internal/v1/messages")
    headers = signing.signed_headers(
        key_id,
        keys[key_id],
        method,
        target.path,
        query=target.query,
        body=raw,
        timestamp=int(utcnow().timestamp()),
    )
    click.echo(signing.curl_command(base_url or settings.public_url, method, path, headers, raw))
