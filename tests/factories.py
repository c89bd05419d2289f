"""Test data builders. Each builds valid, consistent rows and commits them."""

from __future__ import annotations

import datetime as dt
import itertools
from decimal import Decimal
from typing import Any

from sqlalchemy.orm import Session

from backend.accounts.models import FundAccount, FundTransaction
from backend.identity.passwords import make_hasher
from backend.members.models import Credential, Employer, Member
from backend.pii import compose_id_number, mask_id_number, mask_phone
from backend.runtime import Runtime

_seq = itertools.count(1)

# The contract of :meth:`Factory.scheduled_loan`: 1,000,000 over 30 years from 2024-03-15,
# re-priced 3.1 → 2.85 → 2.6.
LOAN_DISBURSED_ON = dt.date(2024, 3, 15)
LOAN_RATES = (
    (dt.date(2024, 3, 15), "3.1"),
    (dt.date(2025, 1, 1), "2.85"),
    (dt.date(2026, 1, 1), "2.6"),
)


def seeded_schedule(contract: Any) -> Any:
    """What the engine schedules for a contract of :meth:`Factory.scheduled_loan`."""
    from backend.loans import amortisation

    return amortisation.generate_schedule(
        "1000000.00",
        360,
        contract.method,
        [(d, Decimal(r)) for d, r in LOAN_RATES],
        LOAN_DISBURSED_ON,
    )


class Factory:
    def __init__(self, session: Session, runtime: Runtime) -> None:
        self.session = session
        self.rt = runtime
        self.hasher = make_hasher(
            runtime.settings.argon2_time_cost, runtime.settings.argon2_memory_cost
        )

    def id_number(self, birth: dt.date = dt.date(1990, 5, 17)) -> str:
        return compose_id_number("110105", birth, next(_seq) % 1000)

    def phone(self) -> str:
        return f"138{next(_seq):08d}"

    def employer(self, name: str = "示范市测试科技有限公司") -> Employer:
        n = next(_seq)
        employer = Employer(name=name, unit_account_no=f"U{n:010d}")
        self.session.add(employer)
        self.session.commit()
        return employer

    def member(
        self,
        *,
        name: str = "张三",
        id_number: str | None = None,
        phone: str | None = "auto",
        password: str | None = None,
        account: bool = True,
        balance: Decimal | str = "0.00",
        status: str = "normal",
        online_access: bool = True,
        **account_fields: Any,
    ) -> Member:
        """A member, optionally registered (``password``) and with a fund account."""
        id_number = id_number or self.id_number()
        phone = self.phone() if phone == "auto" else phone
        pii = self.rt.pii
        member = Member(
            name=name,
            id_number_enc=pii.encrypt(id_number),
            id_number_hash=pii.id_lookup(id_number),
            id_number_masked=mask_id_number(id_number),
            phone_enc=pii.encrypt(phone) if phone else None,
            phone_hash=pii.phone_lookup(phone) if phone else None,
            phone_masked=mask_phone(phone) if phone else None,
            online_access=online_access,
        )
        self.session.add(member)
        self.session.flush()
        member.plain_id_number = id_number  # type: ignore[attr-defined]
        member.plain_phone = phone  # type: ignore[attr-defined]
        if password is not None:
            self.session.add(
                Credential(member_id=member.id, password_hash=self.hasher.hash(password))
            )
        if account:
            self.account(member, balance=Decimal(balance), status=status, **account_fields)
        self.session.commit()
        return member

    def account(
        self,
        member: Member,
        *,
        balance: Decimal = Decimal("0.00"),
        status: str = "normal",
        deposit_base: Decimal = Decimal("8000.00"),
        opened_on: dt.date = dt.date(2018, 3, 1),
        employer: Employer | None = None,
        paid_through: str = "2026-10",
        retired_on: dt.date | None = None,
    ) -> FundAccount:
        employer = employer or self.employer()
        rate = Decimal("0.12")
        account = FundAccount(
            account_no=f"{next(_seq):012d}",
            member_id=member.id,
            employer_id=employer.id,
            status=status,
            balance=balance,
            deposit_base=deposit_base,
            employee_rate=rate,
            employer_rate=rate,
            monthly_amount=(deposit_base * rate * 2).quantize(Decimal("0.01")),
            paid_through=paid_through,
            opened_on=opened_on,
            retired_on=retired_on,
        )
        self.session.add(account)
        self.session.flush()
        return account

    def transaction(
        self,
        account: FundAccount,
        *,
        txn_date: dt.date,
        amount: Decimal | str,
        kind: str = "deposit",
        period_month: str | None = None,
        summary: str = "",
    ) -> FundTransaction:
        """Books a ledger entry and moves the account's running balance with it."""
        amount = Decimal(amount)
        account.balance = account.balance + amount
        txn = FundTransaction(
            account_id=account.id,
            member_id=account.member_id,
            txn_date=txn_date,
            kind=kind,
            amount=amount,
            balance_after=account.balance,
            period_month=period_month,
            summary=summary,
        )
        self.session.add(txn)
        self.session.commit()
        return txn

    # --- inbox, applications, loans and the internal API (task centre / integration) ---

    def message(
        self,
        member: Member,
        *,
        kind: str = "message",
        business_name: str = "汇缴到账",
        content: str = "您的住房公积金已入账。",
        sent_at: dt.datetime | None = None,
        read: bool = False,
        deleted: bool = False,
        due_at: dt.datetime | None = None,
        done: bool = False,
        application: Any | None = None,
        commit: bool = True,
    ) -> Any:
        """A message or to-do as the core system would have posted it."""
        from backend.clock import utcnow
        from backend.inbox.models import Message

        now = utcnow()
        message = Message(
            member_id=member.id,
            kind=kind,
            business_name=business_name,
            content=content,
            sent_at=sent_at or now,
            read_at=now if read else None,
            deleted_at=now if deleted else None,
            due_at=due_at,
            done_at=now if done else None,
            application_id=application.id if application is not None else None,
        )
        self.session.add(message)
        if commit:
            self.session.commit()
        return message

    def application(
        self,
        member: Member,
        *,
        kind: str = "withdrawal",
        reason: str = "rent",
        amount: Decimal | str | None = "5000.00",
    ) -> Any:
        """A submitted application (first node current), as the member's request leaves it."""
        from backend.applications.services import create_application

        application = create_application(
            self.session,
            member_id=member.id,
            kind=kind,
            reason=reason,
            amount=Decimal(amount) if amount is not None else None,
        )
        self.session.commit()
        return application

    def loan(
        self,
        member: Member,
        *,
        contract_no: str | None = None,
        status: str = "repaying",
        amount: Decimal | str = "300000.00",
        balance: Decimal | str | None = None,
        term_months: int = 240,
        first_due_date: dt.date | None = dt.date(2024, 2, 20),
        application: Any | None = None,
    ) -> Any:
        from backend.loans.models import LoanContract

        contract = LoanContract(
            contract_no=contract_no or f"JK{next(_seq):010d}",
            member_id=member.id,
            application_id=application.id if application is not None else None,
            amount=Decimal(amount),
            term_months=term_months,
            method="equal_installment",
            status=status,
            balance=Decimal(balance if balance is not None else amount),
            first_due_date=first_due_date if status in ("repaying", "overdue") else None,
            bank_name="中国建设银行示范市分行",
        )
        self.session.add(contract)
        self.session.commit()
        return contract

    def scheduled_loan(
        self,
        member: Member,
        *,
        paid: int = 0,
        status: str = "repaying",
        method: str = "equal_installment",
        application_id: int | None = None,
        channel: str = "entrusted",
    ) -> Any:
        """A contract disbursed 2024-03-15 (1,000,000 over 30 years, re-priced 3.1 → 2.85 → 2.6),
        with its first ``paid`` periods repaid exactly as the engine schedules."""
        from backend.loans.models import LoanContract, LoanRate, LoanRepayment

        contract = LoanContract(
            contract_no=f"HT2024{next(_seq):06d}",
            member_id=member.id,
            application_id=application_id,
            amount=Decimal("1000000.00"),
            term_months=360,
            method=method,
            status=status,
            first_home=True,
            signed_on=dt.date(2024, 3, 1),
            disbursed_on=None if status in ("approving", "signed") else LOAN_DISBURSED_ON,
            first_due_date=None,
            balance=Decimal("1000000.00"),
            bank_name="中国建设银行示范市分行",
        )
        self.session.add(contract)
        self.session.flush()
        for effective, rate in LOAN_RATES:
            self.session.add(
                LoanRate(
                    contract_id=contract.id, effective_from=effective, annual_rate=Decimal(rate)
                )
            )
        if contract.disbursed_on is not None:
            schedule = seeded_schedule(contract)
            for row in schedule.periods[:paid]:
                self.session.add(
                    LoanRepayment(
                        contract_id=contract.id,
                        period=row.period,
                        due_date=row.due_date,
                        paid_on=row.due_date,
                        principal=row.principal,
                        interest=row.interest,
                        penalty=Decimal("0.00"),
                        balance_after=row.remaining,
                        channel=channel,
                    )
                )
            if paid:
                contract.balance = schedule.periods[paid - 1].remaining
        self.session.commit()
        return contract

    def signed(
        self,
        client: Any,
        method: str,
        path: str,
        json: Any = None,
        *,
        key_id: str = "core",
        secret: str | None = None,
        timestamp: int | None = None,
        nonce: str | None = None,
        body: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> Any:
        """Call the internal API as the core system: the request signed with ``key_id``'s secret
        (overridable to forge), at ``timestamp`` (default now) with ``nonce`` (default fresh)."""
        from urllib.parse import urlsplit

        from backend.clock import utcnow
        from backend.integration import signing

        raw = body if body is not None else (signing.encode_body(json) if json is not None else b"")
        target = urlsplit(path)
        signed = signing.signed_headers(
            key_id,
            secret if secret is not None else self.rt.settings.internal_keys.get(key_id, "x"),
            method,
            target.path,
            query=target.query,
            body=raw,
            timestamp=timestamp if timestamp is not None else int(utcnow().timestamp()),
            nonce=nonce,
        )
        signed.update(headers or {})
        return client.open(
            path,
            method=method,
            data=raw,
            headers=signed,
            content_type="application/json" if raw else None,
        )

    # --- fund / withdrawals / certificates (issue 5) ---

    def withdrawal_application(
        self,
        member: Member,
        *,
        amount: Decimal | str,
        reason: str = "purchase",
        status: str = "processing",
        submitted_at: dt.datetime | None = None,
        details: dict[str, Any] | None = None,
    ) -> Any:
        """A withdrawal application as the core system would hold it (no rules checked)."""
        from backend.applications.services import create_application

        application = create_application(
            self.session,
            member_id=member.id,
            kind="withdrawal",
            reason=reason,
            amount=Decimal(amount),
            details=details,
        )
        application.status = status
        if submitted_at is not None:
            application.submitted_at = submitted_at
        self.session.commit()
        return application

    def transaction_code(self, member: Member) -> str:
        """Sends the member a step-up SMS code and reads it back from the SMS outbox file."""
        import json
        from pathlib import Path

        from backend.identity.stepup import send_transaction_code

        send_transaction_code(self.rt, member)
        lines = Path(self.rt.settings.sms_outbox).read_text(encoding="utf-8").splitlines()
        sent = [json.loads(line) for line in lines]
        mine = [s for s in sent if s["phone"] == member.plain_phone and s["scene"] == "transaction"]
        return str(mine[-1]["code"])

    # --- channels / push (issue 7) ---

    def channel_identity(
        self, member: Member, channel: str, open_id: str, *, user_id: str | None = None
    ) -> Any:
        """A binding of ``member`` to an Alipay / WeChat account."""
        # Imported here so this block stays an append-only addition to the module.
        from backend.channels.models import ChannelIdentity

        identity = ChannelIdentity(
            member_id=member.id, channel=channel, open_id=open_id, user_id=user_id
        )
        self.session.add(identity)
        self.session.commit()
        return identity

    def consent(
        self,
        member: Member,
        channel: str,
        template_id: str,
        *,
        remaining: int = 1,
        long_term: bool = False,
    ) -> Any:
        """Subscription-message consent as recorded from requestSubscribeMessage."""
        from backend.channels.models import SubscriptionConsent

        consent = SubscriptionConsent(
            member_id=member.id,
            channel=channel,
            template_id=template_id,
            remaining=remaining,
            long_term=long_term,
        )
        self.session.add(consent)
        self.session.commit()
        return consent
