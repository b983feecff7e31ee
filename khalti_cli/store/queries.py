"""Every SQL statement the services run. Rows are plain dicts; amounts integer paisa."""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from typing import Any

from khalti_cli.clock import stamp
from khalti_cli.store.db import Store

Row = dict[str, Any]


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
            r["order_id"]
            for r in store.query(f"SELECT order_id FROM payments WHERE order_id IN ({marks})", chunk)
        )
    return found


def get_link(store: Store, pidx: str) -> Row | None:
    return store.one("SELECT * FROM links WHERE pidx = ?", [pidx])


def links_of(store: Store, payment_id: int) -> list[Row]:
    return list(store.query("SELECT * FROM links WHERE payment_id = ? ORDER BY id", [payment_id]))


def events_of(store: Store, payment_id: int) -> list[Row]:
    return list(store.query("SELECT * FROM events WHERE payment_id = ? ORDER BY id", [payment_id]))


def insert_payment(store: Store, row: Row) -> int:
    table: Any = store.db.table("payments")
    table.insert(row)
    return int(table.last_pk)


def update_payment(store: Store, payment_id: int, changes: Row) -> None:
    if changes:
        store.db.table("payments").update(payment_id, changes)


def insert_link(store: Store, row: Row) -> int:
    table: Any = store.db.table("links")
    table.insert(row)
    return int(table.last_pk)


def update_link(store: Store, link_id: int, changes: Row) -> None:
    if changes:
        store.db.table("links").update(link_id, changes)


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
) -> None:
    store.db.table("events").insert(
        {
            "payment_id": payment_id,
            "pidx": pidx,
            "at": at or stamp(),
            "kind": kind,
            "outcome": outcome,
            "from_status": from_status,
            "to_status": to_status,
            "message": message,
            "detail": None if detail is None else json.dumps(detail, ensure_ascii=False, sort_keys=True),
        }
    )


def list_payments(
    store: Store,
    *,
    statuses: Sequence[str] = (),
    since: str | None = None,
    until: str | None = None,
    reference: str | None = None,
    limit: int | None = None,
) -> Iterator[Row]:
    where: list[str] = []
    params: list[Any] = []
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
    sql = "SELECT * FROM payments"
    if where:
        sql += " WHERE " + " AND ".join(where)
    sql += " ORDER BY created_at DESC, id DESC"
    if limit is not None:
        sql += " LIMIT ?"
        params.append(limit)
    return store.query(sql, params)


def links_to_check(
    store: Store, *, limit: int | None = None, checked_before: str | None = None, include_final: bool = False
) -> list[Row]:
    """Links with a pidx that Khalti has not reported final, least recently checked first."""
    states = "('open', 'final')" if include_final else "('open')"
    sql = (
        "SELECT links.*, payments.order_id AS order_id FROM links "
        "JOIN payments ON payments.id = links.payment_id "
        f"WHERE links.pidx IS NOT NULL AND links.state IN {states}"
    )
    params: list[Any] = []
    if checked_before:
        sql += " AND (links.checked_at IS NULL OR links.checked_at < ?)"
        params.append(checked_before)
    sql += " ORDER BY links.checked_at IS NOT NULL, links.checked_at, links.id"
    if limit is not None:
        sql += " LIMIT ?"
        params.append(limit)
    return list(store.query(sql, params))


def dangling_links(store: Store, created_before: str) -> list[Row]:
    """Initiates whose answer never reached us (killed or timed out after sending)."""
    return list(
        store.query(
            "SELECT * FROM links WHERE state IN ('sending', 'unknown') AND created_at < ? ORDER BY id",
            [created_before],
        )
    )
