"""Member use cases: the centre switching online access off/on, and display preferences."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy.orm import Session

from backend.audit.services import RequestOrigin, record
from backend.errors import NotFound
from backend.members.models import Member, MemberPreference

if TYPE_CHECKING:  # the runtime's token store, passed in by the caller
    from backend.identity.tokens import TokenStore


def _member(session: Session, member_id: int) -> Member:
    member = session.get(Member, member_id)
    if member is None:
        raise NotFound("未找到该缴存职工", error_code="member.not_found")
    return member


def disable_online_access(
    tokens: TokenStore, session: Session, member_id: int, *, actor: str = "system"
) -> int:
    """Switch the member's web-hall access off and end every live session at once.

    Returns how many sessions ended. Requests already in flight are refused too: ``auth`` checks
    the Redis mark (:meth:`TokenStore.switch_access`) with the token, on every request."""
    member = _member(session, member_id)
    member.online_access = False
    record(session, "member.access_disabled", member_id=member.id, actor=actor)
    session.commit()
    # The mark first: a login finishing between the commit and the revocation is refused too.
    tokens.switch_access(member.id, on=False)
    return tokens.revoke_member(member.id)


def enable_online_access(
    tokens: TokenStore, session: Session, member_id: int, *, actor: str = "system"
) -> None:
    member = _member(session, member_id)
    member.online_access = True
    record(session, "member.access_enabled", member_id=member.id, actor=actor)
    session.commit()
    tokens.switch_access(member.id, on=True)


def update_preferences(
    session: Session,
    member_id: int,
    *,
    sound_enabled: bool | None = None,
    push_channels: list[str] | None = None,
    origin: RequestOrigin | None = None,
) -> MemberPreference:
    preference = session.get(MemberPreference, member_id)
    if preference is None:
        preference = MemberPreference(member_id=member_id, sound_enabled=True, push_channels=[])
        session.add(preference)
    if sound_enabled is not None:
        preference.sound_enabled = sound_enabled
    if push_channels is not None:
        preference.push_channels = list(dict.fromkeys(push_channels))
    record(session, "member.preferences_updated", member_id=member_id, origin=origin)
    session.commit()
    return preference
