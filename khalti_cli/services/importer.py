"""`khalti import`: many payments from a CSV or JSON Lines file, all or nothing, and their links.

Reading: the file is never read whole; rows come one at a time with the line each starts on. Problems with
the file itself (not UTF-8, broken quoting, unknown or missing columns) raise InvalidInput; a problem with
one row becomes a BadRow, so every bad row is named before anything is decided.

Storing: every row is checked first (services.payments.new_payment's rules, the payers register, order ids
already stored); then, if nothing is bad (or with skip_invalid), one transaction inserts them all with
executemany. Re-importing a file skips the rows whose order_id is already stored with the same data.

Links: initiate_range makes the links concurrently on a bounded thread pool, each through
services.payments.initiate_one (its 'sending' link row is written before the request goes out, and an
initiate is never retried once it may have been sent).
"""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import secrets
import sqlite3
import sys
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

from khalti_cli.clock import stamp
from khalti_cli.config import Settings
from khalti_cli.errors import AuthError, ExitCode, InvalidInput, KhaltiError
from khalti_cli.services.payments import Gateway, InitiateResult, NewPayment, initiate_one, new_payment
from khalti_cli.services.records import payment_record
from khalti_cli.statuses import REINITIABLE
from khalti_cli.store import Store, open_store
from khalti_cli.store import queries as q

INPUT_FORMATS = ("csv", "jsonl")
Fields = dict[str, str | None]


@dataclass(frozen=True)
class BadRow:
    line: int
    column: str | None
    message: str

    def __str__(self) -> str:
        where = f"line {self.line}" + (f", column {self.column}" if self.column else "")
        return f"{where}: {self.message}"


@dataclass(frozen=True)
class Columns:
    """The columns a kind of file may have. Header names are matched case-insensitively, with spaces and
    dashes read as underscores; `aliases` maps other accepted names to the real one."""

    known: tuple[str, ...]
    required: tuple[str, ...]
    aliases: Mapping[str, str] = field(default_factory=dict)
    ignored: frozenset[str] = frozenset()  # --ignore-columns: a spreadsheet's own columns, e.g. "Roll No"

    def ignoring(self, names: Sequence[str]) -> Columns:
        return dataclasses.replace(self, ignored=frozenset(self.name(n) for n in names if n.strip()))

    def name(self, raw: str) -> str:
        key = raw.strip().lower().replace(" ", "_").replace("-", "_")
        return self.aliases.get(key, key)


def input_format(path: str, given: str | None) -> str:
    if given:
        fmt = given.lower()
        if fmt not in INPUT_FORMATS:
            raise InvalidInput(f"{given!r} is not an input format; use csv or jsonl.")
        return fmt
    return "jsonl" if path.lower().endswith((".jsonl", ".ndjson")) else "csv"


def source_name(path: str) -> str:
    return "stdin" if path == "-" else Path(path).name


@contextmanager
def open_source(path: str) -> Iterator[TextIO]:
    """A file, or stdin for `-`, as UTF-8 text (a spreadsheet's byte-order mark is dropped)."""
    if path == "-":
        buffer = getattr(sys.stdin, "buffer", None)
        if buffer is None:  # already text (some test harnesses)
            yield sys.stdin
            return
        stream = io.TextIOWrapper(buffer, encoding="utf-8-sig", newline="")
        try:
            yield stream
        finally:
            stream.detach()
        return
    try:
        handle = open(path, encoding="utf-8-sig", newline="")  # noqa: SIM115 - closed below
    except FileNotFoundError:
        raise InvalidInput(f"There is no file {path}. Check the name and the folder.") from None
    except IsADirectoryError:
        raise InvalidInput(f"{path} is a folder, not a file.") from None
    except OSError as exc:
        raise InvalidInput(f"Cannot read {path}: {exc.strerror}.") from None
    try:
        yield handle
    finally:
        handle.close()


def read_rows(stream: TextIO, fmt: str, columns: Columns) -> Iterator[tuple[int, Fields | BadRow]]:
    """(line number, fields) per data row; fields maps known column names to text or None."""
    rows = _csv_rows(stream, columns) if fmt == "csv" else _jsonl_rows(stream, columns)
    line = 0
    try:
        for line, item in rows:
            yield line, item
    except UnicodeDecodeError:
        raise InvalidInput(
            f"The file is not UTF-8 text (after line {line}). Save it as 'CSV UTF-8' (or UTF-8 text) "
            "and import it again; nothing was imported."
        ) from None


def _check_header(raw: list[str], columns: Columns) -> list[str]:
    names = [columns.name(h) for h in raw]
    unknown = [raw[i].strip() for i, n in enumerate(names) if n not in columns.known and n not in columns.ignored]
    if unknown:
        shown = ", ".join(repr(u) for u in unknown)
        raise InvalidInput(
            f"The header has column(s) {shown} that khalti does not know. The columns are: "
            f"{', '.join(columns.known)} ({' and '.join(columns.required)} required). Rename or remove "
            f"them, or leave them out with --ignore-columns {','.join(unknown)!r}; nothing was imported."
        )
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise InvalidInput(f"The header has column(s) {', '.join(twice)} more than once; nothing was imported.")
    missing = [c for c in columns.required if c not in names]
    if missing:
        raise InvalidInput(
            f"The header has no {' or '.join(missing)} column; every row needs one. The first line of the "
            f"file must name the columns, e.g. {','.join(columns.required)}. Nothing was imported."
        )
    return names


def _csv_rows(stream: TextIO, columns: Columns) -> Iterator[tuple[int, Fields | BadRow]]:
    reader = csv.reader(stream, strict=True)
    names: list[str] | None = None
    before = 0
    try:
        for cells in reader:
            line, before = before + 1, reader.line_num
            if not cells or (len(cells) == 1 and not cells[0].strip()):
                continue  # blank line
            if names is None:
                names = _check_header(cells, columns)
                continue
            if len(cells) > len(names):
                extra = [c for c in cells[len(names) :] if c.strip()]
                if extra:
                    yield (
                        line,
                        BadRow(
                            line,
                            None,
                            f"the row has {len(cells)} cells but the header names {len(names)} columns; "
                            "check for an unquoted comma (put a value with a comma in double quotes).",
                        ),
                    )
                    continue
            fields: Fields = dict.fromkeys(n for n in names if n not in columns.ignored)
            for name, value in zip(names, cells, strict=False):
                if name not in columns.ignored:
                    fields[name] = value
            yield line, fields
    except csv.Error as exc:
        raise InvalidInput(
            f"Line {reader.line_num} is not valid CSV ({exc}); check its double quotes. Nothing was imported."
        ) from None


def _jsonl_rows(stream: TextIO, columns: Columns) -> Iterator[tuple[int, Fields | BadRow]]:
    for line, text in enumerate(stream, 1):
        if not text.strip():
            continue
        try:
            obj = json.loads(text, parse_float=str, parse_int=str, parse_constant=str)
        except json.JSONDecodeError as exc:
            yield line, BadRow(line, None, f"not a JSON object ({exc.msg} at character {exc.colno}).")
            continue
        if not isinstance(obj, dict):
            yield line, BadRow(line, None, "not a JSON object; each line must be one {...} object.")
            continue
        fields: Fields = {}
        bad: BadRow | None = None
        for key, value in obj.items():
            name = columns.name(str(key))
            if name in columns.ignored:
                continue
            if name not in columns.known:
                bad = BadRow(
                    line, str(key), f"khalti does not know this column; the columns are {', '.join(columns.known)}."
                )
                break
            if value is not None and not isinstance(value, str):
                bad = BadRow(line, name, "must be text or a number.")
                break
            fields[name] = value
        yield line, bad or fields


# --- importing payments -------------------------------------------------------------------------

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
    ignore_columns: Sequence[str] = (),
) -> ImportResult:
    """Check every row, then store the good ones in one transaction (all of them, or with skip_invalid
    the good ones even if some are bad). Raises InvalidInput for a problem with the file itself."""
    fmt = input_format(path, input_format_name)
    result = ImportResult(source_name(path))
    at = stamp()
    candidates: list[_Candidate] = []
    given: dict[str, int] = {}  # order id -> line it is on
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
        new = new_payment(**{c: fields.get(c) for c in PAYMENT_COLUMNS.known})
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
            new_payment(**args)
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
        prefix = datetime.now(UTC).strftime("KH-%y%m%d-")
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
    expr = q.record_json_sql(keys)
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
    """A link for each payment with an id in [first_id, last_id], `concurrency` at a time; results in
    id order. Each worker has its own database connection; one HTTP client is shared.

    `skipped` (ImportResult.skipped): rows an earlier run of the same import stored but never made a link
    for (it was killed in between) get theirs now, so running the command again finishes the job."""
    earlier = [r for _, oid in skipped if (r := q.get_payment(store, oid)) is not None and r["status"] == "created"]
    rows = earlier + [r for r in q.payments_in_range(store, first_id, last_id) if r["status"] in REINITIABLE]
    if not rows:
        return
    settings.require_urls()
    settings.require_key()
    client = gateway()
    refused: list[KhaltiError] = []

    def one(row: dict[str, Any]) -> InitiateResult:
        if refused:  # Khalti refused the key: every other request would be refused too; none is sent
            return InitiateResult(row["order_id"], error=refused[0])
        try:
            own = open_store(store.path)
        except KhaltiError as exc:
            return InitiateResult(row["order_id"], error=exc)
        try:
            result = initiate_one(own, client, settings, row)
        except KhaltiError as exc:
            result = InitiateResult(row["order_id"], error=exc)
        finally:
            own.close()
        if isinstance(result.error, AuthError):
            refused.append(result.error)
        return result

    with ThreadPoolExecutor(max_workers=max(1, min(concurrency, len(rows))), thread_name_prefix="initiate") as pool:
        yield from pool.map(one, rows)
