"""Reads of members, their credentials and profiles. Never commit."""

from __future__ import annotations

import functools
from typing import Any

from sqlalchemy import Row, Select, bindparam, select
from sqlalchemy.orm import Session

from backend.accounts.models import FundAccount
from backend.members.models import Credential, Employer, Member, MemberPreference
from backend.pii import PiiVault, is_valid_phone, looks_like_id_number


def member_by_id_number(session: Session, pii: PiiVault, id_number: str) -> Member | None:
    return session.scalars(
        select(Member).where(Member.id_number_hash == pii.id_lookup(id_number))
    ).one_or_none()


def login_candidates(session: Session, pii: PiiVault, username: str) -> list[Member]:
    """Registered members a login name (ID number or reserved phone) can mean, oldest first.

    A reserved phone may be shared (family members), so a phone can name several members.
    """
    username = username.strip()
    if looks_like_id_number(username):
        condition = Member.id_number_hash == pii.id_lookup(username)
    elif is_valid_phone(username):
        condition = Member.phone_hash == pii.phone_lookup(username)
    else:
        return []
    return list(
        session.scalars(
            select(Member).join(Credential, Credential.member_id == Member.id).where(condition)
        ).all()
    )


def credentials_for_update(session: Session, member_ids: list[int]) -> dict[int, Credential]:
    """Credential rows locked for the rest of the transaction (failed-attempt counting races)."""
    if not member_ids:
        return {}
    rows = session.scalars(
        select(Credential)
        .where(Credential.member_id.in_(member_ids))
        .order_by(Credential.member_id)
        .with_for_update()
    )
    return {c.member_id: c for c in rows}


def member_by_account_no(session: Session, account_no: str) -> Member | None:
    return session.scalars(
        select(Member)
        .join(FundAccount, FundAccount.member_id == Member.id)
        .where(FundAccount.account_no == account_no)
    ).one_or_none()


@functools.cache
def _profile() -> Select[*tuple[Any, ...]]:
    """What 个人基本信息 shows of the member, their credential, account and employer (built once:
    only the member id varies)."""
    return (
        select(
            Member.name,
            Member.id_number_masked,
            Member.phone_masked,
            Credential.registered_at,
            FundAccount.id.label("account_id"),
            FundAccount.account_no,
            FundAccount.status,
            FundAccount.balance,
            FundAccount.opened_on,
            Employer.id.label("employer_id"),
            Employer.name.label("employer_name"),
            Employer.unit_account_no,
        )
        .outerjoin(Credential, Credential.member_id == Member.id)
        .outerjoin(FundAccount, FundAccount.member_id == Member.id)
        .outerjoin(Employer, Employer.id == FundAccount.employer_id)
        .where(Member.id == bindparam("member_id"))
    )


def profile(session: Session, member_id: int) -> Row[Any] | None:
    """The columns 个人基本信息 shows, in one statement (``account_id`` / ``employer_id`` are
    ``None`` for a member without an account / employer)."""
    return session.execute(_profile(), {"member_id": member_id}).one_or_none()


def preference(session: Session, member_id: int) -> MemberPreference | None:
    return session.get(MemberPreference, member_id)
