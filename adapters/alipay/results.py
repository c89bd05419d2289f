"""What the Alipay calls answer: small frozen values, identity data kept out of their repr."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from adapters.base import mask_id_number, mask_phone


@dataclass(frozen=True)
class AlipayOAuthToken:
    user_id: str | None
    open_id: str | None
    union_id: str | None
    access_token: str = field(repr=False)
    expires_in: int | None = None
    refresh_token: str | None = field(default=None, repr=False)


# cert_type of alipay.user.info.share: 0 is the resident identity card (身份证).
ID_CARD_CERT_TYPES = frozenset({"0", "IDENTITY_CARD"})


@dataclass(frozen=True)
class AlipayUserInfo:
    user_id: str | None
    open_id: str | None
    user_name: str | None
    cert_type: str | None
    cert_no: str | None = field(repr=False)
    # None when Alipay did not say: applications live after 2019-12-24 never receive it.
    is_certified: bool | None
    mobile: str | None = field(repr=False)

    @property
    def has_verified_identity(self) -> bool:
        """Alipay released a real name: a name and an identity-card number it certified.

        Alipay releases user_name/cert_no only for a certified member and only to an app granted
        them, so their presence is what counts; an explicit ``is_certified=F`` (older apps still
        get the field) withdraws the trust. Anything missing means face verification instead.
        """
        return (
            self.is_certified is not False
            and bool(self.user_name)
            and bool(self.cert_no)
            and (self.cert_type is None or self.cert_type in ID_CARD_CERT_TYPES)
        )

    def __repr__(self) -> str:
        return (
            f"AlipayUserInfo(user_id={self.user_id!r}, open_id={self.open_id!r}, "
            f"cert_no={mask_id_number(self.cert_no or '')!r}, is_certified={self.is_certified}, "
            f"mobile={mask_phone(self.mobile or '')!r})"
        )


CertificationStatus = Literal["passed", "pending", "expired"]


@dataclass(frozen=True)
class AlipayCertification:
    """Result of ``alipay.user.certify.open.query``.

    ``passed`` T: passed. F means "not passed, or not certified yet": the reply does not tell a
    failed attempt from one not made, and the member may (re)try on the same certify_id while it
    is valid (23 hours), so F is ``pending``. ``fail_reason`` is an attempt's code, returned even
    next to T: it decides nothing. A certify_id the gateway no longer knows
    (40004 ``OPEN_CERTIFY_BILL_NOT_EXIST``) is ``expired``: start again.
    """

    certify_id: str
    status: CertificationStatus
    fail_reason: str | None = None

    @property
    def passed(self) -> bool:
        return self.status == "passed"


@dataclass(frozen=True)
class AlipaySubscription:
    template_id: str
    # subscribe_state as Alipay returns it ("1" subscribed, "0" not), kept raw for operators.
    subscribe_state: str | None
    subscribe_type: str | None

    @property
    def subscribed(self) -> bool:
        return self.subscribe_state == "1"


@dataclass(frozen=True)
class AlipayPhone:
    mobile: str = field(repr=False)

    def __repr__(self) -> str:
        return f"AlipayPhone(mobile={mask_phone(self.mobile)!r})"
