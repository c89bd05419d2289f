"""Certificates (缴存证明, 贷款结清证明): one service, a kind per certified subject. Issue (the
figures snapshotted, the live ones of the same subject voided), the owner's PDF, and third-party
verification by serial and code (rate-limited; an unknown serial and a wrong code look alike)."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import redis
from sqlalchemy.orm import Session

from backend import clock
from backend.accounts.models import ACCOUNT_STATUS, FundAccount
from backend.accounts.queries import account_summary
from backend.accounts.rules import rate_text
from backend.audit.services import RequestOrigin, record
from backend.cache import Keys
from backend.certificates import queries
from backend.certificates.models import CERTIFICATE_KINDS, Certificate
from backend.certificates.pdf import (
    CertificateView,
    CjkFont,
    FontUnavailable,
    find_cjk_font,
    render_certificate,
)
from backend.errors import NotFound, ServiceUnavailable
from backend.members.models import Employer, Member
from backend.pii import mask_name
from backend.ratelimit import Limit, Limiter
from backend.settings import Settings

logger = logging.getLogger(__name__)

# No 0/O, 1/I/L: the code is read off paper and typed in by a bank clerk.
CODE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
CODE_LENGTH = 10
VERIFY_LIMIT = 20  # attempts per client address per window
VERIFY_WINDOW = 600  # seconds
CERTIFICATE_STATUS = {"valid": "有效", "void": "已作废", "expired": "已过期"}


def certificate_font(settings: Settings, label: str = CERTIFICATE_KINDS["deposit"]) -> CjkFont:
    try:
        return find_cjk_font(settings.certificate_font)
    except FontUnavailable as exc:
        logger.error("certificate font unavailable", extra={"error": str(exc)})
        raise ServiceUnavailable(
            f"{label}打印服务暂不可用（缺少中文字体），请稍后再试或到柜台办理",
            error_code="certificate.font_unavailable",
        ) from exc


def _money(value: Decimal) -> str:
    return f"{value:.2f}"


def _local_date(value: dt.datetime) -> str:
    day = clock.to_local(value).date()
    return f"{day.year}年{day.month:02d}月{day.day:02d}日"


def content_hash(snapshot: dict[str, Any]) -> str:
    canonical = json.dumps(snapshot, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def verify_url(settings: Settings, serial_no: str, code: str) -> str:
    """The address printed as the certificate's QR code and link: the HTML verification page a
    clerk opens on a phone (``backend.certificates.pages``), at the public base URL."""
    return f"{settings.public_url}/verify/certificates/{serial_no}?code={code}"


def pdf_url(settings: Settings, serial_no: str) -> str:
    """Every kind's PDF is served by the one owner-only endpoint."""
    return f"{settings.public_url}/api/v1/fund/certificates/{serial_no}/pdf"


def issued_certificate(settings: Settings, cert: Certificate) -> dict[str, Any]:
    """The answer to issuing a certificate of any kind."""
    return {
        "serial_no": cert.serial_no,
        "kind": cert.kind,
        "verification_code": cert.verification_code,
        "issued_at": cert.issued_at,
        "valid_until": cert.valid_until,
        "pdf_url": pdf_url(settings, cert.serial_no),
    }


def holder_snapshot(
    member: Member,
    settings: Settings,
    issued_at: dt.datetime,
    valid_until: dt.datetime,
    serial_no: str,
) -> dict[str, Any]:
    """The part of every certificate's snapshot that names the holder and the issue."""
    return {
        "serial_no": serial_no,
        "name": member.name,
        "id_number_masked": member.id_number_masked,
        "centre_name": settings.centre_name,
        "issued_at": clock.to_local(issued_at).isoformat(timespec="seconds"),
        "valid_until": clock.to_local(valid_until).isoformat(timespec="seconds"),
    }


def _deposit_snapshot(account: FundAccount, employer: Employer | None) -> dict[str, Any]:
    return {
        "employer_name": employer.name if employer else "",
        "unit_account_no": employer.unit_account_no if employer else "",
        "account_no": account.account_no,
        "status": account.status,
        "status_name": ACCOUNT_STATUS.get(account.status, account.status),
        "deposit_base": _money(account.deposit_base),
        "employee_rate": rate_text(account.employee_rate),
        "employer_rate": rate_text(account.employer_rate),
        "monthly_amount": _money(account.monthly_amount),
        "opened_on": account.opened_on.isoformat(),
        "paid_through": account.paid_through or "",
        "balance": _money(account.balance),
    }


@dataclass(frozen=True)
class Printed:
    """What a kind prints: the intro sentence and the table rows."""

    intro: str
    rows: list[tuple[str, str]]


def _deposit_printed(s: dict[str, Any], issued_on: str) -> Printed:
    employer = s["employer_name"]
    at = f"在{employer}工作，" if employer else ""
    return Printed(
        intro=(
            f"兹证明{s['name']}（证件号码：{s['id_number_masked']}）{at}"
            f"已在我中心开立住房公积金个人账户，截至{issued_on}缴存情况如下："
        ),
        rows=[
            ("姓名", s["name"]),
            ("证件号码", s["id_number_masked"]),
            ("缴存单位", employer or "无"),
            ("单位账号", s["unit_account_no"] or "无"),
            ("个人账号", s["account_no"]),
            ("账户状态", s["status_name"]),
            ("缴存基数", s["deposit_base"] + "元"),
            ("缴存比例", f"单位 {s['employer_rate']}，个人 {s['employee_rate']}"),
            ("月缴存额", s["monthly_amount"] + "元"),
            ("缴存期间", f"{s['opened_on']} 至 {s['paid_through'] or '今'}"),
            ("账户余额", s["balance"] + "元"),
        ],
    )


def _settlement_printed(s: dict[str, Any], issued_on: str) -> Printed:
    return Printed(
        intro=(
            f"兹证明{s['name']}（证件号码：{s['id_number_masked']}）在我中心办理的住房公积金"
            f"个人住房贷款（借款合同编号：{s['contract_no']}）已于{s['settled_on']}全部结清，"
            "本息已还清，借款合同项下无欠款。贷款情况如下："
        ),
        rows=[
            ("借款人", s["name"]),
            ("证件号码", s["id_number_masked"]),
            ("借款合同编号", s["contract_no"]),
            ("贷款金额", s["amount"] + "元"),
            ("贷款期限", f"{s['term_months']}个月"),
            ("还款方式", s["method_label"]),
            ("放款日期", s["disbursed_on"]),
            ("结清日期", s["settled_on"]),
            ("累计归还本金", s["principal_repaid"] + "元"),
            ("累计归还利息", s["interest_repaid"] + "元"),
            ("剩余本金", "0.00元"),
            ("承办银行", s["bank_name"] or "无"),
        ],
    )


def _deposit_public(s: dict[str, Any]) -> dict[str, Any]:
    return {
        "employer_name": s["employer_name"],
        "account_no": s["account_no"],
        "account_status": s["status"],
        "account_status_name": s["status_name"],
        "deposit_base": s["deposit_base"],
        "monthly_amount": s["monthly_amount"],
        "deposit_from": s["opened_on"],
        "paid_through": s["paid_through"] or None,
        "balance": s["balance"],
    }


def _settlement_public(s: dict[str, Any]) -> dict[str, Any]:
    return {
        "contract_no": s["contract_no"],
        "loan_amount": s["amount"],
        "term_months": s["term_months"],
        "disbursed_on": s["disbursed_on"],
        "settled_on": s["settled_on"],
        "bank_name": s["bank_name"],
    }


@dataclass(frozen=True)
class Kind:
    code: str
    serial_prefix: str
    printed: Callable[[dict[str, Any], str], Printed]
    public: Callable[[dict[str, Any]], dict[str, Any]]

    @property
    def label(self) -> str:
        return CERTIFICATE_KINDS[self.code]


KINDS = {
    "deposit": Kind("deposit", "JC", _deposit_printed, _deposit_public),
    "loan_settlement": Kind("loan_settlement", "JQ", _settlement_printed, _settlement_public),
}


def certificate_view(cert: Certificate, settings: Settings) -> CertificateView:
    kind = KINDS[cert.kind]
    issued_on = _local_date(cert.issued_at)
    printed = kind.printed(cert.snapshot, issued_on)
    return CertificateView(
        title=f"住房公积金{kind.label}",
        serial_no=cert.serial_no,
        verification_code=cert.verification_code,
        intro=printed.intro,
        rows=printed.rows,
        notes=[
            f"本证明自开具之日起{settings.certificate_valid_days}日内有效"
            f"（有效期至{_local_date(cert.valid_until)}），重新开具后原证明自动作废。",
            "银行、单位等可扫描右上角二维码，或凭证明编号和验证码访问下列地址核验本证明：",
        ],
        centre_name=cert.snapshot["centre_name"],
        issued_on=issued_on,
        verify_url=verify_url(settings, cert.serial_no, cert.verification_code),
        content_digest=cert.content_hash[:32],
    )


def _new_serial(prefix: str, now: dt.datetime) -> str:
    # The hyphen keeps the digits from reading as an 18-digit ID number (logs redact those).
    return f"{prefix}{clock.to_local(now):%Y%m%d}-{secrets.randbelow(10**10):010d}"


def _new_code() -> str:
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))


SubjectSnapshot = Callable[[], dict[str, Any]]


def issue(
    session: Session,
    settings: Settings,
    member: Member,
    *,
    kind: str,
    account_id: int,
    subject: SubjectSnapshot,
    subject_no: str | None = None,
    origin: RequestOrigin | None = None,
) -> Certificate:
    """Issue a certificate of ``kind`` (its figures from ``subject()``, as they stand now);
    the live ones of the same kind and subject are voided."""
    spec = KINDS[kind]
    font = certificate_font(settings, spec.label)
    now = clock.utcnow()
    for old in queries.live_certificates(session, member.id, kind=kind, subject_no=subject_no):
        old.voided_at = now
    serial_no = _new_serial(spec.serial_prefix, now)
    valid_until = now + dt.timedelta(days=settings.certificate_valid_days)
    snapshot = holder_snapshot(member, settings, now, valid_until, serial_no) | subject()
    cert = Certificate(
        serial_no=serial_no,
        member_id=member.id,
        account_id=account_id,
        kind=kind,
        subject_no=subject_no,
        verification_code=_new_code(),
        issued_at=now,
        valid_until=valid_until,
        snapshot=snapshot,
        content_hash=content_hash(snapshot),
    )
    # Refuse before anything is stored if the name (or any figure) has no glyph in the font.
    if font.missing(certificate_view(cert, settings).texts()):
        logger.error("certificate font lacks glyphs of this member's certificate")
        raise ServiceUnavailable(
            f"{spec.label}暂无法打印您的姓名中的个别字符，请到柜台办理",
            error_code="certificate.font_unavailable",
        )
    session.add(cert)
    record(
        session,
        "certificate.issue",
        member_id=member.id,
        origin=origin,
        serial_no=serial_no,
        kind=kind,
    )
    session.commit()
    return cert


def issue_certificate(
    session: Session, settings: Settings, member: Member, origin: RequestOrigin | None = None
) -> Certificate:
    """Issue a deposit certificate of the account as it stands now."""
    account, employer = account_summary(session, member.id)
    return issue(
        session,
        settings,
        member,
        kind="deposit",
        account_id=account.id,
        subject=lambda: _deposit_snapshot(account, employer),
        origin=origin,
    )


def certificate_pdf(session: Session, settings: Settings, member_id: int, serial_no: str) -> bytes:
    """The owner's certificate (any kind) as a PDF; anyone else's (or an unknown serial) is a 404."""
    cert = queries.certificate_by_serial(session, serial_no)
    if cert is None or cert.member_id != member_id:
        raise NotFound("未找到该证明", error_code="certificate.not_found")
    label = KINDS[cert.kind].label
    if cert.voided_at is not None:
        raise NotFound(
            f"该{label}已作废，请使用最新开具的{label}",
            error_code="certificate.voided",
            status_code=410,
        )
    font = certificate_font(settings, label)
    try:
        return render_certificate(certificate_view(cert, settings), font)
    except FontUnavailable as exc:
        raise ServiceUnavailable(
            f"{label}暂无法打印，请到柜台办理", error_code="certificate.font_unavailable"
        ) from exc


VERIFY_LIMITED = Limit(
    "certverify",
    VERIFY_LIMIT,
    VERIFY_WINDOW,
    message="核验次数过多，请{minutes}分钟后再试",
    error_code="certificate.verify_rate_limited",
)


def _rate_limit(r: redis.Redis, keys: Keys, ip: str | None) -> None:
    Limiter(r, keys).take((VERIFY_LIMITED, ip))


@dataclass(frozen=True)
class Verification:
    certificate: Certificate
    status: str


def verify_certificate(
    session: Session, r: redis.Redis, keys: Keys, serial_no: str, code: str, ip: str | None
) -> Verification:
    """Third-party check by serial and code. A wrong code is indistinguishable from an unknown
    serial, so the endpoint cannot be used to discover which serials exist."""
    _rate_limit(r, keys, ip)
    cert = queries.certificate_by_serial(session, serial_no.strip())
    expected = cert.verification_code if cert is not None else "-" * CODE_LENGTH
    matches = secrets.compare_digest(expected.encode(), code.strip().upper().encode())
    if cert is None or not matches:
        raise NotFound("未找到该证明，请核对证明编号和验证码", error_code="certificate.not_found")
    if cert.voided_at is not None:
        status = "void"
    elif clock.utcnow() > cert.valid_until:
        status = "expired"
    else:
        status = "valid"
    return Verification(cert, status)


def public_view(verification: Verification) -> dict[str, Any]:
    cert, s = verification.certificate, verification.certificate.snapshot
    kind = KINDS[cert.kind]
    return {
        "serial_no": cert.serial_no,
        "kind": kind.code,
        "kind_name": kind.label,
        "status": verification.status,
        "status_name": CERTIFICATE_STATUS[verification.status],
        "issued_at": cert.issued_at,
        "valid_until": cert.valid_until,
        "voided_at": cert.voided_at,
        "name": mask_name(s["name"]),
        "id_number_masked": s["id_number_masked"],
        "centre_name": s["centre_name"],
        "content_hash": cert.content_hash,
    } | kind.public(s)
