"""Request authentication: the bearer token → the member, for views.

``@login_required`` resolves the token (idle timeout slides on use) and refuses members whose
online access the centre switched off, in one Redis round trip and no database one. Member views
take it through :func:`member_view`, which documents it too, and read :func:`current_member_id`
(free) or :func:`current_member` (the row, loaded on first use).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

from flask import Response, g, request
from marshmallow import Schema

from backend.api import Blueprint, db, runtime, stored_answer
from backend.audit.services import RequestOrigin
from backend.errors import Unauthorized
from backend.idempotency.schemas import REPLAY_HEADER
from backend.idempotency.services import StoredAnswer
from backend.identity.tokens import TokenStore
from backend.logs import request_id_var
from backend.members.access import access_disabled
from backend.members.models import Member

F = TypeVar("F", bound=Callable[..., Any])

BEARER_SECURITY: list[dict[str, list[str]]] = [{"bearerAuth": []}]


def token_store() -> TokenStore:
    return runtime().tokens


def bearer_token() -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


def login_required(view: F) -> F:
    @functools.wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        token = bearer_token()
        if token is None:
            raise Unauthorized("请先登录", error_code="auth.missing_token")
        store = token_store()
        info = store.resolve(token)
        if info is None:
            raise Unauthorized("登录已过期，请重新登录", error_code="auth.token_expired")
        if info.access_off:
            store.revoke_family(info.family)
            raise access_disabled(status_code=401)
        g.member_id = info.member_id
        g.token_family = info.family
        return view(*args, **kwargs)

    return wrapper  # type: ignore[return-value]


def member_view(blp: Blueprint) -> Callable[[F], F]:
    """``@login_required`` plus its OpenAPI documentation (bearer security, the 401), for views
    of a logged-in member: every member view uses it, so no secured operation goes undocumented.
    Put it above the other ``blp`` decorators (see :meth:`Blueprint.secured`)."""
    return blp.secured(login_required, BEARER_SECURITY, "Not logged in")


def current_member_id() -> int:
    member_id: int = g.member_id
    return member_id


def current_member() -> Member:
    """The logged-in member's row, loaded on first use (most views need only the id)."""
    if "member" not in g:
        member = db().get(Member, current_member_id())
        if member is None:
            raise access_disabled(status_code=401)
        g.member = member
    loaded: Member = g.member
    return loaded


def current_family() -> str:
    family: str = g.token_family
    return family


def origin() -> RequestOrigin:
    """The client address and the request id. Behind a proxy, ``GJJ_TRUSTED_PROXIES`` makes
    ``remote_addr`` the real client (ProxyFix); X-Forwarded-For is never trusted otherwise."""
    return RequestOrigin(ip=request.remote_addr, request_id=request_id_var.get())


def money_request(
    use_case: Callable[..., StoredAnswer],
    *args: Any,
    headers: dict[str, Any],
    schema: type[Schema],
    **extra: Any,
) -> Response:
    """The body of a money-moving member view: the use case (built on
    :func:`backend.stepup.confirm_once`) for the logged-in member with the request's
    ``Idempotency-Key`` and origin, its answer dumped by ``schema`` and sent as stored (a replay
    byte for byte, with the replay header)."""
    answer = use_case(
        db(),
        runtime(),
        current_member(),
        *args,
        idempotency_key=headers["idempotency_key"],
        origin=origin(),
        serialize=schema().dump,
        **extra,
    )
    return stored_answer(answer, replay_header=REPLAY_HEADER)
