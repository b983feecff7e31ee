"""The school year's queries: receipt numbers (given inside update_payment's transaction), the payers of
classes, a period's bills, fees by class, receipts not printed yet."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Sequence
from typing import Any

from khalti_cli.store.db import Store

Row = dict[str, Any]

# A payment in one of these has been paid (to us, at some time): it gets a receipt number.
RECEIPT_STATUSES = frozenset(("completed", "partially_refunded", "refunded", "paid_offline"))


def give_receipt_no(conn: sqlite3.Connection, payment_id: int, paid_at: str) -> str | None:
    """The payment's receipt number: the next one of the BS fiscal year of `paid_at` if it has none yet.

    Called only inside a write transaction (BEGIN IMMEDIATE), which serialises every writer, so the counter
    read-and-advance and the payment's number are one atomic step: no number is given twice or skipped."""
    row = conn.execute("SELECT receipt_no FROM payments WHERE id = ?", [payment_id]).fetchone()
    if row is None or row[0] is not None:
        return None if row is None else str(row[0])
    from khalti_cli.calendar import fiscal_label, fiscal_year_of
    from khalti_cli.times import local_day

    year = fiscal_label(fiscal_year_of(local_day(paid_at)))
    number = conn.execute(
        "INSERT INTO receipt_counters (fiscal_year, last_no) VALUES (?, 1) "
        "ON CONFLICT (fiscal_year) DO UPDATE SET last_no = last_no + 1 RETURNING last_no",
        [year],
    ).fetchone()[0]
    receipt_no = f"{year}-{number:06d}"
    conn.execute("UPDATE payments SET receipt_no = ?, paid_at = ? WHERE id = ?", [receipt_no, paid_at, payment_id])
    return receipt_no


def payers_in_groups(store: Store, groups: Sequence[str] | None) -> list[Row]:
    """The payers of these classes or groups (every payer with a group when None), by group and reference."""
    if groups is None:
        return list(store.query("SELECT * FROM payers WHERE group_name IS NOT NULL ORDER BY group_name, reference"))
    marks = ",".join("?" * len(groups))
    return list(
        store.query(f"SELECT * FROM payers WHERE group_name IN ({marks}) ORDER BY group_name, reference", list(groups))
    )


def bills_of_period(store: Store, period: str) -> dict[str, list[str]]:
    """payer reference -> order ids of the payments billed for this BS period."""
    found: dict[str, list[str]] = {}
    sql = "SELECT payer_ref, order_id FROM payments WHERE period = ? AND payer_ref IS NOT NULL"
    for r in store.query(sql, [period]):
        found.setdefault(r["payer_ref"], []).append(r["order_id"])
    return found


def unprinted_receipts(store: Store) -> list[Row]:
    """Paid payments whose receipt is not printed yet, in receipt number order, with the payer's class."""
    marks = ",".join("?" * len(RECEIPT_STATUSES))
    return list(
        store.query(
            "SELECT p.*, r.group_name AS payer_group FROM payments p LEFT JOIN payers r ON r.reference = p.payer_ref "
            f"WHERE p.receipt_no IS NOT NULL AND p.receipt_printed_at IS NULL AND p.status IN ({marks}) "
            "ORDER BY p.receipt_no",
            sorted(RECEIPT_STATUSES),
        )
    )


def fee_rows(
    store: Store,
    statuses: Sequence[str],
    *,
    groups: Sequence[str] | None = None,
    period: str | None = None,
    payer: str | None = None,
) -> Iterator[Row]:
    """Payments in these statuses with their class (`class`: billed class, else the payer's), by class,
    payer and period; optionally only some classes, one BS period (YYYY-MM) or one payer."""
    conditions = [(f"p.status IN ({','.join('?' * len(statuses))})", list(statuses))]
    if groups:
        conditions.append((f"COALESCE(p.group_name, r.group_name) IN ({','.join('?' * len(groups))})", list(groups)))
    if period:
        conditions.append(("p.period = ?", [period]))
    if payer:
        conditions.append(("p.payer_ref = ?", [payer.strip()]))
    sql = (
        "SELECT p.*, COALESCE(p.group_name, r.group_name) AS class FROM payments p "
        "LEFT JOIN payers r ON r.reference = p.payer_ref WHERE " + " AND ".join(c for c, _ in conditions) + " "
        "ORDER BY class IS NULL, class, p.payer_ref, p.period, p.created_at, p.id"
    )
    return store.query(sql, [value for _, values in conditions for value in values])
