"""``gjj members …``: the centre's switches on a member's web-hall access."""

from __future__ import annotations

import click
from sqlalchemy.orm import Session

from backend.members import queries, services
from backend.runtime import Runtime


def _runtime() -> Runtime:
    # The root object is ``backend.cli.Context`` (not imported: that module imports this one).
    runtime: Runtime = click.get_current_context().find_root().obj.runtime
    return runtime


@click.group("members")
def members() -> None:
    """Members' online access (网上业务)."""


def _member_id(session: Session, account_no: str) -> int:
    member = queries.member_by_account_no(session, account_no)
    if member is None:
        raise click.ClickException(f"no fund account {account_no}")
    return member.id


@members.command("disable")
@click.argument("account_no")
def disable(account_no: str) -> None:
    """Switch online access off for the member of ACCOUNT_NO; ends their sessions at once."""
    rt = _runtime()
    with rt.session() as session:
        member_id = _member_id(session, account_no)
        ended = services.disable_online_access(rt.tokens, session, member_id, actor="cli")
    click.echo(f"online access disabled for account {account_no}; {ended} session(s) ended")


@members.command("enable")
@click.argument("account_no")
def enable(account_no: str) -> None:
    """Switch online access back on for the member of ACCOUNT_NO."""
    rt = _runtime()
    with rt.session() as session:
        services.enable_online_access(
            rt.tokens, session, _member_id(session, account_no), actor="cli"
        )
    click.echo(f"online access enabled for account {account_no}")
