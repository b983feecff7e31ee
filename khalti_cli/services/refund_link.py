"""`khalti refund ORDER_ID --pidx PIDX`: refund one paid link of a payment (e.g. the second link of a double
payment, also from `review`), then decide the payment's status again from all its links."""

from __future__ import annotations

from typing import Any

from khalti_cli.errors import InvalidInput
from khalti_cli.services.apply import decide_for, payment_changes
from khalti_cli.statuses import link_status
from khalti_cli.store import Store
from khalti_cli.store import queries as q

REFUNDABLE = ("completed", "partially_refunded")


def chosen_link(store: Store, payment: dict[str, Any], pidx: str) -> tuple[dict[str, Any], int, int]:
    """refund --pidx: that link of this payment, paid, with its amount and what was refunded of it."""
    oid = payment["order_id"]
    link = q.get_link(store, pidx.strip()) if pidx.strip() else None
    if link is None or link["payment_id"] != payment["id"]:
        known = ", ".join(lk["pidx"] for lk in q.links_of(store, payment["id"]) if lk.get("pidx")) or "none"
        raise InvalidInput(f"Payment {oid} has no link {pidx.strip()[:40]!r} (its links: {known}). Nothing was sent.")
    status = link_status(link.get("khalti_status"))
    if status not in REFUNDABLE or not link.get("transaction_id"):
        raise InvalidInput(
            f"Link {link['pidx']} of payment {oid} is not paid (Khalti: {link.get('khalti_status')!r}), so there "
            f"is nothing to refund on it. Look it up first if unsure: khalti lookup {link['pidx']}. Nothing was sent."
        )
    paid = int(link.get("total_amount_paisa") or 0)
    refunded_before = 0
    if status == "partially_refunded":
        if payment.get("pidx") != link["pidx"]:
            raise InvalidInput(
                f"Link {link['pidx']} was partly refunded already and is not the payment's main link; refund the "
                "rest in the Khalti merchant dashboard. Nothing was sent."
            )
        refunded_before = payment.get("refunded_paisa") or 0
    return link, paid, refunded_before


def decided_again(
    store: Store, payment: dict[str, Any], payment_id: int, link_id: int, refunded: int, at: str
) -> tuple[str, dict[str, Any]]:
    """refund --pidx: the payment's status from all its links again (a person acted: review is not sticky).
    A resolve's `completed` is dropped (the money it accepted may be what went back); void and settle stay."""
    row = dict(payment)
    if row.get("decision") == "completed":
        row.update(decision=None, accepted=None)
    status, reason, shown = decide_for(row, q.links_of(store, payment_id), fresh=True)
    changes = payment_changes(status, reason, shown, at)
    changes["decision"], changes["accepted"] = row.get("decision"), row.get("accepted")
    if shown is not None and shown["id"] == link_id:
        changes["refunded_paisa"] = refunded
    return status, changes
