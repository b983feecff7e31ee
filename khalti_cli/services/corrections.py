"""Corrections: a person brings a payment to a right end (void, settle, resolve, edit, note).

Each is checked first (a refusal changes nothing and names the way out), then written as ONE transaction:
the change and its event, whose detail keeps the old values. Nothing is deleted; no call goes to Khalti.
A payment's links keep being checked by reconcile whatever a person decided: money that arrives on a
voided, settled or resolved payment sends it back to `review` (statuses.decide).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from khalti_cli import money
from khalti_cli.calendar import for_people
from khalti_cli.clock import stamp
from khalti_cli.errors import InvalidInput, TemporaryError
from khalti_cli.services import validate
from khalti_cli.services.apply import decision_for
from khalti_cli.services.payments import find_payment
from khalti_cli.services.records import payment_record
from khalti_cli.statuses import KEPT, PAID, link_status
from khalti_cli.store import Store
from khalti_cli.store import queries as q
from khalti_cli.times import today as local_today

REASON_LIMIT = 500
NOTE_LIMIT = 2000
REFERENCE_LIMIT = 200
METHODS = ("cash", "bank", "cheque", "other")
VOIDABLE = ("created", "initiated", "pending", "expired", "canceled", "failed")
SETTLEABLE = ("created", "initiated", "expired", "canceled", "failed", "review")
# Old values kept in a correction's event.
KEPT_COLUMNS = ("status", "review_reason", "decision", "accepted", "settle_method", "settle_reference", "settle_date")


@dataclass(frozen=True)
class Plan:
    """What one correction will change, for the confirmation and for the transaction's re-check."""

    order_id: str
    payment_id: int
    name: str
    payer: str | None
    amount_paisa: int
    status: str
    new_status: str
    what: str  # one sentence: what changes
    changes: dict[str, Any] = field(default_factory=dict)
    kind: str = ""
    message: str = ""
    detail: dict[str, Any] = field(default_factory=dict)

    def rows(self) -> list[tuple[str, list[str]]]:
        """The confirmation: a label and its parts, each part a line of its own (the CLI wraps them)."""
        return [
            ("Payment:", [self.order_id, self.name]),
            ("Payer:", [self.payer or "(no name recorded)"]),
            ("Fee:", [f"{money.format_rupees(self.amount_paisa)} ({self.status})"]),
            ("Change:", [self.what]),
        ]


Confirm = Callable[[Sequence[Plan]], bool]


def required_text(value: str | None, what: str, limit: int) -> str:
    """A reason, reference or note: one line of text, not empty; exit 3 otherwise."""
    checked = validate.text(value, what, required=True, limit=limit)
    assert checked is not None
    return checked


def _payer(row: dict[str, Any]) -> str | None:
    found = row.get("customer_name") or row.get("payer_ref") or row.get("customer_phone")
    return str(found) if found else None


def _old(row: dict[str, Any]) -> dict[str, Any]:
    return {key: row.get(key) for key in KEPT_COLUMNS}


def _plan(row: dict[str, Any], new_status: str, what: str, kind: str, message: str, **changes: Any) -> Plan:
    return Plan(
        order_id=row["order_id"],
        payment_id=row["id"],
        name=row["name"],
        payer=_payer(row),
        amount_paisa=row["amount_paisa"],
        status=row["status"],
        new_status=new_status,
        what=what,
        changes=changes,
        kind=kind,
        message=message,
        detail={"before": _old(row)},
    )


def _money_on_khalti(store: Store, row: dict[str, Any]) -> list[dict[str, Any]]:
    """The links of a payment on which Khalti holds money for the school."""
    return [lk for lk in q.links_of(store, row["id"]) if link_status(lk.get("khalti_status")) in KEPT]


def _write(store: Store, plans: Sequence[Plan]) -> list[dict[str, Any]]:
    """All plans in one transaction; refused if a payment changed since it was checked."""
    at = stamp()
    with store.write():
        for plan in plans:
            row = q.get_payment_by_id(store, plan.payment_id)
            assert row is not None
            if row["status"] != plan.status or row["updated_at"] != plan.detail["before_updated_at"]:
                raise TemporaryError(
                    f"Payment {plan.order_id} changed while this was being checked (a reconcile or another "
                    "person). Nothing was changed; run the command again."
                )
            q.update_payment(store, plan.payment_id, {**plan.changes, "status": plan.new_status, "updated_at": at})
            detail = {k: v for k, v in plan.detail.items() if k != "before_updated_at"}
            q.add_event(
                store,
                plan.payment_id,
                plan.kind,
                outcome="ok",
                from_status=plan.status,
                to_status=plan.new_status,
                message=plan.message,
                detail=detail,
                at=at,
            )
    records = []
    for plan in plans:
        row = q.get_payment_by_id(store, plan.payment_id)
        assert row is not None
        records.append(payment_record(row))
    return records


def _stamp_plan(plan: Plan, row: dict[str, Any]) -> Plan:
    plan.detail["before_updated_at"] = row["updated_at"]
    return plan


def _run(store: Store, plans: list[Plan], confirm: Confirm | None) -> list[dict[str, Any]] | None:
    if confirm is not None and not confirm(plans):
        return None
    return _write(store, plans)


# --- void ----------------------------------------------------------------------------------------


def plan_void(store: Store, order_id: str, reason: str) -> Plan:
    row = find_payment(store, validate.order_id(order_id))
    oid, status = row["order_id"], row["status"]
    if status == "review":
        raise InvalidInput(
            f"Payment {oid} is in review; decide it instead: khalti resolve {oid} --as voided --reason TEXT."
        )
    if status in ("completed", "partially_refunded"):
        raise InvalidInput(f"Payment {oid} is paid ({status}); it cannot be voided. Refund it: khalti refund {oid}.")
    if status not in VOIDABLE:
        raise InvalidInput(
            f"Payment {oid} is {status}; only a fee still due can be voided. Record what happened with: "
            f"khalti note {oid} TEXT."
        )
    live = [lk for lk in q.links_of(store, row["id"]) if lk["state"] == "open"]
    what = "voided: no longer due" + (
        f" (its {len(live)} live link(s) are still watched; a payment on them goes to review)" if live else ""
    )
    plan = _plan(row, "voided", what, "void", reason, decision="voided", accepted=None, review_reason=None)
    return _stamp_plan(plan, row)


def void(store: Store, order_ids: Sequence[str], reason: str, *, confirm: Confirm | None = None) -> list[Any] | None:
    """Withdraw fees: status voided. Every id is checked before anything is changed; one transaction."""
    text = required_text(reason, "reason", REASON_LIMIT)
    plans: list[Plan] = []
    seen: set[str] = set()
    for oid in order_ids:
        plan = plan_void(store, oid, text)
        if plan.order_id in seen:
            raise InvalidInput(f"Order id {plan.order_id} is given twice.")
        seen.add(plan.order_id)
        plans.append(plan)
    return _run(store, plans, confirm)


# --- settle --------------------------------------------------------------------------------------


def settle_date(value: str | None, today: date | None = None) -> str:
    """--date: a typed day as everywhere (BS from year 2060, `bs:`/`ad:` force either), not in the future;
    default today (local). Stored as the Gregorian YYYY-MM-DD."""
    from khalti_cli.calendar import parse_day

    today = today or local_today()
    if value is None or not value.strip():
        return today.isoformat()
    text = value.strip()
    try:
        day = parse_day(text)
    except ValueError:
        raise InvalidInput(
            f"The date {text[:40]!r} is not a date; use YYYY-MM-DD (BS from year 2060, e.g. 2082-08-12), "
            f"or ad:{today.isoformat()}."
        ) from None
    if day > today:
        raise InvalidInput(f"The date {for_people(day)} is in the future; give the day the money was received.")
    return day.isoformat()


def plan_settle(store: Store, order_id: str, method: str, reference: str, on: str) -> Plan:
    row = find_payment(store, validate.order_id(order_id))
    oid, status = row["order_id"], row["status"]
    if status in PAID:
        raise InvalidInput(
            f"Payment {oid} is already paid through Khalti ({status}). If it was paid at the counter too, give "
            f"one back: khalti refund {oid}, and record it with khalti note."
        )
    if status == "pending":
        raise InvalidInput(
            f"Khalti says payment {oid} is pending: the parent may be paying right now. Wait for khalti "
            f"reconcile to settle it; if Khalti's payment fails, settle it then."
        )
    if status not in SETTLEABLE:
        raise InvalidInput(f"Payment {oid} is {status}; it cannot be settled. Record what happened: khalti note {oid}.")
    if status == "review" and _money_on_khalti(store, row):
        raise InvalidInput(
            f"Payment {oid} is in review and Khalti holds money for it; decide it with khalti resolve {oid} "
            "--as completed|voided --reason TEXT, or refund that link first (khalti refund --pidx)."
        )
    accepted = list(decision_for(row, q.links_of(store, row["id"]), fresh=True).problems)
    live = [lk for lk in q.links_of(store, row["id"]) if lk["state"] == "open"]
    day = for_people(date.fromisoformat(on))  # `2083-08-13 (2026-11-29)`; the Gregorian day with KHALTI_CALENDAR=ad
    what = f"paid outside Khalti ({method}, reference {reference}, on {day})" + (
        "; its live link is still watched: a Khalti payment on it too goes to review" if live else ""
    )
    paid = money.format_rupees(row["amount_paisa"])
    message = f"Paid {paid} outside Khalti: {method}, reference {reference}, on {day}"
    plan = _plan(
        row,
        "paid_offline",
        what,
        "settle",
        message,
        decision="paid_offline",
        accepted=json.dumps(accepted) if accepted else None,
        review_reason=None,
        settle_method=method,
        settle_reference=reference,
        settle_date=on,
    )
    return _stamp_plan(plan, row)


def settle(
    store: Store,
    order_id: str,
    *,
    method: str,
    reference: str,
    on: str | None = None,
    confirm: Confirm | None = None,
) -> list[Any] | None:
    if method not in METHODS:
        raise InvalidInput(f"The method {method[:30]!r} is not one of {', '.join(METHODS)}.")
    ref = required_text(reference, "reference", REFERENCE_LIMIT)
    plan = plan_settle(store, order_id, method, ref, settle_date(on))
    return _run(store, [plan], confirm)


# --- resolve -------------------------------------------------------------------------------------


def plan_resolve(store: Store, order_id: str, outcome: str, reason: str) -> Plan:
    row = find_payment(store, validate.order_id(order_id))
    oid = row["order_id"]
    if row["status"] != "review":
        raise InvalidInput(
            f"Payment {oid} is {row['status']}, not in review; resolve decides only a payment in review. "
            + ("To withdraw a fee still due: khalti void." if outcome == "voided" else "")
        )
    links = q.links_of(store, row["id"])
    accepted = sorted(set(decision_for(row, links, fresh=True).problems))
    proposed = {**row, "decision": outcome, "accepted": json.dumps(accepted), "review_reason": None}
    decided = decision_for(proposed, links, fresh=True)
    new_status = outcome if outcome == "voided" or not links else decided.status
    if new_status == "review":
        new_status = outcome
    kept = _money_on_khalti(store, row)
    if outcome == "voided" and kept:
        what = (
            f"voided, though Khalti holds {len(kept)} payment(s) for it (keep or refund them: khalti refund "
            f"{oid} --pidx PIDX)"
        )
    elif outcome == "completed" and not kept:
        what = "completed by your decision: no Khalti link of it shows money paid"
    else:
        what = f"{new_status} by your decision (the problems seen now are accepted; a new one sends it back)"
    plan = _plan(
        row,
        new_status,
        what,
        "resolve",
        f"Resolved as {outcome}: {reason}",
        decision=outcome,
        accepted=json.dumps(accepted) if accepted else None,
        review_reason=None,
    )
    plan.detail["accepted"] = accepted
    return _stamp_plan(plan, row)


OUTCOMES = ("completed", "voided")  # resolve --as: accept a payment in review as paid, or withdraw it


def resolve(
    store: Store, order_id: str, *, outcome: str, reason: str, confirm: Confirm | None = None
) -> list[Any] | None:
    if outcome not in OUTCOMES:
        raise InvalidInput(f"--as must be completed or voided, not {outcome[:30]!r}.")
    text = required_text(reason, "reason", REASON_LIMIT)
    return _run(store, [plan_resolve(store, order_id, outcome, text)], confirm)


# --- note ----------------------------------------------------------------------------------------


def note(store: Store, order_id: str, text: str) -> dict[str, Any]:
    checked = required_text(text, "note", NOTE_LIMIT)
    with store.write():
        row = find_payment(store, validate.order_id(order_id))
        q.add_event(store, row["id"], "note", outcome="ok", message=checked)
    return payment_record(row)
