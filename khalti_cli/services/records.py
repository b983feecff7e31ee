"""Rows -> the contract's records (JSON keys, amounts as rupee text and paisa)."""

from __future__ import annotations

from typing import Any

from khalti_cli.calendar import bs_of_stamp
from khalti_cli.money import format_paisa
from khalti_cli.times import machine, machine_times, zone_key

RECORD_KEYS = (
    "order_id",
    "name",
    "amount",
    "amount_paisa",
    "status",
    "khalti_status",
    "pidx",
    "payment_url",
    "expires_at",
    "transaction_id",
    "total_amount_paisa",
    "fee_paisa",
    "refunded",
    "refunded_paisa",
    "customer_name",
    "customer_email",
    "customer_phone",
    "reference",
    "review_reason",
    "failure_reason",
    "created_at",
    "updated_at",
    "checked_at",
    "payer",
    "decision",
    "settle_method",
    "settle_reference",
    "settle_date",
    "pay_url",
    "period",
    "heads",
    "receipt_no",
    "paid_at",
    "created_at_bs",
    "paid_at_bs",
)
# What `list` shows on a terminal: who, for what, how much, where it stands, when (local time).
TABLE_COLUMNS = ("order_id", "customer_name", "name", "amount", "status", "created_at")


# KHALTI_PUBLIC_URL of this process (set once, when the settings are loaded): records carry
# pay_url = <public url>/pay/<token> when it is set and the payment has a token.
_public_url: str | None = None


def set_public_url(url: str | None) -> None:
    global _public_url
    _public_url = url


def public_url() -> str | None:
    return _public_url


def pay_url_of(token: str | None) -> str | None:
    return f"{_public_url}/pay/{token}" if _public_url and token else None


def payment_record(row: dict[str, Any]) -> dict[str, Any]:
    record = {key: row.get(key) for key in RECORD_KEYS}
    record["amount"] = format_paisa(row["amount_paisa"])
    record["expires_at"] = machine(row.get("expires_at"))  # Khalti's +05:45, from databases made before
    record["refunded"] = bool(row.get("refunded"))
    record["refunded_paisa"] = row.get("refunded_paisa") or 0
    record["payer"] = row.get("payer_ref")
    record["pay_url"] = pay_url_of(row.get("pay_token"))
    record["heads"] = load_heads(row) or None
    zone = zone_key()
    record["created_at_bs"] = bs_of_stamp(row.get("created_at"), zone)
    record["paid_at_bs"] = bs_of_stamp(row.get("paid_at"), zone)
    return record


def link_record(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "pidx": row.get("pidx"),
        "state": row["state"],
        "khalti_status": row.get("khalti_status"),
        "amount_paisa": row["amount_paisa"],
        "payment_url": row.get("payment_url"),
        "expires_at": machine(row.get("expires_at")),
        "transaction_id": row.get("transaction_id"),
        "total_amount_paisa": row.get("total_amount_paisa"),
        "fee_paisa": row.get("fee_paisa"),
        "refunded": bool(row.get("refunded")),
        "created_at": row["created_at"],
        "checked_at": row.get("checked_at"),
    }


EVENT_KEYS = ("at", "kind", "outcome", "pidx", "from_status", "to_status", "actor", "message")


def event_record(row: dict[str, Any], order_id: str) -> dict[str, Any]:
    record: dict[str, Any] = {"order_id": order_id}
    record.update({key: row.get(key) for key in EVENT_KEYS})
    import json  # here: `list` never needs it, and it costs start-up

    # the one machine convention, also for details stored before it (Khalti's +05:45, microseconds)
    record["detail"] = machine_times(json.loads(row["detail"])) if row.get("detail") else None
    return record


def load_heads(row: dict[str, Any]) -> list[dict[str, Any]]:
    """A billed payment's fee heads ([{"label", "amount_paisa"}]); [] when it has none."""
    heads = row.get("heads")
    if not heads:
        return []
    import json

    return list(json.loads(heads))
