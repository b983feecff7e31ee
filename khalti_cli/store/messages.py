"""SQL of the message ledger (table `messages`) and the payers' opt-outs. Plain SQL on the hot path."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from khalti_cli.actor import current_actor
from khalti_cli.clock import stamp
from khalti_cli.store.db import Store
from khalti_cli.store.queries import Row, dump_json
from khalti_cli.times import machine_times

LEFT = ("sending", "sent", "unknown")  # states of a message that may have reached the gateway
PAID = ("completed", "paid_offline")  # a fee paid: a thank-you is due
UNPAID = ("created", "initiated", "expired", "canceled", "failed")  # a fee still owed: reminders

# A payment with the contacts a message needs: the register's (current) ones first, else the payment's.
_CANDIDATE = (
    "SELECT p.*, COALESCE(NULLIF(r.name, ''), p.customer_name) AS payer_name, "
    "COALESCE(NULLIF(r.phone, ''), p.customer_phone) AS to_phone, "
    "COALESCE(NULLIF(r.email, ''), p.customer_email) AS to_email, "
    "COALESCE(r.no_sms, 0) AS no_sms, COALESCE(r.no_email, 0) AS no_email, r.group_name AS payer_group "
    "FROM payments p LEFT JOIN payers r ON r.reference = p.payer_ref"
)


def candidates_by_order_ids(store: Store, order_ids: Sequence[str]) -> dict[str, Row]:
    found: dict[str, Row] = {}
    for start in range(0, len(order_ids), 500):
        chunk = list(order_ids[start : start + 500])
        sql = f"{_CANDIDATE} WHERE p.order_id IN ({','.join('?' * len(chunk))})"
        found.update((r["order_id"], r) for r in store.query(sql, chunk))
    return found


def unpaid(store: Store, *, group: str | None, payer: str | None, period: str | None) -> Iterator[Row]:
    where = [f"p.status IN ({','.join('?' * len(UNPAID))})"]
    params: list[Any] = list(UNPAID)
    if group is not None:
        where.append("r.group_name = ?")
        params.append(group)
    if payer is not None:
        where.append("p.payer_ref = ?")
        params.append(payer)
    if period is not None:
        where.append("p.period = ?")
        params.append(period)
    return store.query(f"{_CANDIDATE} WHERE {' AND '.join(where)} ORDER BY p.id", params)


def newly_paid(store: Store, since: str) -> Iterator[Row]:
    """Paid payments whose last change to a paid status is after `since` (the ledger's keys keep each
    thank-you to one per payment and channel)."""
    marks = ",".join("?" * len(PAID))
    return store.query(
        f"SELECT * FROM ({_CANDIDATE} WHERE p.status IN ({marks})) AS c "
        "WHERE COALESCE((SELECT MAX(e.at) FROM events e WHERE e.payment_id = c.id "
        f"AND e.to_status IN ({marks})), c.updated_at) >= ? ORDER BY c.id",
        [*PAID, *PAID, since],
    )


def pay_tokens(store: Store, payment_ids: Sequence[int]) -> dict[int, str]:
    """The pay-page tokens of these payments (those that have one), by payment id."""
    found: dict[int, str] = {}
    for start in range(0, len(payment_ids), 500):
        chunk = list(payment_ids[start : start + 500])
        sql = f"SELECT id, pay_token FROM payments WHERE pay_token IS NOT NULL AND id IN ({','.join('?' * len(chunk))})"
        found.update((int(r["id"]), str(r["pay_token"])) for r in store.query(sql, chunk))
    return found


def ledger_of(store: Store, kind: str, payment_ids: Sequence[int]) -> dict[int, list[Row]]:
    """Every message of this kind of these payments, by payment (one query a 500 payments)."""
    found: dict[int, list[Row]] = {}
    for start in range(0, len(payment_ids), 500):
        chunk = list(payment_ids[start : start + 500])
        sql = (
            "SELECT id, payment_id, channel, dedupe_key, state, sent_at, updated_at FROM messages "
            f"WHERE kind = ? AND payment_id IN ({','.join('?' * len(chunk))})"
        )
        for row in store.query(sql, [kind, *chunk]):
            found.setdefault(int(row["payment_id"]), []).append(row)
    return found


def plan(store: Store, row: Row, *, reuse_id: int | None, at: str) -> int:
    """Record one message as queued (a new row, or a queued/failed one again); its event comes from
    `add_events`. Returns the message id."""
    if reuse_id is not None:
        store.conn.execute(
            "UPDATE messages SET recipient = ?, body_sha256 = ?, segments = ?, state = 'queued', answer = NULL, "
            "updated_at = ? WHERE id = ?",
            [row["recipient"], row["body_sha256"], row["segments"], at, reuse_id],
        )
        return reuse_id
    cursor = store.conn.execute(
        "INSERT INTO messages (payment_id, kind, channel, recipient, dedupe_key, body_sha256, segments, "
        "state, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, 'queued', ?, ?)",
        [
            row["payment_id"],
            row["kind"],
            row["channel"],
            row["recipient"],
            row["dedupe_key"],
            row["body_sha256"],
            row["segments"],
            at,
            at,
        ],
    )
    return int(cursor.lastrowid or 0)


def mark(store: Store, message_id: int, state: str, answer: str | None = None) -> None:
    """One message's new state (and its event, unless it is only being handed over)."""
    row = store.one("SELECT * FROM messages WHERE id = ?", [message_id])
    if row is not None:
        mark_many(store, [(row, state, answer)])


# (the message row, or any dict with id, payment_id, kind, channel, recipient; new state; answer or None)
Change = tuple[Row, str, "str | None"]

_WORDS = {
    "queued": "recorded, to be sent",
    "sent": "sent",
    "failed": "not sent",
    "unknown": "outcome unknown: it may have been sent; not sent again by itself",
}


def mark_many(store: Store, changes: Sequence[Change], *, at: str | None = None) -> None:
    """New states for many messages in two statements; an event each, except for `sending` (a hand-over)."""
    at = at or stamp()
    store.conn.executemany(
        "UPDATE messages SET state = ?, answer = COALESCE(?, answer), updated_at = ?, "
        "sent_at = CASE WHEN ? = 'sent' THEN ? ELSE sent_at END WHERE id = ?",
        [(state, answer, at, state, at, row["id"]) for row, state, answer in changes],
    )
    add_events(store, [(row, state, answer) for row, state, answer in changes if state != "sending"], at=at)


def add_events(store: Store, changes: Sequence[Change], *, at: str) -> None:
    actor = current_actor()  # who ran notify/remind (KHALTI_ACTOR or the login), as on every event
    rows = []
    for row, outcome, said in changes:
        detail: dict[str, Any] = {"message_id": row["id"], "channel": row["channel"], "recipient": row["recipient"]}
        if said:
            detail["answer"] = said
        words = _WORDS.get(outcome, outcome)
        message = f"{row['kind']} {row['channel']} to {row['recipient']}: {words}"
        rows.append((row["payment_id"], at, "message", outcome, message, dump_json(machine_times(detail)), actor))
    store.conn.executemany(
        "INSERT INTO events (payment_id, at, kind, outcome, message, detail, actor) VALUES (?, ?, ?, ?, ?, ?, ?)",
        rows,
    )


def orphans(store: Store) -> list[Row]:
    """Messages handed to a gateway by a run that never heard back (it was killed): now unknown."""
    return list(store.query("SELECT * FROM messages WHERE state = 'sending' ORDER BY id"))


def list_messages(store: Store, *, states: Sequence[str] = (), order_id: str | None = None) -> Iterator[Row]:
    where: list[str] = []
    params: list[Any] = []
    if states:
        where.append(f"m.state IN ({','.join('?' * len(states))})")
        params.extend(states)
    if order_id:
        where.append("p.order_id = ?")
        params.append(order_id)
    sql = (
        "SELECT m.id, p.order_id, m.kind, m.channel, m.recipient, m.state, m.segments, m.answer, m.created_at, "
        "m.sent_at, m.updated_at FROM messages m JOIN payments p ON p.id = m.payment_id"
        + (f" WHERE {' AND '.join(where)}" if where else "")
        + " ORDER BY m.id"
    )
    return store.query(sql, params)


def set_opt_out(store: Store, reference: str, channel: str, out: bool) -> None:
    column = {"sms": "no_sms", "email": "no_email"}[channel]
    store.conn.execute(
        f"UPDATE payers SET {column} = ?, updated_at = ? WHERE reference = ?", [int(out), stamp(), reference]
    )
