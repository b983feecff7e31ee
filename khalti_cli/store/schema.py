"""Schema migrations, applied on every open. Never edit a released migration: add a new one."""

from __future__ import annotations

from typing import Any

from sqlite_utils import Database, Migrations

from khalti_cli.store.db import SCHEMA_VERSION

migrations = Migrations("khalti")

# SCHEMA_VERSION (in db.py, so that opening never imports sqlite-utils) must equal the number of
# migrations below: bump it there with every new one. tests/test_store.py checks this.
__all__ = ["SCHEMA_VERSION", "migrations"]


@migrations()
def m001_core(db: Database) -> None:
    payments: Any = db.table("payments")
    payments.create(
        {
            "id": int,
            "order_id": str,
            "name": str,
            "amount_paisa": int,
            "status": str,
            "review_reason": str,
            "failure_reason": str,
            "customer_name": str,
            "customer_email": str,
            "customer_phone": str,
            "reference": str,
            "khalti_status": str,
            "pidx": str,
            "payment_url": str,
            "expires_at": str,
            "transaction_id": str,
            "total_amount_paisa": int,
            "fee_paisa": int,
            "refunded": int,
            "refunded_paisa": int,
            "created_at": str,
            "updated_at": str,
            "checked_at": str,
        },
        pk="id",
        not_null={"order_id", "name", "amount_paisa", "status", "created_at", "updated_at"},
        defaults={"refunded": 0, "refunded_paisa": 0},
        strict=True,
    )
    payments.create_index(["order_id"], unique=True)
    payments.create_index(["status"])
    payments.create_index(["created_at"])
    payments.create_index(["reference"])

    links: Any = db.table("links")
    links.create(
        {
            "id": int,
            "payment_id": int,
            "pidx": str,
            # sending: request written before it goes out; open: Khalti has not reported it final;
            # final: Khalti reported a final status; unknown: the answer was lost; void: never usable.
            "state": str,
            "khalti_status": str,
            "payment_url": str,
            "expires_at": str,
            "total_amount_paisa": int,
            "transaction_id": str,
            "fee_paisa": int,
            "refunded": int,
            "amount_paisa": int,
            "initiate_response": str,
            "lookup_response": str,
            "lookup_http_status": int,
            "created_at": str,
            "updated_at": str,
            "checked_at": str,
        },
        pk="id",
        not_null={"payment_id", "state", "amount_paisa", "created_at", "updated_at"},
        foreign_keys=[("payment_id", "payments", "id")],
        strict=True,
    )
    links.create_index(["pidx"], unique=True)
    links.create_index(["payment_id"])
    links.create_index(["state", "checked_at"])

    events: Any = db.table("events")
    events.create(
        {
            "id": int,
            "payment_id": int,
            "pidx": str,
            "at": str,
            "kind": str,
            "outcome": str,
            "from_status": str,
            "to_status": str,
            "message": str,
            "detail": str,
        },
        pk="id",
        not_null={"payment_id", "at", "kind"},
        foreign_keys=[("payment_id", "payments", "id")],
        strict=True,
    )
    events.create_index(["payment_id", "id"])


@migrations()
def m002_payers(db: Database) -> None:
    """The register of who pays (student id, name, class or group, phone, email), and payments.payer_ref.

    A payment copies the payer's details when it is made, so later changes to the register never
    rewrite payments already made; payer_ref ties it back to the register for the payer's history.
    """
    payers: Any = db.table("payers")
    payers.create(
        {
            "id": int,
            "reference": str,
            "name": str,
            "group_name": str,
            "phone": str,
            "email": str,
            "created_at": str,
            "updated_at": str,
        },
        pk="id",
        not_null={"reference", "name", "created_at", "updated_at"},
        strict=True,
    )
    payers.create_index(["reference"], unique=True)
    payments: Any = db.table("payments")
    payments.add_column("payer_ref", str)
    payments.create_index(["payer_ref"])


@migrations()
def m003_corrections(db: Database) -> None:
    """Corrections (void, settle, resolve) and who did what.

    events.actor: the login (or KHALTI_ACTOR) behind every event. payments.decision: a person's standing
    decision (voided, paid_offline, or completed by resolve) and payments.accepted: the problem keys it
    accepted (JSON list), so that only a new problem sends the payment back to review. settle_*: how a fee
    paid outside Khalti was paid (cash, bank, cheque, other), its reference and date.
    """
    events: Any = db.table("events")
    events.add_column("actor", str)
    payments: Any = db.table("payments")
    for column in ("decision", "accepted", "settle_method", "settle_reference", "settle_date"):
        payments.add_column(column, str)


@migrations()
def m004_pay_page(db: Database) -> None:
    """The pay page (khalti serve): payments.pay_token, the random token in the payment's durable pay_url
    (made when first needed, see services.paylink), and payments.pending_since, when Khalti first reported
    the payment Pending (a payment pending too long goes to review)."""
    payments: Any = db.table("payments")
    payments.add_column("pay_token", str)
    payments.add_column("pending_since", str)
    # NULLs do not collide in an SQLite unique index: only made tokens must be unique.
    payments.create_index(["pay_token"], unique=True)


@migrations()
def m005_school_year(db: Database) -> None:
    """The Nepali school year: a payment's BS period, fee heads and class (khalti bill), its receipt number (given
    once, when first seen paid, sequential within the BS fiscal year) and when its receipt was printed.

    receipt_counters holds the last number given per fiscal year ('2082/83'); it is advanced in the same
    transaction that stores the paid status (store.queries.update_payment), so numbers have no gaps.
    Payments already paid before this migration get their numbers now, in the order they were paid.
    """
    payments: Any = db.table("payments")
    for column in ("period", "heads", "group_name", "receipt_no", "paid_at", "receipt_printed_at"):
        payments.add_column(column, str)
    payments.create_index(["period"])
    payments.create_index(["payer_ref", "period"])
    payments.create_index(["receipt_no"], unique=True)
    counters: Any = db.table("receipt_counters")
    counters.create({"fiscal_year": str, "last_no": int}, pk="fiscal_year", not_null={"last_no"}, strict=True)
    from khalti_cli.store.school import RECEIPT_STATUSES, give_receipt_no

    marks = ",".join("?" * len(RECEIPT_STATUSES))
    paid = db.conn.execute(
        "SELECT id, COALESCE((SELECT MIN(e.at) FROM events e WHERE e.payment_id = payments.id AND e.kind = 'status' "
        f"AND e.to_status IN ({marks})), updated_at) AS paid_at FROM payments WHERE status IN ({marks}) "
        "ORDER BY paid_at, id",
        [*sorted(RECEIPT_STATUSES), *sorted(RECEIPT_STATUSES)],
    ).fetchall()
    for payment_id, paid_at in paid:
        give_receipt_no(db.conn, payment_id, paid_at)


@migrations()
def m006_messages(db: Database) -> None:
    """The message ledger (fee messages, reminders, thank-yous to parents) and the payers' opt-outs.

    A message row is committed before the message goes out; `dedupe_key` is unique, so two runs (or a
    run after a crash) can never plan the same message twice. States: queued (recorded, not handed to the
    gateway: safe to send), sending (handed over: a crash now leaves it unknown), sent, failed (nothing
    went out), unknown (it may have gone: never sent again by itself).
    """
    messages: Any = db.table("messages")
    messages.create(
        {
            "id": int,
            "payment_id": int,
            "kind": str,  # fee | reminder | thanks
            "channel": str,  # sms | email
            "recipient": str,
            "dedupe_key": str,
            "body_sha256": str,
            "segments": int,
            "state": str,
            "answer": str,  # the gateway's answer, capped, secrets removed
            "created_at": str,
            "updated_at": str,
            "sent_at": str,
        },
        pk="id",
        not_null={"payment_id", "kind", "channel", "recipient", "dedupe_key", "state", "created_at", "updated_at"},
        foreign_keys=[("payment_id", "payments", "id")],
        strict=True,
    )
    messages.create_index(["dedupe_key"], unique=True)
    messages.create_index(["payment_id", "kind", "created_at"])
    messages.create_index(["state"])
    payers: Any = db.table("payers")
    payers.add_column("no_sms", int, not_null_default=0)
    payers.add_column("no_email", int, not_null_default=0)
