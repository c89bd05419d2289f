"""Many ledger entries in one call (the 30 June run: a year's interest for every member), each
with the semantics of :func:`~backend.integration.ledger.book_transaction`, booked set-based."""

from __future__ import annotations

import dataclasses
import datetime as dt
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from backend.accounts.models import TRANSACTION_KINDS, FundAccount, FundTransaction
from backend.audit.models import AuditEvent
from backend.clock import utcnow
from backend.db import insert_many, one_of, update_many
from backend.errors import AppError, NotFound, ValidationFailed
from backend.idempotency.services import same_request
from backend.inbox.models import Message
from backend.inbox.services import post_messages
from backend.integration.ledger import (
    BUSINESS_TYPES,
    ENTRY_COLUMNS,
    TRANSACTION_KEY,
    Booked,
    Entry,
    book_transaction,
    business_name,
    check_balance,
    entry_content,
    sign_error,
)
from backend.integration.services import Caller, audit
from backend.pii import PiiVault
from backend.withdrawals.models import RentArrangement


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


def _entries(session: Session, *where: Any) -> list[Entry]:
    columns = [getattr(FundTransaction, name) for name in ENTRY_COLUMNS]
    return [Entry(*row) for row in session.execute(select(*columns).where(*where))]


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
            .where(one_of(session, FundAccount.account_no, numbers))
            .order_by(FundAccount.id)
            .with_for_update()
        )
    }
    # Read under the locks: an entry a twin committed before we got them is a replay here.
    known = {
        txn.external_id: txn
        for txn in _entries(
            session,
            one_of(session, FundTransaction.external_id, [entry["external_id"] for entry in chunk]),
        )
    }
    hashes: dict[str | None, str | None] = {}
    replay_accounts: dict[int, str] = {}
    arrangement_nos: dict[int, str] = {}
    if known:
        hashes = dict(
            session.execute(
                select(Message.dedupe_key, Message.request_hash).where(
                    one_of(session, Message.dedupe_key, [TRANSACTION_KEY.format(k) for k in known])
                )
            ).all()
        )
        replay_accounts = dict(
            session.execute(
                select(FundAccount.id, FundAccount.account_no).where(
                    one_of(session, FundAccount.id, {txn.account_id for txn in known.values()})
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

    balances = {no: row.balance for no, row in accounts.items()}
    paid_through = {no: row.paid_through for no, row in accounts.items()}
    now = utcnow()
    answers: list[BatchResult | None] = []
    new_rows: list[dict[str, Any]] = []
    new_accounts: list[str] = []  # the account number of each new row
    hashes_of_new: list[str] = []
    audits: list[dict[str, Any]] = []
    for entry in chunk:
        external_id, kind, amount = entry["external_id"], entry["kind"], entry["amount"]
        try:
            problem = sign_error(kind, amount)
            if problem:
                raise ValidationFailed(problem, errors={"amount": [problem]})
            replayed = known.get(external_id)
            if replayed is not None:
                same_request(hashes.get(TRANSACTION_KEY.format(external_id)), entry["request_hash"])
                audits.append(
                    _audit_row(
                        caller, replayed.member_id, now, external_id=external_id, replayed=True
                    )
                )
                answers.append(
                    BatchResult(
                        external_id,
                        "replayed",
                        Booked(
                            replayed,
                            replay_accounts[replayed.account_id],
                            created=False,
                            rent_arrangement_no=arrangement_nos.get(
                                replayed.rent_arrangement_id or 0
                            ),
                        ),
                    )
                )
                continue
            account = accounts.get(entry["account_no"])
            if account is None:
                raise NotFound("未找到该公积金账户", error_code="fund.account_not_found")
            before = balances[account.account_no]
            balance = before + amount
            check_balance(balance, before)
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
        new_accounts.append(account.account_no)
        hashes_of_new.append(entry["request_hash"])
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

    booked: list[Entry] = []
    if new_rows:
        ids = dict(insert_many(session, FundTransaction, new_rows, returning=("external_id", "id")))
        booked = [Entry(id=ids[row["external_id"]], **_entry_of(row)) for row in new_rows]
        post_messages(
            session,
            [
                {
                    "member_id": txn.member_id,
                    "business_name": business_name(txn.kind, None),
                    "content": entry_content(txn, account_no, None),
                    "business_type": BUSINESS_TYPES[txn.kind],
                    "dedupe_key": TRANSACTION_KEY.format(txn.external_id),
                    "request_hash": request_hash,
                    "sent_at": now,
                }
                for txn, account_no, request_hash in zip(
                    booked, new_accounts, hashes_of_new, strict=True
                )
            ],
        )
        moved = {txn.account_id for txn in booked}
        update_many(
            session,
            FundAccount,
            [
                {"id": row.id, "balance": balances[no], "paid_through": paid_through[no]}
                for no, row in accounts.items()
                if row.id in moved
            ],
        )
    if audits:
        insert_many(session, AuditEvent, audits)
    fresh = iter(zip(booked, new_accounts, strict=True))
    done: list[BatchResult] = []
    for entry, answer in zip(chunk, answers, strict=True):
        if answer is None:
            txn, account_no = next(fresh)
            answer = BatchResult(entry["external_id"], "created", Booked(txn, account_no, True))
        done.append(answer)
    return done


_ENTRY_FIELDS = tuple(name for name in ENTRY_COLUMNS if name != "id")


def _entry_of(row: dict[str, Any]) -> dict[str, Any]:
    return {name: row[name] for name in _ENTRY_FIELDS}


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
