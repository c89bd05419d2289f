"""Ledger entries from the core system (缴存支取明细): each books once (its ``external_id``),
moves the account's running balance under a row lock, and tells the member."""

from __future__ import annotations

import dataclasses
import datetime as dt
import threading
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from backend.accounts.models import TRANSACTION_KINDS, FundAccount, FundTransaction
from backend.applications.services import apply_event
from backend.audit.models import AuditEvent
from backend.clock import utcnow
from backend.db import MONEY_MAX
from backend.errors import AppError, NotFound, ValidationFailed
from backend.idempotency.services import same_request
from backend.inbox.models import Message
from backend.inbox.services import post_message, post_messages
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


@dataclass(frozen=True)
class Booked:
    transaction: FundTransaction
    account_no: str
    created: bool
    rent_arrangement_no: str | None = None


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
    txn: FundTransaction,
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


def _check_balance(balance: Decimal, before: Decimal) -> None:
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


def _by_external_id(session: Session, external_id: str) -> FundTransaction | None:
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
    existing = _by_external_id(session, external_id)
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
    existing = _by_external_id(session, external_id)  # a racing twin may have committed meanwhile
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
    _check_balance(balance, account.balance)

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
        winner = lost_race(_by_external_id(session, external_id))
        return _replay(session, caller, winner, request_hash)
    return booked


@dataclass(frozen=True)
class BatchResult:
    """One entry of a batch: booked now, a replay of a known ``external_id``, or refused."""

    external_id: str
    status: str  # created | replayed | refused
    booked: Booked | None = None
    error: dict[str, Any] | None = None


CHUNK = 250  # entries per transaction of a batch: the locks it holds, the rows of one insert


def book_batch(
    sessions: Callable[[], Session],
    pii: PiiVault,
    caller: Caller,
    entries: list[dict[str, Any]],
    *,
    threads: int = 1,
    chunk: int = CHUNK,
) -> list[BatchResult]:
    """Book many entries (the 30 June interest run) in one call, with the semantics of
    :func:`book_transaction` for each: idempotent by ``external_id`` (a replay answers the first
    booking, other content is 409), the account row-locked, the running balance exact, the
    member told. A refused entry (unknown account, conflicting replay, balance) is answered with
    its error envelope and does not stop the others.

    Set-based: entries naming an account and nothing else (the interest run) are booked a chunk
    of accounts at a time in one transaction — the chunk's accounts locked in one ``SELECT … FOR
    UPDATE`` ordered by id (no deadlock with another batch), its known external ids read once,
    the running balances computed here in entry order, then one insert of the entries, one of
    their messages and pushes, one of the audit rows and one update of the balances. Entries of
    one account stay in one chunk, in the order sent; chunks go to up to ``threads`` threads,
    each with its own session. Entries by ID number or naming an application or a rent
    arrangement are booked one by one by :func:`book_transaction`, as is a chunk that lost a
    race on an external id to another caller."""
    results: list[BatchResult | None] = [None] * len(entries)
    first_of: dict[str, int] = {}
    repeats: list[int] = []  # an external id sent again in this call: settled once it is booked
    lanes: dict[str, list[int]] = {}
    single: dict[str, list[int]] = {}
    for index, entry in enumerate(entries):
        if entry["external_id"] in first_of:
            repeats.append(index)
            continue
        first_of[entry["external_id"]] = index
        if entry.get("account_no") is None:
            single.setdefault(f"id:{entry.get('id_number')}", []).append(index)
        elif entry.get("application_no") or entry.get("rent_arrangement_no"):
            single.setdefault(entry["account_no"], []).append(index)
        else:
            lanes.setdefault(entry["account_no"], []).append(index)
    for account_no in set(lanes) & set(single):  # one account, one order: all one by one
        single[account_no] = sorted(single[account_no] + lanes.pop(account_no))
    chunks: list[list[int]] = [[]]
    for lane in lanes.values():
        if len(chunks[-1]) + len(lane) > chunk and chunks[-1]:
            chunks.append([])
        chunks[-1].extend(lane)
    work: list[tuple[str, list[int]]] = [("set", sorted(c)) for c in chunks if c]
    work += [("single", lane) for lane in single.values()]
    queue = iter(work)
    lock = threading.Lock()

    def run() -> None:
        with sessions() as session:
            while True:
                with lock:
                    item = next(queue, None)
                if item is None:
                    return
                how, indexes = item
                if how == "set":
                    _book_chunk(session, pii, caller, entries, indexes, results)
                else:
                    for index in indexes:
                        results[index] = _book_one(session, pii, caller, entries[index])

    pool = [threading.Thread(target=run) for _ in range(min(threads, len(work)) - 1)]
    for worker in pool:
        worker.start()
    run()  # this thread is one of them
    for worker in pool:
        worker.join()
    if repeats:
        with sessions() as session:
            _settle_repeats(session, pii, caller, entries, repeats, first_of, results)
    return [r for r in results if r is not None]


def _refused(entry: dict[str, Any], error: AppError) -> BatchResult:
    return BatchResult(entry["external_id"], "refused", error=error.to_payload())


def _book_chunk(
    session: Session,
    pii: PiiVault,
    caller: Caller,
    entries: list[dict[str, Any]],
    indexes: list[int],
    results: list[BatchResult | None],
) -> None:
    """Book the entries at ``indexes`` (distinct external ids, by account number, no
    application or arrangement) in one transaction; see :func:`book_batch`."""
    try:
        answers = _write_chunk(session, caller, [entries[i] for i in indexes])
        session.commit()
    except IntegrityError:
        # Another caller booked one of these external ids meanwhile (on another account, or
        # between our look and our insert): one by one, each answers as the single call would.
        session.rollback()
        answers = [_book_one(session, pii, caller, entries[i]) for i in indexes]
    for index, answer in zip(indexes, answers, strict=True):
        results[index] = answer


def _write_chunk(
    session: Session, caller: Caller, chunk: list[dict[str, Any]]
) -> list[BatchResult]:
    numbers = sorted({entry["account_no"] for entry in chunk})
    # One lock per account, taken in id order: two batches sharing accounts cannot deadlock.
    accounts = {
        row.account_no: row
        for row in session.execute(
            select(
                FundAccount.id,
                FundAccount.account_no,
                FundAccount.member_id,
                FundAccount.balance,
                FundAccount.paid_through,
            )
            .where(FundAccount.account_no.in_(numbers))
            .order_by(FundAccount.id)
            .with_for_update()
        )
    }
    # Read under the locks: an entry a twin committed before we got them is a replay here.
    known = {
        txn.external_id: txn
        for txn in session.scalars(
            select(FundTransaction).where(
                FundTransaction.external_id.in_([entry["external_id"] for entry in chunk])
            )
        )
    }
    hashes: dict[str | None, str | None] = {}
    replay_accounts: dict[int, str] = {}
    arrangement_nos: dict[int, str] = {}
    if known:
        hashes = dict(
            session.execute(
                select(Message.dedupe_key, Message.request_hash).where(
                    Message.dedupe_key.in_([TRANSACTION_KEY.format(k) for k in known])
                )
            ).all()
        )
        replay_accounts = dict(
            session.execute(
                select(FundAccount.id, FundAccount.account_no).where(
                    FundAccount.id.in_({txn.account_id for txn in known.values()})
                )
            ).all()
        )
        arrangement_ids = {t.rent_arrangement_id for t in known.values() if t.rent_arrangement_id}
        if arrangement_ids:
            arrangement_nos = dict(
                session.execute(
                    select(RentArrangement.id, RentArrangement.arrangement_no).where(
                        RentArrangement.id.in_(arrangement_ids)
                    )
                ).all()
            )
        for txn in known.values():
            session.expunge(txn)  # answered after commit, whatever happens to the session

    balances = {no: row.balance for no, row in accounts.items()}
    paid_through = {no: row.paid_through for no, row in accounts.items()}
    now = utcnow()
    answers: list[BatchResult | None] = []
    new_rows: list[dict[str, Any]] = []
    audits: list[dict[str, Any]] = []
    for entry in chunk:
        external_id, kind, amount = entry["external_id"], entry["kind"], entry["amount"]
        try:
            problem = sign_error(kind, amount)
            if problem:
                raise ValidationFailed(problem, errors={"amount": [problem]})
            replayed = known.get(external_id)
            if replayed is not None:
                txn = replayed
                same_request(hashes.get(TRANSACTION_KEY.format(external_id)), entry["request_hash"])
                audits.append(
                    _audit_row(caller, txn.member_id, now, external_id=external_id, replayed=True)
                )
                answers.append(
                    BatchResult(
                        external_id,
                        "replayed",
                        Booked(
                            txn,
                            replay_accounts[txn.account_id],
                            created=False,
                            rent_arrangement_no=arrangement_nos.get(txn.rent_arrangement_id or 0),
                        ),
                    )
                )
                continue
            account = accounts.get(entry["account_no"])
            if account is None:
                raise NotFound("未找到该公积金账户", error_code="fund.account_not_found")
            before = balances[account.account_no]
            balance = before + amount
            _check_balance(balance, before)
        except AppError as error:
            answers.append(_refused(entry, error))
            continue
        balances[account.account_no] = balance
        period_month = entry.get("period_month")
        if kind in ("deposit", "supplementary") and period_month:
            current = paid_through[account.account_no]
            if current is None or period_month > current:
                paid_through[account.account_no] = period_month
        new_rows.append(
            {
                "account_id": account.id,
                "member_id": account.member_id,
                "txn_date": entry["txn_date"],
                "kind": kind,
                "amount": amount,
                "balance_after": balance,
                "period_month": period_month,
                "summary": entry.get("summary") or TRANSACTION_KINDS[kind],
                "external_id": external_id,
                "rent_arrangement_id": None,
                "created_at": now,
            }
        )
        audits.append(
            _audit_row(
                caller,
                account.member_id,
                now,
                external_id=external_id,
                kind=kind,
                amount=str(amount),
            )
        )
        answers.append(None)  # booked below

    booked: list[FundTransaction] = []
    if new_rows:
        # An executemany (one short statement the driver prepares once, rows pipelined) and one
        # read back by external id: a multi-row INSERT … RETURNING of 250 rows cost more client
        # CPU in building and parsing its 3,000 placeholders than the rest of the booking.
        session.execute(insert(FundTransaction), new_rows)
        inserted = {
            txn.external_id: txn
            for txn in session.scalars(
                select(FundTransaction).where(
                    FundTransaction.external_id.in_([row["external_id"] for row in new_rows])
                )
            )
        }
        booked = [inserted[row["external_id"]] for row in new_rows]
        for txn in booked:
            session.expunge(txn)
        numbers_by_id = {row.id: no for no, row in accounts.items()}
        post_messages(
            session,
            [
                {
                    "member_id": txn.member_id,
                    "business_name": business_name(txn.kind, None),
                    "content": entry_content(txn, numbers_by_id[txn.account_id], None),
                    "business_type": BUSINESS_TYPES[txn.kind],
                    "dedupe_key": TRANSACTION_KEY.format(txn.external_id),
                    "request_hash": entry["request_hash"],
                    "sent_at": now,
                }
                for txn, entry in zip(
                    booked,
                    [e for e, a in zip(chunk, answers, strict=True) if a is None],
                    strict=True,
                )
            ],
        )
        moved = {txn.account_id for txn in booked}
        session.execute(
            update(FundAccount),
            [
                {
                    "id": row.id,
                    "balance": balances[no],
                    "paid_through": paid_through[no],
                }
                for no, row in accounts.items()
                if row.id in moved
            ],
        )
    if audits:
        session.execute(insert(AuditEvent), audits)
    fresh = iter(booked)
    done: list[BatchResult] = []
    for entry, answer in zip(chunk, answers, strict=True):
        if answer is None:
            txn = next(fresh)
            answer = BatchResult(
                entry["external_id"], "created", Booked(txn, entry["account_no"], created=True)
            )
        done.append(answer)
    return done


def _audit_row(caller: Caller, member_id: int, now: dt.datetime, **detail: Any) -> dict[str, Any]:
    """An ``internal.fund_transaction`` audit row, as :func:`audit` writes it."""
    return {
        "member_id": member_id,
        "actor": caller.actor,
        "action": "internal.fund_transaction",
        "ip": caller.origin.ip,
        "request_id": caller.origin.request_id,
        "detail": detail,
        "created_at": now,
    }


def _settle_repeats(
    session: Session,
    pii: PiiVault,
    caller: Caller,
    entries: list[dict[str, Any]],
    repeats: list[int],
    first_of: dict[str, int],
    results: list[BatchResult | None],
) -> None:
    """An external id sent again later in the same call: the replay of its first occurrence
    (409 when the content differs), as if sent after it. When the first was refused, the repeat
    is booked on its own."""
    for index in repeats:
        entry = entries[index]
        first = results[first_of[entry["external_id"]]]
        if first is None or first.booked is None:
            results[index] = _book_one(session, pii, caller, entry)
            continue
        try:
            problem = sign_error(entry["kind"], entry["amount"])
            if problem:
                raise ValidationFailed(problem, errors={"amount": [problem]})
            same_request(
                entries[first_of[entry["external_id"]]]["request_hash"], entry["request_hash"]
            )
        except AppError as error:
            results[index] = _refused(entry, error)
            continue
        txn = first.booked.transaction
        audit(
            session,
            caller,
            "internal.fund_transaction",
            txn.member_id,
            external_id=entry["external_id"],
            replayed=True,
        )
        results[index] = BatchResult(
            entry["external_id"], "replayed", dataclasses.replace(first.booked, created=False)
        )
    session.commit()


def _book_one(
    session: Session, pii: PiiVault, caller: Caller, entry: dict[str, Any]
) -> BatchResult:
    try:
        booked = book_transaction(session, pii, caller, **entry)
    except AppError as error:
        session.rollback()
        return _refused(entry, error)
    # Out of the session: a later entry's rollback must not expire what this one answers.
    session.expunge(booked.transaction)
    return BatchResult(entry["external_id"], "created" if booked.created else "replayed", booked)
