"""Storing one lookup answer: the link, the payment's decided status, and the events. One transaction."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from khalti_cli.clock import stamp
from khalti_cli.gateway.answers import LookupAnswer
from khalti_cli.services.pending import pending_review
from khalti_cli.statuses import Decision, LinkView, Standing, decide, link_is_final
from khalti_cli.store import Store
from khalti_cli.store import queries as q


@dataclass(frozen=True)
class Change:
    order_id: str
    pidx: str
    khalti_status: str
    old_status: str
    new_status: str
    review_reason: str | None

    @property
    def changed(self) -> bool:
        return self.old_status != self.new_status

    @property
    def went_to_review(self) -> bool:
        return self.changed and self.new_status == "review"


def link_changes(answer: LookupAnswer, at: str) -> dict[str, Any]:
    return {
        "khalti_status": answer.status,
        "total_amount_paisa": answer.total_amount,
        "transaction_id": answer.transaction_id,
        "fee_paisa": answer.fee,
        "refunded": int(answer.refunded),
        "lookup_response": q.dump_json(answer.raw),
        "lookup_http_status": answer.http_status,
        "state": "final" if link_is_final(answer.status) else "open",
        "checked_at": at,
        "updated_at": at,
    }


def standing_of(payment: dict[str, Any]) -> Standing:
    accepted = json.loads(payment["accepted"]) if payment.get("accepted") else []
    return Standing(payment.get("decision"), frozenset(accepted))


def decision_for(payment: dict[str, Any], links: list[dict[str, Any]], *, fresh: bool = False) -> Decision:
    views = [
        LinkView(link["pidx"], link.get("khalti_status"), link.get("total_amount_paisa"))
        for link in links
        if link.get("pidx") and link["state"] in ("open", "final")
    ]
    return decide(
        payment["status"],
        payment["amount_paisa"],
        views,
        payment.get("review_reason"),
        order_id=payment["order_id"],
        standing=standing_of(payment),
        fresh=fresh,
    )


def decide_for(
    payment: dict[str, Any], links: list[dict[str, Any]], *, fresh: bool = False
) -> tuple[str, str | None, dict[str, Any] | None]:
    decision = decision_for(payment, links, fresh=fresh)
    shown = next((link for link in links if link.get("pidx") == decision.pidx), None)
    return decision.status, decision.review_reason, shown


def payment_changes(status: str, reason: str | None, shown: dict[str, Any] | None, at: str) -> dict[str, Any]:
    changes: dict[str, Any] = {"status": status, "review_reason": reason, "updated_at": at}
    if shown is not None:
        for key in ("khalti_status", "pidx", "payment_url", "expires_at", "transaction_id"):
            changes[key] = shown.get(key)
        changes["total_amount_paisa"] = shown.get("total_amount_paisa")
        changes["fee_paisa"] = shown.get("fee_paisa")
        changes["refunded"] = shown.get("refunded") or 0
    return changes


def _apply(store: Store, link_id: int, answer: LookupAnswer, at: str, write: bool) -> Change:
    payment = store.one("SELECT * FROM payments WHERE id = (SELECT payment_id FROM links WHERE id = ?)", [link_id])
    assert payment is not None
    updated = link_changes(answer, at)
    links = [{**row, **updated} if row["id"] == link_id else row for row in q.links_of(store, payment["id"])]
    status, reason, shown = decide_for(payment, links)
    status, reason, pending_since = pending_review(payment, status, reason, shown.get("pidx") if shown else None, at)
    if answer.implausible:
        problem = (
            f"Khalti reported {', '.join(answer.implausible)} for link {answer.pidx}, which cannot be a real "
            f"amount; ask Khalti, then settle it with: khalti resolve {payment['order_id']} --as completed "
            "(or --as voided) --reason TEXT."
        )
        if problem not in (reason or ""):
            reason = f"{reason} {problem}" if reason else problem
        status = "review"
    change = Change(payment["order_id"], answer.pidx, answer.status, payment["status"], status, reason)
    if not write:
        return change
    q.update_link(store, link_id, updated)
    changes = payment_changes(status, reason, shown, at)
    changes["checked_at"] = at
    changes["pending_since"] = pending_since
    q.update_payment(store, payment["id"], changes)
    q.add_event(
        store,
        payment["id"],
        "lookup",
        outcome="ok",
        pidx=answer.pidx,
        detail=answer.raw,
        at=at,
        message=f"Khalti: {answer.status} (HTTP {answer.http_status})",
    )
    if change.changed:
        q.add_event(
            store,
            payment["id"],
            "status",
            pidx=answer.pidx,
            from_status=payment["status"],
            to_status=status,
            message=reason,
            at=at,
        )
    return change


def apply_answers(store: Store, answers: list[tuple[int, LookupAnswer]], *, dry_run: bool = False) -> list[Change]:
    """Store answers in one transaction (a group commit); with dry_run, only say what would change."""
    at = stamp()
    if dry_run:
        return [_apply(store, link_id, answer, at, write=False) for link_id, answer in answers]
    with store.write():
        return [_apply(store, link_id, answer, at, write=True) for link_id, answer in answers]


def apply_answer(store: Store, link_id: int, answer: LookupAnswer) -> Change:
    return apply_answers(store, [(link_id, answer)])[0]


def record_call_error(
    store: Store, payment_id: int, pidx: str | None, kind: str, message: str, detail: Any = None
) -> None:
    """A failed call to Khalti is history too; statuses are left exactly as they were. `detail`: the start
    of an answer that could not be stored as it came (GatewayBadResponse.excerpt), kept for a person."""
    with store.write():
        add_call_error(store, payment_id, pidx, kind, message, detail)


def add_call_error(
    store: Store, payment_id: int, pidx: str | None, kind: str, message: str, detail: Any = None
) -> None:
    """record_call_error inside a transaction the caller holds."""
    event_detail = {"answer_excerpt": detail} if detail is not None else None
    q.add_event(store, payment_id, kind, outcome="error", pidx=pidx, message=message, detail=event_detail)
