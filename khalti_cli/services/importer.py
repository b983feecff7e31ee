"""`khalti import`: many payments from a CSV or JSON Lines file, all or nothing, and their links.

Reading (services.rows): the file is never read whole; rows come one at a time with the line each starts
on. Problems with the file itself (not UTF-8, a row longer than 64 Ki characters, broken quoting, unknown or
missing columns) raise InvalidInput; a problem with one row becomes a BadRow, so every bad row is named
before anything is decided.

Storing: every row is checked first (services.payments.new_payment's rules, the payers register, order ids
already stored); then, if nothing is bad (or with skip_invalid), one transaction inserts them all with
executemany. Re-importing a file skips the rows whose order_id is already stored with the same data.

Links: initiate_range makes the links concurrently on a bounded thread pool, each through
services.payments.initiate_one (its 'sending' link row is written before the request goes out, and an
initiate is never retried once it may have been sent).
"""

from __future__ import annotations

import queue
import secrets
import sqlite3
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from khalti_cli.clock import stamp
from khalti_cli.config import Settings
from khalti_cli.errors import AuthError, ExitCode, InvalidInput, KhaltiError
from khalti_cli.files import record_file_name
from khalti_cli.gateway.answers import InitiateAnswer
from khalti_cli.services.payments import (
    Gateway,
    InitiateResult,
    NewPayment,
    call_initiate,
    initiate_payload,
    new_payment,
    sending_link,
    stored_answer,
)
from khalti_cli.services.records import payment_record
from khalti_cli.services.rows import BadRow, Columns, Fields, open_source, read_rows, source_name
from khalti_cli.services.rows import input_format as input_format
from khalti_cli.statuses import REINITIABLE
from khalti_cli.store import Store
from khalti_cli.store import queries as q
from khalti_cli.times import to_local

PAYMENT_COLUMNS = Columns(
    known=(
        "amount",
        "name",
        "order_id",
        "customer_name",
        "customer_email",
        "customer_phone",
        "reference",
        "payer",
    ),
    required=("amount", "name"),
    aliases={"payer_ref": "payer", "payer_reference": "payer"},
)
PHONE_COLUMN = "column customer_phone"  # how a bad phone is named (validate.phone)
# Filled from the payers register when a row names a payer and leaves them empty (IMPORT_COLUMNS index).
_FROM_REGISTER = ((4, "customer_name"), (5, "customer_email"), (6, "customer_phone"), (7, "reference"))
_PROBE = {"amount": "10", "name": "x"}
_ALPHABET = b"23456789ABCDEFGHJKLMNPQRSTUVWXYZ"  # validate.new_order_id's letters
_ID_TABLE = bytes(_ALPHABET[b & 31] for b in range(256))


@dataclass
class ImportResult:
    source: str
    rows: int = 0
    imported: int = 0
    first_id: int = 0
    last_id: int = -1
    skipped: list[tuple[int, str]] = field(default_factory=list)  # (line, order id) already stored
    bad: list[BadRow] = field(default_factory=list)

    @property
    def exit_code(self) -> ExitCode:
        return ExitCode.INVALID if self.bad else ExitCode.OK

    @property
    def bad_rows(self) -> int:
        return len({b.line for b in self.bad})


class _Abort(Exception):
    """Bad rows without skip_invalid: roll the transaction back."""


# (line, values in IMPORT_COLUMNS order, bit i set = _FROM_REGISTER[i] came from the register)
_Candidate = tuple[int, tuple[Any, ...], int]


def import_payments(
    store: Store,
    path: str,
    *,
    input_format_name: str | None = None,
    skip_invalid: bool = False,
    file_names: bool = False,
    ignore_columns: Sequence[str] = (),
) -> ImportResult:
    """Check every row, then store the good ones in one transaction (all of them, or with skip_invalid
    the good ones even if some are bad). Raises InvalidInput for a problem with the file itself.

    file_names (import --slips): two order ids whose files (files.record_file_name) would be one file on
    a disk that ignores case make the second row bad, so no slip can ever replace another's."""
    fmt = input_format(path, input_format_name)
    result = ImportResult(source_name(path))
    at = stamp()
    candidates: list[_Candidate] = []
    given: dict[str, int] = {}  # order id -> line it is on
    folded: dict[str, tuple[str, int]] = {}  # case-folded file name -> (order id, line)
    payers: dict[str, dict[str, Any] | None] = {}
    with open_source(path) as stream:
        for line, item in read_rows(stream, fmt, PAYMENT_COLUMNS.ignoring(ignore_columns)):
            result.rows += 1
            if isinstance(item, BadRow):
                result.bad.append(item)
                continue
            checked = _check_row(store, line, item, payers)
            if isinstance(checked, list):
                result.bad.extend(checked)
                continue
            new, mask = checked
            if new.order_id:
                earlier = given.get(new.order_id)
                if earlier is not None:
                    result.bad.append(
                        BadRow(
                            line,
                            "order_id",
                            f"order id {new.order_id} is also on line {earlier}; each row needs its own order id.",
                        )
                    )
                    continue
                if file_names:
                    other = folded.setdefault(record_file_name(new.order_id, "").casefold(), (new.order_id, line))
                    if other[0] != new.order_id:
                        result.bad.append(
                            BadRow(
                                line,
                                "order_id",
                                f"order id {new.order_id} and {other[0]} (line {other[1]}) differ only in upper/lower "
                                "case, so their slips would be one file on many disks; give this row another order id.",
                            )
                        )
                        continue
                given[new.order_id] = line
            values = (
                new.order_id,
                new.name,
                new.amount_paisa,
                "created",
                new.customer_name,
                new.customer_email,
                new.customer_phone,
                new.reference,
                new.payer_ref,
                at,
                at,
            )
            candidates.append((line, values, mask))
    if not candidates and not result.bad:
        return result
    try:
        with store.write():
            rows = _classify(store, candidates, result)
            if result.bad and not skip_invalid:
                raise _Abort
            rows = _with_order_ids(store, rows, set(given))
            result.first_id, result.last_id = q.insert_payments(store, rows, message=f"imported from {result.source}")
            result.imported = len(rows)
    except _Abort:
        result.bad.sort(key=lambda b: b.line)
        return result
    except sqlite3.IntegrityError:
        raise InvalidInput(
            "Another khalti command stored one of these order ids while this import ran. Nothing was "
            "imported; run the same import again."
        ) from None
    result.bad.sort(key=lambda b: b.line)
    return result


def _check_row(
    store: Store, line: int, fields: Fields, payers: dict[str, dict[str, Any] | None]
) -> tuple[NewPayment, int] | list[BadRow]:
    try:
        new = new_payment(**{c: fields.get(c) for c in PAYMENT_COLUMNS.known}, phone_field=PHONE_COLUMN)
    except InvalidInput as exc:
        return _bad_columns(line, fields, exc)
    if not new.payer_ref:
        return new, 0
    if new.payer_ref not in payers:
        payers[new.payer_ref] = q.get_payer(store, new.payer_ref)
    payer = payers[new.payer_ref]
    if payer is None:
        return [
            BadRow(
                line,
                "payer",
                f"no payer has reference {new.payer_ref!r}; add them first with khalti payers add (or payers import).",
            )
        ]
    from khalti_cli.services.payers import apply_payer

    filled = apply_payer(new, payer)
    mask = 0
    for bit, (_, col) in enumerate(_FROM_REGISTER):
        if getattr(new, col) is None and getattr(filled, col) is not None:
            mask |= 1 << bit
    return filled, mask


def _bad_columns(line: int, fields: Fields, first: InvalidInput) -> list[BadRow]:
    """Which cells are bad: each checked alone by new_payment, the others set to good values."""
    bad: list[BadRow] = []
    for column in PAYMENT_COLUMNS.known:
        if column not in fields and column not in _PROBE:
            continue
        args: dict[str, str | None] = dict(_PROBE)
        args[column] = fields.get(column)
        try:
            new_payment(**args, phone_field=PHONE_COLUMN)
        except InvalidInput as exc:
            bad.append(BadRow(line, column, str(exc)))
    return bad or [BadRow(line, None, str(first))]


def _classify(store: Store, candidates: list[_Candidate], result: ImportResult) -> list[tuple[Any, ...]]:
    """Rows to insert; rows already stored are skipped (same data) or bad (different data)."""
    rows: list[tuple[Any, ...]] = []
    for start in range(0, len(candidates), 500):
        chunk = candidates[start : start + 500]
        stored = q.payments_by_order_ids(store, [v[0] for _, v, _ in chunk if v[0]])
        for line, values, mask in chunk:
            old = stored.get(values[0]) if values[0] else None
            if old is None:
                rows.append(values)
                continue
            differs = _differences(old, values, mask)
            if differs:
                result.bad.append(
                    BadRow(
                        line,
                        differs[0],
                        f"order id {values[0]} is already stored with a different "
                        f"{', '.join(differs)}; give this row a new order id (or none), or fix it.",
                    )
                )
            else:
                result.skipped.append((line, values[0]))
    return rows


def _differences(old: dict[str, Any], values: tuple[Any, ...], mask: int) -> list[str]:
    differs = [col for i, col in ((2, "amount"), (1, "name"), (8, "payer")) if old[q.IMPORT_COLUMNS[i]] != values[i]]
    for bit, (i, col) in enumerate(_FROM_REGISTER):
        if not mask & (1 << bit) and old[col] != values[i]:
            differs.append(col)
    return differs


def _with_order_ids(store: Store, rows: list[tuple[Any, ...]], taken: set[str]) -> list[tuple[Any, ...]]:
    """Rows without an order id get a new one (validate.new_order_id's form), unused in the file and the
    database. Made in bulk: one random read for all of them."""
    need = [i for i, values in enumerate(rows) if values[0] is None]
    while need:
        prefix = to_local(datetime.now(UTC)).strftime("KH-%y%m%d-")  # the local day, as validate.new_order_id
        raw = secrets.token_bytes(6 * len(need)).translate(_ID_TABLE).decode("ascii")
        fresh: list[int] = []
        for n, i in enumerate(need):
            oid = prefix + raw[6 * n : 6 * n + 6]
            if oid in taken:
                fresh.append(i)
                continue
            taken.add(oid)
            rows[i] = (oid, *rows[i][1:])
        retry = set(fresh)
        clash = q.existing_order_ids(store, [rows[i][0] for i in need if i not in retry])
        need = fresh + [i for i in need if i not in retry and rows[i][0] in clash]
    return rows


def imported_records(store: Store, result: ImportResult) -> Iterator[dict[str, Any]]:
    for row in q.payments_in_range(store, result.first_id, result.last_id):
        yield payment_record(row)


def imported_json_lines(store: Store, result: ImportResult, keys: Sequence[str]) -> Iterator[bytes] | None:
    """The imported records as UTF-8 JSON lines made by SQLite (fast); None when a key needs Python."""
    from khalti_cli.services.records import public_url

    expr = q.record_json_sql(keys, public_url())
    return None if expr is None else q.payments_in_range_json(store, expr, result.first_id, result.last_id)


# --- making their links -------------------------------------------------------------------------


def initiate_range(
    store: Store,
    settings: Settings,
    gateway: Callable[[], Gateway],
    first_id: int,
    last_id: int,
    *,
    concurrency: int = 8,
    skipped: Sequence[tuple[int, str]] = (),
) -> Iterator[InitiateResult]:
    """A link for each payment with an id in [first_id, last_id], `concurrency` requests at a time; results
    in id order.

    Threads only talk to Khalti; this thread alone writes, with group commits: each commit stores the
    answers that have arrived and writes the link rows ('sending') of the next requests, which are sent only
    after it (so every request has its row first, as initiate_one does, and a row waits seconds, not minutes,
    for its request: reconcile's grace for lost answers is a minute). Two fsyncs a link became a few per batch.

    `skipped` (ImportResult.skipped): rows an earlier run of the same import stored but never made a link
    for (it was killed in between) get theirs now, so running the command again finishes the job."""
    earlier = [r for _, oid in skipped if (r := q.get_payment(store, oid)) is not None and r["status"] == "created"]
    rows = earlier + [r for r in q.payments_in_range(store, first_id, last_id) if r["status"] in REINITIABLE]
    if not rows:
        return
    settings.require_urls()
    settings.require_key()
    client = gateway()
    payloads = [initiate_payload(r, settings) for r in rows]
    refused: list[KhaltiError] = []
    answers: queue.SimpleQueue[tuple[int, InitiateAnswer | KhaltiError]] = queue.SimpleQueue()

    def send(i: int) -> None:
        if refused:  # Khalti refused the key: every other request would be refused too; none is sent
            answers.put((i, refused[0]))
            return
        try:
            answer = call_initiate(client, payloads[i])
        except BaseException as exc:  # a bug: stored as an error for this row, never a hang
            answer = KhaltiError(f"initiate failed unexpectedly: {exc!r}")
        if isinstance(answer, AuthError):
            refused.append(answer)
        answers.put((i, answer))

    window = max(1, concurrency) * 2  # requests written and queued ahead of the threads
    link_ids: dict[int, int] = {}
    ready: dict[int, InitiateResult] = {}
    sent = stored = shown = 0
    with ThreadPoolExecutor(max_workers=max(1, min(concurrency, len(rows))), thread_name_prefix="initiate") as pool:
        while shown < len(rows):
            batch = []
            if sent > stored:
                batch.append(answers.get())
                while len(batch) < 500:
                    try:
                        batch.append(answers.get_nowait())
                    except queue.Empty:
                        break
            refill = range(sent, min(len(rows), stored + len(batch) + window))
            at = stamp()
            with store.write():
                for i, answer in batch:
                    ready[i] = stored_answer(store, rows[i], link_ids.pop(i), answer, own_transaction=False)
                for i in refill:
                    link_ids[i] = sending_link(store, rows[i], at)
            stored += len(batch)
            for i in refill:
                pool.submit(send, i)
            sent = max(sent, refill.stop)
            while shown in ready:
                yield ready.pop(shown)
                shown += 1
