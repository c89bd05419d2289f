"""Ledger entries from the core system (缴存支取明细): each books once (its ``external_id``),
moves the account's running balance under a row lock, and tells the member. One entry at a time
here; many in one call (the 30 June run) in :mod:`backend.integration.ledger_batch`."""

from __future__ import annotations

import dataclasses
import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.accounts.models import TRANSACTION_KINDS, FundAccount, FundTransaction
from backend.applications.services import apply_event
from backend.db import MONEY_MAX
from backend.errors import NotFound, ValidationFailed
from backend.inbox.services import post_message
from backend.integration.services import (
    Caller,
    audit,
    commit_once,
    find_application,
    find_member,
    lost_race,
    replay_of,
)
from backend.pii import PiiVault
from backend.transfers.rules import ledger_kind
from backend.withdrawals import arrangements
from backend.withdrawals.models import RentArrangement
from backend.withdrawals.services import refusal_error

# Credits are positive, debits negative: the stored amount is signed, as the ledger shows it.
CREDIT_KINDS = ("deposit", "supplementary", "interest", "transfer_in")
DEBIT_KINDS = ("withdrawal", "transfer_out")
BUSINESS_TYPES = {
    "deposit": "deposit",
    "supplementary": "deposit",
    "interest": "interest",
    "transfer_in": "transfer",
    "transfer_out": "transfer",
    "withdrawal": "withdrawal",
}
TRANSACTION_KEY = "txn:{}"
CLOSED = ("completed", "rejected", "cancelled")


@dataclass(frozen=True, slots=True)
class Entry:
    """A ledger entry as a batch booked or found it: the columns its answer and its message
    show, read in bulk (no ORM object per entry)."""

    id: int
    account_id: int
    member_id: int
    external_id: str | None
    kind: str
    amount: Decimal
    balance_after: Decimal
    txn_date: dt.date
    period_month: str | None
    summary: str
    rent_arrangement_id: int | None


ENTRY_COLUMNS = tuple(f.name for f in dataclasses.fields(Entry))


def _entry_column(name: str) -> Any:
    """A column of the booked entry, read through to it."""
    return property(lambda booked: getattr(booked.transaction, name))


@dataclass(frozen=True)
class Booked:
    """An entry and what its answer shows besides (``FundTransactionSchema`` dumps it)."""

    transaction: FundTransaction | Entry
    account_no: str
    created: bool
    rent_arrangement_no: str | None = None

    # The entry's own columns, so that the schema dumps this object as it is (no pre-dump hook:
    # the compiled dump of backend.dumping applies to every entry of a batch).
    id = _entry_column("id")
    external_id = _entry_column("external_id")
    member_id = _entry_column("member_id")
    kind = _entry_column("kind")
    amount = _entry_column("amount")
    balance_after = _entry_column("balance_after")
    txn_date = _entry_column("txn_date")
    period_month = _entry_column("period_month")
    summary = _entry_column("summary")

    @property
    def kind_name(self) -> str:
        return TRANSACTION_KINDS[self.transaction.kind]


def sign_error(kind: str, amount: Decimal) -> str | None:
    """Why ``amount`` cannot be a ``kind`` entry, or ``None``."""
    if amount == 0:
        return "金额不能为 0"
    if kind in CREDIT_KINDS and amount < 0:
        return f"{TRANSACTION_KINDS[kind]}金额应为正数"
    if kind in DEBIT_KINDS and amount > 0:
        return f"{TRANSACTION_KINDS[kind]}金额应为负数"
    return None


def entry_content(
    txn: FundTransaction | Entry,
    account_no: str,
    application_no: str | None,
    arrangement: RentArrangement | None = None,
) -> str:
    name = TRANSACTION_KINDS[txn.kind]
    when = f"{txn.txn_date:%Y年%m月%d日}"
    if arrangement is not None:
        text = (
            f"您的租房按月提取（委托编号{arrangement.arrangement_no}）于{when}提取住房公积金"
            f"{-txn.amount}元，已转入{arrangement.bank_name}（{arrangement.bank_account_masked}）"
        )
    elif txn.kind == "withdrawal":
        head = f"您的提取业务（编号{application_no}）已办结，" if application_no else "您"
        text = f"{head}于{when}提取住房公积金{-txn.amount}元，款项已支付"
    elif txn.kind == "transfer_out":
        text = f"您的住房公积金账户（{account_no}）于{when}转出{-txn.amount}元"
    elif txn.kind == "transfer_in" and application_no:
        text = (
            f"您的转移接续业务（编号{application_no}）资金已于{when}转入您的住房公积金账户"
            f"（{account_no}），转入金额{txn.amount}元"
        )
    else:
        period = f"（{txn.period_month}）" if txn.period_month else ""
        text = f"您的住房公积金账户（{account_no}）于{when}{name}入账{txn.amount}元{period}"
    return f"{text}，当前余额{txn.balance_after}元。"


def application_entry_kind(application_kind: str, reason: str) -> str | None:
    """The ledger entry kind that may name (and complete) an application of this kind."""
    if application_kind == "withdrawal":
        return "withdrawal"
    if application_kind == "transfer":
        return ledger_kind(reason)
    return None


def business_name(kind: str, arrangement: RentArrangement | None) -> str:
    if arrangement is not None:
        return "租房按月提取"
    return TRANSACTION_KINDS[kind] + ("到账" if kind in CREDIT_KINDS else "支付")


def _arrangement(
    session: Session,
    pii: PiiVault,
    account: FundAccount,
    kind: str,
    amount: Decimal,
    txn_date: dt.date,
    arrangement_no: str | None,
) -> RentArrangement | None:
    """The arrangement a monthly rent payment is booked under, checked against its rules."""
    if not arrangement_no:
        return None
    if kind != "withdrawal":
        raise ValidationFailed(
            "只有提取可以关联按月提取委托",
            error_code="fund.arrangement_mismatch",
            errors={"rent_arrangement_no": ["仅 kind=withdrawal 时可填写"]},
        )
    arrangement = arrangements.find_arrangement(session, arrangement_no)
    refusal = arrangements.monthly_transfer_refusal(
        session, pii, account, arrangement, amount, txn_date
    )
    if refusal is not None:
        raise refusal_error(refusal)
    return arrangement


def check_balance(balance: Decimal, before: Decimal) -> None:
    """422 when the balance after an entry would not fit NUMERIC(14,2) or go below zero."""
    if balance > MONEY_MAX:
        raise ValidationFailed(
            "入账后账户余额超出系统可记录的范围，请核对金额",
            error_code="fund.balance_out_of_range",
            errors={"amount": [f"入账后余额不能超过 {MONEY_MAX} 元"]},
        )
    if balance < 0:
        raise ValidationFailed(
            "账户余额不足，不能支付该笔提取",
            error_code="fund.balance_insufficient",
            errors={"amount": [f"超过账户余额 {before} 元"]},
        )


def by_external_id(session: Session, external_id: str) -> FundTransaction | None:
    return session.scalars(
        select(FundTransaction).where(FundTransaction.external_id == external_id)
    ).first()


def _arrangement_no(session: Session, arrangement_id: int | None) -> str | None:
    if arrangement_id is None:
        return None
    return session.scalar(
        select(RentArrangement.arrangement_no).where(RentArrangement.id == arrangement_id)
    )


def _replay(session: Session, caller: Caller, txn: FundTransaction, request_hash: str) -> Booked:
    replay_of(session, TRANSACTION_KEY.format(txn.external_id), request_hash)
    account_no = session.scalars(
        select(FundAccount.account_no).where(FundAccount.id == txn.account_id)
    ).one()
    audit(
        session,
        caller,
        "internal.fund_transaction",
        txn.member_id,
        external_id=txn.external_id,
        replayed=True,
    )
    session.commit()
    return Booked(
        txn,
        account_no,
        created=False,
        rent_arrangement_no=_arrangement_no(session, txn.rent_arrangement_id),
    )


def book_transaction(
    session: Session,
    pii: PiiVault,
    caller: Caller,
    *,
    request_hash: str,
    external_id: str,
    kind: str,
    amount: Decimal,
    txn_date: dt.date,
    account_no: str | None = None,
    id_number: str | None = None,
    period_month: str | None = None,
    summary: str = "",
    application_no: str | None = None,
    rent_arrangement_no: str | None = None,
) -> Booked:
    """Book one entry; a known ``external_id`` books nothing and answers with the first entry
    (or 409 when the request differs from the one that booked it). A withdrawal naming
    ``rent_arrangement_no`` is a month's payment under that arrangement (按月提取): the
    arrangement's rules apply and the entry is linked to it."""
    problem = sign_error(kind, amount)
    if problem:
        raise ValidationFailed(problem, errors={"amount": [problem]})
    existing = by_external_id(session, external_id)
    if existing is not None:
        return _replay(session, caller, existing, request_hash)
    if account_no is None:
        member = find_member(session, pii, id_number=id_number, account_no=None)
        where = FundAccount.member_id == member.id
    else:
        where = FundAccount.account_no == account_no
    # The row lock serialises concurrent entries on one account, so balance_after is a true
    # running balance (SELECT … FOR UPDATE on PostgreSQL; SQLite serialises writers anyway).
    account = session.scalars(select(FundAccount).where(where).with_for_update()).first()
    if account is None:
        raise NotFound("未找到该公积金账户", error_code="fund.account_not_found")
    existing = by_external_id(session, external_id)  # a racing twin may have committed meanwhile
    if existing is not None:
        return _replay(session, caller, existing, request_hash)
    application = None
    if application_no:
        application = find_application(session, application_no, member_id=account.member_id)
        if kind != application_entry_kind(application.kind, application.reason):
            raise ValidationFailed(
                "只有提取支付可以关联提取业务，转入/转出可以关联转移接续业务",
                error_code="fund.application_mismatch",
                errors={"application_no": ["应为该职工的提取或转移接续业务编号，且与流水类型相符"]},
            )
    arrangement = _arrangement(session, pii, account, kind, amount, txn_date, rent_arrangement_no)
    balance = account.balance + amount
    check_balance(balance, account.balance)

    def write() -> Booked:
        account.balance = balance
        if kind in ("deposit", "supplementary") and period_month:
            if account.paid_through is None or period_month > account.paid_through:
                account.paid_through = period_month
        txn = FundTransaction(
            account_id=account.id,
            member_id=account.member_id,
            txn_date=txn_date,
            kind=kind,
            amount=amount,
            balance_after=balance,
            period_month=period_month,
            summary=summary or TRANSACTION_KINDS[kind],
            external_id=external_id,
            rent_arrangement_id=arrangement.id if arrangement else None,
        )
        session.add(txn)
        if application is not None and application.status not in CLOSED:
            if application.kind == "transfer":
                application.amount = abs(amount)  # known once the money has moved
            apply_event(session, application, event="completed", notify=False)
        post_message(
            session,
            member_id=account.member_id,
            business_name=business_name(kind, arrangement),
            content=entry_content(txn, account.account_no, application_no, arrangement),
            business_type=BUSINESS_TYPES[kind],
            application_id=application.id if application else None,
            dedupe_key=TRANSACTION_KEY.format(external_id),
            request_hash=request_hash,
        )
        audit(
            session,
            caller,
            "internal.fund_transaction",
            account.member_id,
            external_id=external_id,
            kind=kind,
            amount=str(amount),
        )
        return Booked(
            txn,
            account.account_no,
            created=True,
            rent_arrangement_no=arrangement.arrangement_no if arrangement else None,
        )

    booked = commit_once(session, write)
    if booked is None:
        winner = lost_race(by_external_id(session, external_id))
        return _replay(session, caller, winner, request_hash)
    return booked
