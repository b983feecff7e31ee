"""Every SQL statement the services run. Rows are plain dicts; amounts integer paisa."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from khalti_cli.actor import current_actor
from khalti_cli.clock import stamp
from khalti_cli.store.db import Store, translate
from khalti_cli.store.school import RECEIPT_STATUSES, give_receipt_no
from khalti_cli.times import MACHINE_SQL, machine_times

Row = dict[str, Any]
__all__ = ["RECEIPT_STATUSES", "give_receipt_no"]  # re-exported: the writers' one place for both


def get_payment(store: Store, order_id: str) -> Row | None:
    return store.one("SELECT * FROM payments WHERE order_id = ?", [order_id])


def get_payment_by_id(store: Store, payment_id: int) -> Row | None:
    return store.one("SELECT * FROM payments WHERE id = ?", [payment_id])


def existing_order_ids(store: Store, order_ids: Sequence[str]) -> set[str]:
    found: set[str] = set()
    for start in range(0, len(order_ids), 500):
        chunk = list(order_ids[start : start + 500])
        marks = ",".join("?" * len(chunk))
        found.update(
            r["order_id"] for r in store.query(f"SELECT order_id FROM payments WHERE order_id IN ({marks})", chunk)
        )
    return found


def get_link(store: Store, pidx: str) -> Row | None:
    return store.one("SELECT * FROM links WHERE pidx = ?", [pidx])


def links_of(store: Store, payment_id: int) -> list[Row]:
    return list(store.query("SELECT * FROM links WHERE payment_id = ? ORDER BY id", [payment_id]))


def events_of(store: Store, payment_id: int) -> list[Row]:
    return list(store.query("SELECT * FROM events WHERE payment_id = ? ORDER BY id", [payment_id]))


# Hot-path writes are plain SQL: sqlite-utils' Table.update/insert introspect the schema on every call,
# which made reconcile's writer five times slower than the lookups it stores.


def _insert(store: Store, table: str, row: Row) -> int:
    cols = list(row)
    sql = f"INSERT INTO {table} ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})"
    cursor = store.conn.execute(sql, [row[c] for c in cols])
    assert cursor.lastrowid is not None
    return int(cursor.lastrowid)


def _update(store: Store, table: str, row_id: int, changes: Row) -> None:
    if changes:
        sets = ", ".join(f"{c} = ?" for c in changes)
        store.conn.execute(f"UPDATE {table} SET {sets} WHERE id = ?", [*changes.values(), row_id])


def insert_payment(store: Store, row: Row) -> int:
    return _insert(store, "payments", row)


def update_payment(store: Store, payment_id: int, changes: Row) -> None:
    """Every change of a payment goes through here, inside the caller's write transaction: so the first time
    a payment is stored as paid, by whichever command, it gets its receipt number in that same transaction."""
    _update(store, "payments", payment_id, changes)
    if changes.get("status") in RECEIPT_STATUSES:
        give_receipt_no(store.conn, payment_id, changes.get("updated_at") or stamp())


def insert_link(store: Store, row: Row) -> int:
    return _insert(store, "links", row)


def update_link(store: Store, link_id: int, changes: Row) -> None:
    _update(store, "links", link_id, changes)


PAY_TOKEN_BYTES = 24  # 192 random bits (secrets.token_urlsafe): 32 URL-safe characters


def fill_pay_token(store: Store, payment_id: int) -> str:
    """The payment's pay-page token, made now if it has none. Call inside store.write()."""
    store.conn.execute(
        "UPDATE payments SET pay_token = ? WHERE id = ? AND pay_token IS NULL",
        [_new_token(), payment_id],
    )
    row = store.conn.execute("SELECT pay_token FROM payments WHERE id = ?", [payment_id]).fetchone()
    return str(row[0])


def dump_json(value: Any) -> str:
    """Khalti's raw answers and event details as stored: UTF-8 text, keys sorted."""
    import json  # here, not at the top: reading commands never write JSON, and it costs start-up

    return json.dumps(value, ensure_ascii=False, sort_keys=True)


def add_event(
    store: Store,
    payment_id: int,
    kind: str,
    *,
    outcome: str | None = None,
    pidx: str | None = None,
    from_status: str | None = None,
    to_status: str | None = None,
    message: str | None = None,
    detail: Any = None,
    at: str | None = None,
    actor: str | None = None,
) -> None:
    _insert(
        store,
        "events",
        {
            "payment_id": payment_id,
            "pidx": pidx,
            "at": at or stamp(),
            "kind": kind,
            "outcome": outcome,
            "from_status": from_status,
            "to_status": to_status,
            "message": message,
            "detail": None if detail is None else dump_json(machine_times(detail)),  # Khalti's +05:45 -> UTC
            "actor": actor or current_actor(),
        },
    )


@dataclass(frozen=True)
class PaymentFilter:
    """Which payments `list` (and its fast JSON path, and a payer's history) shows."""

    statuses: Sequence[str] = ()
    since: str | None = None  # created_at >= since (a stamp)
    until: str | None = None  # created_at < until
    reference: str | None = None
    search: str | None = None  # in name or customer name, case-insensitive
    payer: str | None = None
    limit: int | None = None


def list_payments(store: Store, flt: PaymentFilter = PaymentFilter()) -> Iterator[Row]:
    sql, params = _payments_query("*", flt)
    return store.query(sql, params)


def list_payments_json(store: Store, record_sql: str, flt: PaymentFilter) -> Iterator[bytes]:
    """list_payments' rows as UTF-8 JSON made by SQLite (record_sql, see record_json_sql): no Python object
    per column, nothing decoded and encoded again, so `khalti list --format jsonl` streams 100,000 records
    in about a second."""
    sql, params = _payments_query(f"CAST({record_sql} AS BLOB)", flt)
    _bs_function(store)
    try:
        cursor = store.conn.execute(sql, params)
        while rows := cursor.fetchmany(2000):
            for row in rows:
                yield row[0]
    except sqlite3.Error as exc:
        raise translate(exc, store.path) from None


# Record keys whose JSON is not simply the column of the same name (see services.records.payment_record).
_RECORD_SQL = {
    "amount": "printf('%d.%02d', amount_paisa / 100, amount_paisa % 100)",
    "refunded": "CASE WHEN refunded THEN json('true') ELSE json('false') END",
    "refunded_paisa": "COALESCE(refunded_paisa, 0)",
    "payer": "payer_ref",
    "heads": "json(heads)",
    "created_at_bs": "khalti_bs(created_at)",
    "paid_at_bs": "khalti_bs(paid_at)",
    "expires_at": MACHINE_SQL.format(column="expires_at"),  # = times.machine, for rows stored before
}
_PAYMENT_COLUMNS = frozenset(
    (
        "order_id",
        "name",
        "amount_paisa",
        "status",
        "khalti_status",
        "pidx",
        "payment_url",
        "expires_at",
        "transaction_id",
        "total_amount_paisa",
        "fee_paisa",
        "customer_name",
        "customer_email",
        "customer_phone",
        "reference",
        "review_reason",
        "failure_reason",
        "created_at",
        "updated_at",
        "checked_at",
        "decision",
        "settle_method",
        "settle_reference",
        "settle_date",
        "period",
        "receipt_no",
        "paid_at",
    )
)


def _sql_text(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _bs_function(store: Store) -> None:
    """khalti_bs(stamp): the BS day of a timestamp, for the *_bs record keys made in SQL."""
    from functools import partial

    from khalti_cli.calendar import bs_of_stamp
    from khalti_cli.times import zone_key

    # The local zone read once per query, not once per row.
    store.conn.create_function("khalti_bs", 1, partial(bs_of_stamp, zone=zone_key()), deterministic=True)


def record_json_sql(keys: Sequence[str], public_url: str | None = None) -> str | None:
    """A json_object(...) expression giving payment_record's JSON for these keys, or None if one is not
    known here (then the caller builds records in Python). tests/test_pipelines.py checks both agree."""
    parts = []
    pay_url = "NULL"
    if public_url:
        pay_url = f"CASE WHEN pay_token IS NULL THEN NULL ELSE {_sql_text(public_url + '/pay/')} || pay_token END"
    for key in keys:
        if key == "pay_url":
            parts.append(f"'pay_url', {pay_url}")
            continue
        expr = _RECORD_SQL.get(key) or (key if key in _PAYMENT_COLUMNS else None)
        if expr is None:
            return None
        parts.append(f"'{key}', {expr}")
    return f"json_object({', '.join(parts)})"


def _search(where: list[str], params: list[Any], text: str, *columns: str) -> None:
    """TEXT anywhere in any of the columns, case-insensitive (Latin letters); % and _ are plain text."""
    pattern = "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
    where.append("(" + " OR ".join(f"{c} LIKE ? ESCAPE '\\'" for c in columns) + ")")
    params.extend([pattern] * len(columns))


def _payments_query(select: str, flt: PaymentFilter) -> tuple[str, list[Any]]:
    statuses, since, until, reference = flt.statuses, flt.since, flt.until, flt.reference
    search, payer, limit = flt.search, flt.payer, flt.limit
    where: list[str] = []
    params: list[Any] = []
    if search:
        _search(where, params, search, "name", "customer_name")
    if payer is not None:
        where.append("payer_ref = ?")
        params.append(payer)
    if statuses:
        where.append(f"status IN ({','.join('?' * len(statuses))})")
        params.extend(statuses)
    if since:
        where.append("created_at >= ?")
        params.append(since)
    if until:
        where.append("created_at < ?")
        params.append(until)
    if reference is not None:
        where.append("reference = ?")
        params.append(reference)
    sql = f"SELECT {select} FROM payments"
    if where:
        sql += " WHERE " + " AND ".join(where)
    sql += " ORDER BY created_at DESC, id DESC"
    if limit is not None:
        sql += " LIMIT ?"
        params.append(limit)
    return sql, params


def links_to_check(
    store: Store, *, limit: int | None = None, checked_before: str | None = None, include_final: bool = False
) -> list[tuple[int, str, int]]:
    """(link id, pidx, payment id) of links Khalti has not reported final, least recently checked first.

    Only three small values a link, so a run over 100,000 links stays small in memory.
    """
    states = "('open', 'final')" if include_final else "('open')"
    sql = f"SELECT id, pidx, payment_id FROM links WHERE pidx IS NOT NULL AND state IN {states}"
    params: list[Any] = []
    if checked_before:
        sql += " AND (checked_at IS NULL OR checked_at < ?)"
        params.append(checked_before)
    sql += " ORDER BY checked_at IS NOT NULL, checked_at, id"
    if limit is not None:
        sql += " LIMIT ?"
        params.append(limit)
    try:
        return [(int(r[0]), str(r[1]), int(r[2])) for r in store.conn.execute(sql, params).fetchall()]
    except sqlite3.Error as exc:
        raise translate(exc, store.path) from None


def links_in_flight(store: Store, payment_id: int, *, since: str) -> list[Row]:
    """A payment's links whose initiate is being sent now (claimed at or after `since`, no answer yet)."""
    return list(
        store.query(
            "SELECT * FROM links WHERE payment_id = ? AND state = 'sending' AND created_at >= ?", [payment_id, since]
        )
    )


def dangling_links(store: Store, created_before: str) -> list[Row]:
    """Initiates whose answer never reached us (killed or timed out after sending)."""
    return list(
        store.query(
            "SELECT * FROM links WHERE state IN ('sending', 'unknown') AND created_at < ? ORDER BY id",
            [created_before],
        )
    )


# --- import, payers, report (the accounts office's day) ----------------------------------------

# The columns an import writes, in this order (the rows handed to insert_payments are tuples).
IMPORT_COLUMNS = (
    "order_id",
    "name",
    "amount_paisa",
    "status",
    "customer_name",
    "customer_email",
    "customer_phone",
    "reference",
    "payer_ref",
    "created_at",
    "updated_at",
)


def payments_by_order_ids(store: Store, order_ids: Sequence[str]) -> dict[str, Row]:
    found: dict[str, Row] = {}
    for start in range(0, len(order_ids), 500):
        chunk = list(order_ids[start : start + 500])
        marks = ",".join("?" * len(chunk))
        for row in store.query(f"SELECT * FROM payments WHERE order_id IN ({marks})", chunk):
            found[row["order_id"]] = row
    return found


def max_payment_id(store: Store) -> int:
    row = store.conn.execute("SELECT COALESCE(MAX(id), 0) FROM payments").fetchone()
    return int(row[0])


# A bill's payments: an import's columns, the BS period, fee heads (JSON) and the class billed.
BILL_COLUMNS = (*IMPORT_COLUMNS, "period", "heads", "group_name")


def insert_payments(
    store: Store, rows: Sequence[tuple[Any, ...]], *, message: str, columns: Sequence[str] = IMPORT_COLUMNS
) -> tuple[int, int]:
    """Many new payments (tuples in `columns` order) and their 'created' events, in the caller's
    transaction. Returns the (first, last) id given: the caller holds the write lock, so they are a range."""
    if not rows:
        return (0, -1)
    conn = store.conn
    first = max_payment_id(store) + 1
    cols = ", ".join(columns)
    marks = ", ".join("?" * len(columns))
    conn.executemany(f"INSERT INTO payments ({cols}) VALUES ({marks})", rows)
    last = max_payment_id(store)
    conn.execute(
        "INSERT INTO events (payment_id, at, kind, to_status, message, actor) "
        "SELECT id, created_at, 'created', 'created', "
        "printf('Recorded %s for %s (%s)', khalti_rupees(amount_paisa), name, ?), ? "
        "FROM payments WHERE id BETWEEN ? AND ?",
        [message, current_actor(), first, last],
    )
    return (first, last)


def payments_in_range(store: Store, first: int, last: int) -> Iterator[Row]:
    return store.query("SELECT * FROM payments WHERE id BETWEEN ? AND ? ORDER BY id", [first, last])


def payments_in_range_json(store: Store, record_sql: str, first: int, last: int) -> Iterator[bytes]:
    """payments_in_range as UTF-8 JSON made by SQLite (see record_json_sql)."""
    _bs_function(store)
    try:
        cursor = store.conn.execute(
            f"SELECT CAST({record_sql} AS BLOB) FROM payments WHERE id BETWEEN ? AND ? ORDER BY id", [first, last]
        )
        while rows := cursor.fetchmany(2000):
            for row in rows:
                yield row[0]
    except sqlite3.Error as exc:
        raise translate(exc, store.path) from None


def get_payer(store: Store, reference: str) -> Row | None:
    return store.one("SELECT * FROM payers WHERE reference = ?", [reference])


def insert_payer(store: Store, row: Row) -> int:
    return _insert(store, "payers", row)


def update_payer(store: Store, payer_id: int, changes: Row) -> None:
    _update(store, "payers", payer_id, changes)


def list_payers(store: Store, *, search: str | None = None, group: str | None = None) -> Iterator[Row]:
    where: list[str] = []
    params: list[Any] = []
    if search:
        _search(where, params, search, "name", "reference")
    if group is not None:
        where.append("group_name = ?")
        params.append(group)
    sql = "SELECT * FROM payers"
    if where:
        sql += " WHERE " + " AND ".join(where)
    return store.query(sql + " ORDER BY group_name, reference", params)


def payer_status_totals(store: Store, payer_ref: str) -> list[Row]:
    """Per status: how many payments and their amounts, refunds and fees, for one payer."""
    return list(
        store.query(
            "SELECT status, COUNT(*) AS count, SUM(amount_paisa) AS amount_paisa, "
            "SUM(COALESCE(refunded_paisa, 0)) AS refunded_paisa, SUM(COALESCE(fee_paisa, 0)) AS fee_paisa "
            "FROM payments WHERE payer_ref = ? GROUP BY status ORDER BY status",
            [payer_ref],
        )
    )


def status_totals(
    store: Store, *, since: str | None, until: str | None, periods: tuple[str, str] | None = None
) -> list[Row]:
    """Per status, payments of the period (see _period): count, amount, Khalti fees, refunds."""
    where, params = _period(since, until, periods)
    return list(
        store.query(
            "SELECT status, COUNT(*) AS count, SUM(amount_paisa) AS amount_paisa, "
            "SUM(COALESCE(fee_paisa, 0)) AS fee_paisa, "
            f"SUM({_REFUNDED}) AS refunded_paisa "
            f"FROM payments{where} GROUP BY status ORDER BY status",
            params,
        )
    )


_REFUNDED = (
    "CASE WHEN COALESCE(refunded_paisa, 0) > 0 THEN refunded_paisa "
    "WHEN status = 'refunded' THEN amount_paisa ELSE 0 END"
)


def class_status_totals(
    store: Store, *, since: str | None, until: str | None, periods: tuple[str, str] | None = None
) -> list[Row]:
    """Per class (billed class, else the payer's) and status: count, amount, Khalti fees, refunds."""
    where, params = _period(since, until, periods)
    return list(
        store.query(
            "SELECT COALESCE(payments.group_name, r.group_name) AS class, status, COUNT(*) AS count, "
            "SUM(amount_paisa) AS amount_paisa, SUM(COALESCE(fee_paisa, 0)) AS fee_paisa, "
            f"SUM({_REFUNDED}) AS refunded_paisa FROM payments "
            f"LEFT JOIN payers r ON r.reference = payments.payer_ref{where} "
            "GROUP BY class, status ORDER BY class IS NULL, class, status",
            params,
        )
    )


def paid_moments(
    store: Store,
    statuses: Sequence[str],
    *,
    since: str | None,
    until: str | None,
    periods: tuple[str, str] | None = None,
) -> list[Row]:
    """(amount_paisa, paid_at) of payments of the period that are in one of `statuses`; paid_at is when this
    tool first saw the payment paid (its first status event to a paid status; else paid_at, stored with its
    receipt number)."""
    where, params = _period(since, until, periods)
    marks = ",".join("?" * len(statuses))
    where = (where + " AND" if where else " WHERE") + f" payments.status IN ({marks})"
    return list(
        store.query(
            "SELECT payments.amount_paisa AS amount_paisa, COALESCE("
            "(SELECT MIN(e.at) FROM events e WHERE e.payment_id = payments.id AND e.kind = 'status' "
            "AND e.to_status IN ('completed', 'partially_refunded', 'refunded', 'paid_offline')), "
            "payments.paid_at, payments.updated_at) AS paid_at "
            f"FROM payments{where}",
            [*params, *statuses],
        )
    )


def open_payments(store: Store) -> Iterator[Row]:
    """Payments with a live link (initiated or pending)."""
    return store.query(
        "SELECT order_id, name, amount_paisa, status, customer_name, payer_ref, payment_url, expires_at "
        "FROM payments WHERE status IN ('initiated', 'pending') AND expires_at IS NOT NULL ORDER BY id"
    )


def _period(since: str | None, until: str | None, periods: tuple[str, str] | None = None) -> tuple[str, list[Any]]:
    """Payments created in [since, until); with `periods` (first, last BS YYYY-MM), the payments billed for
    those months, and the ones with no period created in [since, until)."""
    where: list[str] = []
    params: list[Any] = []
    if since:
        where.append("payments.created_at >= ?")
        params.append(since)
    if until:
        where.append("payments.created_at < ?")
        params.append(until)
    if periods is not None:
        dated = " AND ".join(["payments.period IS NULL", *where])
        where = [f"(payments.period BETWEEN ? AND ? OR ({dated}))"]
        params = [*periods, *params]
    return (" WHERE " + " AND ".join(where) if where else "", params)


def _new_token() -> str:
    import secrets  # here, not at the top: its hashlib costs every command start-up

    return secrets.token_urlsafe(PAY_TOKEN_BYTES)
