"""`khalti edit`: change a fee while no link of it can be paid (created, or every link final and unpaid).
One transaction with its event, which keeps the old and new values of the fields that changed."""

from __future__ import annotations

from typing import Any

from khalti_cli import money
from khalti_cli.clock import stamp
from khalti_cli.errors import InvalidInput
from khalti_cli.services import validate
from khalti_cli.services.payments import find_payment
from khalti_cli.services.records import payment_record
from khalti_cli.store import Store
from khalti_cli.store import queries as q
from khalti_cli.times import local

EDITABLE = ("created", "expired", "canceled", "failed")

EDIT_FIELDS = ("amount_paisa", "name", "customer_name", "customer_email", "customer_phone", "reference", "payer_ref")


def edit_changes(
    store: Store,
    *,
    amount: str | None = None,
    name: str | None = None,
    customer_name: str | None = None,
    customer_email: str | None = None,
    customer_phone: str | None = None,
    reference: str | None = None,
    payer: str | None = None,
) -> dict[str, Any]:
    """The fields given, checked (None = not given; empty text clears an optional field)."""
    changes: dict[str, Any] = {}
    if amount is not None:
        changes["amount_paisa"] = money.parse_rupees(amount)
    if name is not None:
        changes["name"] = validate.text(name, "name", required=True)
    if customer_name is not None:
        changes["customer_name"] = validate.text(customer_name, "customer name")
    if customer_email is not None:
        changes["customer_email"] = validate.email(customer_email)
    if customer_phone is not None:
        changes["customer_phone"] = validate.phone(customer_phone, "--customer-phone")
    if reference is not None:
        changes["reference"] = validate.text(reference, "reference", limit=100)
    if payer is not None:
        ref = validate.text(payer, "payer reference", limit=64)
        if ref is not None and q.get_payer(store, ref) is None:
            raise InvalidInput(f"No payer has reference {ref!r}. Add them first: khalti payers add {ref} --name NAME.")
        changes["payer_ref"] = ref
    return changes


def _live_link(store: Store, row: dict[str, Any]) -> dict[str, Any] | None:
    for link in q.links_of(store, row["id"]):
        if link["state"] in ("open", "sending", "unknown"):
            return link
    return None


def check_editable(store: Store, row: dict[str, Any]) -> None:
    oid = row["order_id"]
    link = _live_link(store, row)
    if link is not None:
        until = f" until {local(link['expires_at'])}" if link.get("expires_at") else ""
        raise InvalidInput(
            f"Payment {oid} has a link that can still be paid{until}, so it cannot be changed now. Wait until "
            f"it expires (khalti reconcile notices), or withdraw it (khalti void {oid} --reason TEXT) and "
            "create a new one."
        )
    if row["status"] not in EDITABLE:
        raise InvalidInput(
            f"Payment {oid} is {row['status']}; only a fee not paid and without a live link can be edited "
            f"(created, expired, canceled or failed). Record what happened instead: khalti note {oid} TEXT."
        )


def edit(store: Store, order_id: str, changes: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Change the given fields; returns (record, {field: [old, new]}) of what really changed."""
    if not changes:
        raise InvalidInput("Nothing to change: give at least one of --amount, --name, --customer-name, ...")
    oid = validate.order_id(order_id)
    at = stamp()
    with store.write():
        row = find_payment(store, oid)
        check_editable(store, row)
        changed = {k: [row.get(k), v] for k, v in changes.items() if row.get(k) != v}
        if changed:
            q.update_payment(store, row["id"], {**{k: v[1] for k, v in changed.items()}, "updated_at": at})
            parts = []
            for key, (old, new) in changed.items():
                shown = [money.format_rupees(x) if key == "amount_paisa" and x is not None else x for x in (old, new)]
                parts.append(f"{key.replace('_paisa', '')}: {shown[0]!r} -> {shown[1]!r}")
            q.add_event(
                store,
                row["id"],
                "edit",
                outcome="ok",
                message="Changed " + "; ".join(parts),
                detail={
                    "before": {k: v[0] for k, v in changed.items()},
                    "after": {k: v[1] for k, v in changed.items()},
                },
                at=at,
            )
    fresh = q.get_payment(store, oid)
    assert fresh is not None
    return payment_record(fresh), changed
