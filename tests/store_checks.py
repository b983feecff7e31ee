"""Helpers for the reliability tests: whole-row snapshots of the database, its invariants, and the
check that the secret key appears nowhere. Read with plain sqlite3, never through the package's store."""

from __future__ import annotations

import itertools
import json
import sqlite3
from pathlib import Path
from typing import Any

from conftest import TEST_KEY, Cli, control

from khalti_cli.sandbox import SandboxServer

Rows = dict[str, dict[str, Any]]


def connect(db: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(str(db), timeout=30)
    conn.row_factory = sqlite3.Row
    return conn


def snapshot(db: Path) -> dict[str, Rows]:
    """Every payment (by order id) and every link (by id), whole rows."""
    with connect(db) as conn:
        payments = {r["order_id"]: dict(r) for r in conn.execute("SELECT * FROM payments ORDER BY id")}
        links = {str(r["id"]): dict(r) for r in conn.execute("SELECT * FROM links ORDER BY id")}
    conn.close()
    return {"payments": payments, "links": links}


VOLATILE = ("updated_at", "checked_at")


def stable(snap: dict[str, Rows]) -> dict[str, Rows]:
    """A snapshot without the times a lookup refreshes (updated_at, checked_at)."""
    return {
        table: {key: {k: v for k, v in row.items() if k not in VOLATILE} for key, row in rows.items()}
        for table, rows in snap.items()
    }


def events(db: Path, order_id: str | None = None) -> list[dict[str, Any]]:
    conn = connect(db)
    sql = "SELECT events.*, payments.order_id FROM events JOIN payments ON payments.id = events.payment_id"
    params: list[Any] = []
    if order_id is not None:
        sql += " WHERE payments.order_id = ?"
        params.append(order_id)
    rows = [dict(r) for r in conn.execute(sql + " ORDER BY events.id", params)]
    conn.close()
    return rows


def changed_keys(before: dict[str, Any], after: dict[str, Any]) -> set[str]:
    return {k for k in set(before) | set(after) if before.get(k) != after.get(k)}


# The contract's rules ("Statuses"), written here independently of khalti_cli/statuses.py, so that a wrong
# rule in the program is caught by the invariant instead of being copied into it.
KHALTI_WORD = {  # Khalti's word, lower-cased with spaces folded -> the contract's status
    "initiated": "initiated",
    "pending": "pending",
    "completed": "completed",
    "refunded": "refunded",
    "partially refunded": "partially_refunded",
    "expired": "expired",
    "user canceled": "canceled",
    "failed": "failed",
}
PAID_STATUSES = {"completed", "refunded", "partially_refunded"}
HELD = {"completed", "partially_refunded"}  # money Khalti still holds on a link (a refunded link gave it back)
SET_BY_PEOPLE = {"voided", "paid_offline"}  # final statuses a person sets (khalti void / settle / resolve)


def known_problems(
    stored: str, amount_paisa: int, links: list[dict[str, Any]], decision: str | None
) -> tuple[list[str], list[str]]:
    """The problems a person must look at (contract "Statuses" and "Corrections", the README's "reason -> way
    out" table), each under the key `payments.accepted` stores once a person's decision accepted it
    (schema m003: a JSON list of problem keys), and the statuses of the links, oldest first."""
    problems: list[str] = []
    seen: list[str] = []
    held: list[dict[str, Any]] = []
    gave_back = False
    for link in links:
        word = link["khalti_status"]
        if word is None:
            status = "initiated"
        elif word == "not_found":  # Khalti does not know the pidx
            status = "review"
            problems.append(f"not_found:{link['pidx']}")
        else:
            status = KHALTI_WORD.get(" ".join(word.lower().split()), "review")
            if status == "review":  # a word Khalti's docs do not list
                problems.append(f"undocumented:{link['pidx']}:{word}")
        if status in HELD:
            held.append(link)
        gave_back = gave_back or status == "refunded"
        seen.append(status)
    for link in held:  # paid, for another amount than the payment's
        if link["total_amount_paisa"] != amount_paisa:
            problems.append(f"mismatch:{link['pidx']}:{link['total_amount_paisa']}")
    if len(held) > 1:  # paid twice on Khalti
        problems.append("double:" + ",".join(sorted(link["pidx"] for link in held)))
    for link in held:  # money that arrived after a person voided or settled the fee
        if decision == "voided":
            problems.append(f"paid_after_void:{link['pidx']}")
        elif decision == "paid_offline":
            problems.append(f"paid_twice:{link['pidx']}")
    # a paid payment whose links no longer show money held or given back (unless a person resolved it as
    # completed: that is the decision they took knowing it)
    if stored in PAID_STATUSES and not held and not gave_back and links and decision != "completed":
        problems.append(f"unpaid_after_paid:{links[-1]['pidx']}:{links[-1]['khalti_status']}")
    return problems, seen


def expected_status(
    stored: str,
    amount_paisa: int,
    links: list[dict[str, Any]],
    decision: str | None = None,
    accepted: frozenset[str] = frozenset(),
) -> str:
    """What a payment's links decide, from the contract alone (links oldest first, those with a pidx;
    `decision` and `accepted`: a person's standing decision and the problem keys it accepted):

    - a link never looked up counts as `initiated`; Khalti's word maps by the table above;
    - a problem (known_problems: a word Khalti does not document, a pidx Khalti does not know, money held for
      another amount, two links holding money, money after a void or a counter payment, a paid payment no
      longer shown paid) is `review`, unless a person's decision accepted it: only a NEW problem reopens;
    - `review` is sticky;
    - a person's `voided` or `paid_offline` holds; `completed` by resolve holds unless the links show paid;
    - otherwise: a link holding money decides (the oldest), else a link refunded in full for the exact
      amount (`refunded`), else the newest pending one, else the newest live one, else the newest link.
      A fully refunded extra link is not paid: one exact paid link and one refunded link are `completed`.
    """
    problems, seen = known_problems(stored, amount_paisa, links, decision)
    if stored == "review" or any(key not in accepted for key in problems):
        return "review"
    refunded_exact = [
        link
        for link, status in zip(links, seen, strict=True)
        if status == "refunded" and link["total_amount_paisa"] == amount_paisa
    ]
    status = next((s for s in seen if s in HELD), None)
    if status is None and refunded_exact:
        status = "refunded"
    for wanted in ("pending", "initiated"):
        if status is None and wanted in seen:
            status = wanted
    if status is None:
        status = seen[-1]
    if decision in SET_BY_PEOPLE or (decision == "completed" and status not in PAID_STATUSES):
        return decision
    return status


def check_invariants(db: Path) -> None:
    """The database is sound, and no status change is half-written:

    - PRAGMA integrity_check and foreign_key_check pass;
    - every payment's status is what its links and a person's standing decision decide (expected_status:
      the contract's rules, not the program's own);
    - every payment's history of status events is one unbroken chain ending in its current status;
    - no link is left 'sending' with a pidx, and every link with a pidx is open or final.
    """
    conn = connect(db)
    try:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert conn.execute("PRAGMA foreign_key_check").fetchall() == []
        for payment in (dict(r) for r in conn.execute("SELECT * FROM payments")):
            links = [
                dict(r) for r in conn.execute("SELECT * FROM links WHERE payment_id = ? ORDER BY id", [payment["id"]])
            ]
            for link in links:
                assert link["state"] in ("sending", "open", "final", "unknown", "void"), link
                if link["pidx"] is not None:
                    assert link["state"] in ("open", "final"), link
            looked = [link for link in links if link["pidx"] and link["state"] in ("open", "final")]
            if looked:
                accepted = frozenset(json.loads(payment["accepted"] or "[]"))
                decided = expected_status(
                    payment["status"], payment["amount_paisa"], looked, payment["decision"], accepted
                )
                assert decided == payment["status"], (payment["order_id"], decided, payment["status"], looked)
            chain = [
                dict(r)
                for r in conn.execute(
                    "SELECT * FROM events WHERE payment_id = ? AND to_status IS NOT NULL ORDER BY id", [payment["id"]]
                )
            ]
            assert chain, payment["order_id"]
            assert chain[0]["kind"] == "created" and chain[0]["to_status"] == "created"
            for previous, event in itertools.pairwise(chain):
                assert event["from_status"] == previous["to_status"], (payment["order_id"], previous, event)
            assert chain[-1]["to_status"] == payment["status"], (payment["order_id"], chain[-1], payment)
    finally:
        conn.close()


def assert_no_key(*texts: str, files: tuple[Path, ...] = ()) -> None:
    """The secret key appears in no output and no file (database, its WAL, exports, logs)."""
    for text in texts:
        assert TEST_KEY not in text
    needle = TEST_KEY.encode()
    for path in files:
        candidates = [path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-journal")]
        for candidate in candidates:
            if candidate.exists():
                assert needle not in candidate.read_bytes(), candidate


def db_files(db: Path) -> tuple[Path, ...]:
    return tuple(p for p in db.parent.iterdir() if p.name.startswith(db.name))


def pidx_of(db: Path, order_id: str) -> str:
    with connect(db) as conn:
        row = conn.execute("SELECT pidx FROM payments WHERE order_id = ?", [order_id]).fetchone()
    conn.close()
    assert row is not None and row[0], order_id
    return str(row[0])


def completed_payment(cli: Cli, server: SandboxServer, order_id: str, amount: str = "1500") -> str:
    """Create, initiate, pay (in the sandbox) and look up one payment; returns its pidx."""
    assert (
        cli(
            "create", "--amount", amount, "--name", "Tuition", "--order-id", order_id, "--customer-name", "Sita Sharma"
        ).exit_code
        == 0
    )
    started = cli("initiate", order_id)
    assert started.exit_code == 0, started.stderr
    pidx = started.stdout.strip().split("pidx=")[1]
    control(server, pidx, "complete")
    looked = cli("lookup", order_id)
    assert looked.stdout == f"{order_id}\tcompleted\n", looked.stderr
    return pidx


def sandbox_payment(server: SandboxServer, pidx: str) -> dict[str, Any]:
    payment = server.state.get(pidx)
    assert payment is not None
    return payment


def backdate(db: Path, sql: str, params: list[Any]) -> None:
    """Move times back, as if the clock had run on (e.g. past a grace period)."""
    conn = sqlite3.connect(str(db), timeout=30)
    with conn:
        conn.execute(sql, params)
    conn.close()


def lookup_body(payment: dict[str, Any], **extra: Any) -> dict[str, Any]:
    body = {k: payment[k] for k in ("pidx", "total_amount", "status", "transaction_id", "fee", "refunded")}
    body.update(extra)
    return json.loads(json.dumps(body))


def write_status(db: Path, order_id: str, status: str) -> None:
    """Store a status through the store's one payment writer (store.queries.update_payment), as the commands
    of other branches do (settle: paid_offline, void: voided)."""
    from khalti_cli.store import open_store
    from khalti_cli.store import queries as q

    store = open_store(db)
    try:
        row = q.get_payment(store, order_id)
        assert row is not None
        with store.write():
            q.update_payment(store, row["id"], {"status": status, "updated_at": row["updated_at"]})
    finally:
        store.close()
