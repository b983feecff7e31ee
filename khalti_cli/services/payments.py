"""Recording payments, making their links, looking them up, and reading them back."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Protocol

from khalti_cli import money
from khalti_cli.clock import now, stamp
from khalti_cli.config import Settings
from khalti_cli.errors import (
    AuthError,
    GatewayBadResponse,
    GatewayError,
    GatewayRejected,
    InvalidInput,
    KhaltiError,
    NotFound,
    unexpected,
)
from khalti_cli.gateway.answers import InitiateAnswer, LookupAnswer
from khalti_cli.services import validate
from khalti_cli.services.apply import Change, apply_answer, decide_for, payment_changes, record_call_error
from khalti_cli.services.records import event_record, link_record, load_heads, payment_record
from khalti_cli.statuses import NEEDS_FORCE, REINITIABLE
from khalti_cli.store import Store
from khalti_cli.store import queries as q
from khalti_cli.times import machine


def initiate_grace(settings: Settings) -> timedelta:
    """How long an initiate that got no answer may still be in flight; after it, reconcile voids it."""
    return timedelta(milliseconds=settings.timeout_ms) + timedelta(seconds=60)


class Gateway(Protocol):
    def initiate(self, payload: dict[str, Any]) -> InitiateAnswer: ...
    def lookup(self, pidx: str, *, deadline: float | None = None) -> LookupAnswer: ...


@dataclass(frozen=True)
class NewPayment:
    amount_paisa: int
    name: str
    order_id: str | None = None
    customer_name: str | None = None
    customer_email: str | None = None
    customer_phone: str | None = None
    reference: str | None = None
    payer_ref: str | None = None  # a reference in the payers register (khalti payers)


def new_payment(
    *,
    amount: str | None,
    name: str | None,
    order_id: str | None = None,
    customer_name: str | None = None,
    customer_email: str | None = None,
    customer_phone: str | None = None,
    reference: str | None = None,
    payer: str | None = None,
    phone_field: str = "--customer-phone",
) -> NewPayment:
    """Check every field a person typed; raises InvalidInput naming the first bad one. `phone_field`: how
    the phone was given (the option, or an import's column), for the message."""
    if amount is None:
        raise InvalidInput("The amount is missing. Give it in rupees, for example 1500.")
    paisa = money.parse_rupees(amount)
    checked_name = validate.text(name, "name", required=True)
    assert checked_name is not None
    return NewPayment(
        amount_paisa=paisa,
        name=checked_name,
        order_id=validate.order_id(order_id) if order_id is not None and order_id.strip() else None,
        customer_name=validate.text(customer_name, "customer name"),
        customer_email=validate.email(customer_email),
        customer_phone=validate.phone(customer_phone, phone_field),
        reference=validate.text(reference, "reference", limit=100),
        payer_ref=validate.text(payer, "payer reference", limit=64),
    )


def payment_row(new: NewPayment, order_id: str, at: str) -> dict[str, Any]:
    return {
        "order_id": order_id,
        "name": new.name,
        "amount_paisa": new.amount_paisa,
        "status": "created",
        "customer_name": new.customer_name,
        "customer_email": new.customer_email,
        "customer_phone": new.customer_phone,
        "reference": new.reference,
        "payer_ref": new.payer_ref,
        "created_at": at,
        "updated_at": at,
    }


def create_payment(store: Store, new: NewPayment) -> dict[str, Any]:
    for _ in range(5):
        order_id = new.order_id or validate.new_order_id()
        at = stamp()
        try:
            with store.write():
                if q.get_payment(store, order_id) is not None:
                    if new.order_id:
                        raise InvalidInput(f"A payment with order id {order_id} already exists.")
                    continue
                payment_id = q.insert_payment(store, payment_row(new, order_id, at))
                q.fill_pay_token(store, payment_id)
                q.add_event(
                    store,
                    payment_id,
                    "created",
                    to_status="created",
                    at=at,
                    message=f"Recorded {money.format_rupees(new.amount_paisa)} for {new.name}",
                )
        except sqlite3.IntegrityError:
            if new.order_id:
                raise InvalidInput(f"A payment with order id {order_id} already exists.") from None
            continue
        row = q.get_payment(store, order_id)
        assert row is not None
        return payment_record(row)
    raise KhaltiError("Could not pick a free order id; try again.")


def find_payment(store: Store, order_id: str) -> dict[str, Any]:
    row = q.get_payment(store, order_id)
    if row is None:
        raise NotFound(f"No payment has order id {order_id!r}. Check it with: khalti list")
    return row


# --- initiate ---------------------------------------------------------------------------------


@dataclass
class InitiateResult:
    order_id: str
    payment_url: str | None = None
    error: KhaltiError | None = None
    record: dict[str, Any] | None = None


def closed_reason(order_id: str, status: str) -> str | None:
    """Why a fee in this status can have no new payment link and no slip, naming the command that does what
    the person wants instead; None when the fee may still be paid (created, initiated, pending, expired,
    canceled, failed). Said the same by `initiate`, `slips` and `import --slips`."""
    oid = order_id
    if status in ("completed", "partially_refunded", "paid_offline"):
        how = "at the counter or the bank" if status == "paid_offline" else "through Khalti"
        return (
            f"Payment {oid} is paid ({status}, {how}): there is nothing left to pay, so no link and no slip. "
            f"Print its receipt with: khalti receipt {oid}"
        )
    if status == "refunded":
        return (
            f"Payment {oid} was paid and then refunded in full (refunded): it is not paid again under the same "
            f"order id. See it with: khalti show {oid} (if the fee is still owed, bill it anew: khalti create)"
        )
    if status == "voided":
        return (
            f"Payment {oid} is voided: the school withdrew the fee, so there is nothing to pay. See why with: "
            f"khalti show {oid} (if it is owed after all, bill it anew: khalti create)"
        )
    if status == "review":
        return (
            f"Payment {oid} is in review: a person decides first. See the reason with: khalti show {oid}; "
            f"then: khalti resolve {oid} --as completed|voided --reason TEXT"
        )
    return None


def still_due_after_refund(row: dict[str, Any]) -> bool:
    """A wrong amount was paid and given back (refund --pidx): the payment is refunded, the fee still due."""
    return bool(row["status"] == "refunded" and row.get("total_amount_paisa") != row["amount_paisa"])


def check_initiable(row: dict[str, Any], force: bool) -> None:
    status = row["status"]
    if status in REINITIABLE or still_due_after_refund(row):
        return
    if status in NEEDS_FORCE:
        if force:
            return
        raise InvalidInput(
            f"Payment {row['order_id']} already has a live link ({status}) that can still be paid. "
            "Give --force to make another link anyway."
        )
    reason = closed_reason(row["order_id"], status)
    raise InvalidInput(reason or f"Payment {row['order_id']} is {status}; it cannot be initiated again.")


def initiate_payload(row: dict[str, Any], settings: Settings) -> dict[str, Any]:
    website_url, return_url = settings.require_urls()
    payload: dict[str, Any] = {
        "return_url": return_url,
        "website_url": website_url,
        "amount": row["amount_paisa"],
        "purchase_order_id": row["order_id"],
        "purchase_order_name": row["name"],
    }
    info = {k: row[f"customer_{k}"] for k in ("name", "email", "phone") if row.get(f"customer_{k}")}
    if info:
        payload["customer_info"] = info
    payload.update(breakdown(row))
    return payload


def claim_link(store: Store, settings: Settings, row: dict[str, Any], force: bool) -> tuple[dict[str, Any], int]:
    """Check the payment and write its 'sending' link in ONE write transaction (BEGIN IMMEDIATE), so of
    two initiates at once exactly one claims it: the other sees the claim and is refused (exit 3)."""
    at = stamp()
    with store.write():
        fresh = q.get_payment_by_id(store, row["id"])
        if fresh is None:
            raise NotFound(f"Payment {row['order_id']} no longer exists.")
        check_initiable(fresh, force)
        # A claim younger than the initiate grace period may still become a link someone is given.
        recent = stamp(now() - initiate_grace(settings))
        if not force and q.links_in_flight(store, fresh["id"], since=recent):
            raise InvalidInput(
                f"Another khalti is making a link for payment {fresh['order_id']} right now. Wait for it and "
                f"check with: khalti show {fresh['order_id']} (if that run was stopped, its attempt is void "
                "after a minute or two; give --force to make another link anyway)."
            )
        link_id = sending_link(store, fresh, at)
        q.fill_pay_token(store, fresh["id"])  # a payment handed out has its durable pay page link
    return fresh, link_id


def breakdown(row: dict[str, Any]) -> dict[str, Any]:
    """The initiate fields that show a billed payment's heads on Khalti's page, and the payer as merchant_
    extras. Nothing when the heads no longer add up to the amount (the fee was edited)."""
    extra: dict[str, Any] = {}
    if row.get("payer_ref"):
        extra["merchant_payer"] = row["payer_ref"]
    if row.get("period"):
        extra["merchant_period"] = row["period"]
    heads = load_heads(row)
    if heads and sum(int(h["amount_paisa"]) for h in heads) == row["amount_paisa"]:
        extra["amount_breakdown"] = [{"label": h["label"], "amount": h["amount_paisa"]} for h in heads]
        extra["product_details"] = [
            {
                "identity": f"{row['order_id']}-{n}",
                "name": h["label"],
                "total_price": h["amount_paisa"],
                "quantity": 1,
                "unit_price": h["amount_paisa"],
            }
            for n, h in enumerate(heads, 1)
        ]
    return extra


def initiate_one(
    store: Store, gateway: Gateway, settings: Settings, row: dict[str, Any], *, force: bool = False
) -> InitiateResult:
    """One initiate, crash-safe: the link row is written (claimed) before the request goes out."""
    settings.require_urls()
    try:
        row, link_id = claim_link(store, settings, row, force)
    except InvalidInput as exc:
        return InitiateResult(row["order_id"], error=exc)
    payload = initiate_payload(row, settings)
    return stored_answer(store, row, link_id, call_initiate(gateway, payload))


def sending_link(store: Store, row: dict[str, Any], at: str) -> int:
    """The link row written, in the caller's transaction, before its initiate request goes out."""
    return q.insert_link(
        store,
        {
            "payment_id": row["id"],
            "state": "sending",
            "amount_paisa": row["amount_paisa"],
            "created_at": at,
            "updated_at": at,
        },
    )


def call_initiate(gateway: Gateway, payload: dict[str, Any]) -> InitiateAnswer | KhaltiError:
    """Khalti's answer, or the error that stands for it (never raised: the caller stores it)."""
    try:
        return gateway.initiate(payload)
    except (GatewayRejected, AuthError, GatewayError) as exc:
        return exc


def stored_answer(
    store: Store,
    row: dict[str, Any],
    link_id: int,
    answer: InitiateAnswer | KhaltiError,
    *,
    own_transaction: bool = True,
) -> InitiateResult:
    """Store an initiate's answer (or error) for the link written by sending_link; in a transaction of its
    own, or (own_transaction=False) in the caller's, so that many answers can share one commit."""
    if isinstance(answer, KhaltiError):
        if isinstance(answer, GatewayRejected):
            _initiate_failed(store, row, link_id, "void", answer, status="failed", own_transaction=own_transaction)
        elif isinstance(answer, GatewayError):
            # The request may have reached Khalti and made a link; its URL never reached anyone, so nobody
            # can pay it. The link is kept as 'unknown' and reconcile voids it.
            state = "unknown" if answer.maybe_sent else "void"
            _initiate_failed(store, row, link_id, state, answer, own_transaction=own_transaction)
        else:
            _initiate_failed(store, row, link_id, "void", answer, own_transaction=own_transaction)
        return InitiateResult(row["order_id"], error=answer)
    if own_transaction:
        with store.write():
            _store_link(store, row, link_id, answer)
    else:
        _store_link(store, row, link_id, answer)
    fresh = q.get_payment_by_id(store, row["id"])
    assert fresh is not None
    return InitiateResult(row["order_id"], payment_url=answer.payment_url, record=payment_record(fresh))


def _store_link(store: Store, row: dict[str, Any], link_id: int, answer: InitiateAnswer) -> None:
    done = stamp()
    q.update_link(
        store,
        link_id,
        {
            "pidx": answer.pidx,
            "state": "open",
            "khalti_status": "Initiated",
            "payment_url": answer.payment_url,
            "expires_at": machine(answer.expires_at),  # Khalti's +05:45 -> our one convention (UTC)
            "initiate_response": q.dump_json(answer.raw),
            "updated_at": done,
        },
    )
    # The new link is live; an older one Khalti reports Pending still wins (the parent may have paid).
    status, reason, shown = decide_for(row, q.links_of(store, row["id"]))
    changes = payment_changes(status, reason, shown, done)
    changes["failure_reason"] = None
    q.update_payment(store, row["id"], changes)
    q.add_event(
        store,
        row["id"],
        "initiate",
        outcome="ok",
        pidx=answer.pidx,
        detail=answer.raw,
        at=done,
        message="Khalti made a payment link",
    )
    if row["status"] != status:
        q.add_event(store, row["id"], "status", pidx=answer.pidx, from_status=row["status"], to_status=status, at=done)


def _initiate_failed(
    store: Store,
    row: dict[str, Any],
    link_id: int,
    state: str,
    exc: KhaltiError,
    status: str | None = None,
    *,
    own_transaction: bool = True,
) -> None:
    if own_transaction:
        with store.write():
            _initiate_failed(store, row, link_id, state, exc, status, own_transaction=False)
        return
    at = stamp()
    q.update_link(store, link_id, {"state": state, "updated_at": at})
    detail = exc.body if isinstance(exc, GatewayRejected) else None
    q.add_event(
        store,
        row["id"],
        "initiate",
        outcome="rejected" if status else "error",
        message=str(exc),
        detail=detail,
        at=at,
    )
    if status and status != row["status"]:
        q.update_payment(store, row["id"], {"status": status, "failure_reason": str(exc), "updated_at": at})
        q.add_event(
            store,
            row["id"],
            "status",
            from_status=row["status"],
            to_status=status,
            message=str(exc),
            at=at,
        )


def initiate_many(
    store: Store,
    settings: Settings,
    gateway: Callable[[], Gateway],
    order_ids: Sequence[str],
    *,
    force: bool = False,
) -> Iterator[InitiateResult]:
    """Every id is checked before anything is sent: one bad id and nothing goes to Khalti."""
    # The set-up first: a configuration problem (exit 4) outranks a bad id (exit 3).
    settings.require_urls()
    settings.require_key()
    rows = [find_payment(store, validate.order_id(oid)) for oid in order_ids]
    seen: set[str] = set()
    for row in rows:
        if row["order_id"] in seen:
            raise InvalidInput(f"Order id {row['order_id']} is given twice.")
        seen.add(row["order_id"])
        check_initiable(row, force)
    client = gateway()
    for row in rows:
        yield initiate_one(store, client, settings, row, force=force)


# --- lookup -----------------------------------------------------------------------------------


@dataclass
class LookupResult:
    order_id: str
    status: str
    changes: list[Change]
    errors: list[KhaltiError]


def resolve_ids(store: Store, ids: Iterable[str]) -> list[tuple[dict[str, Any], list[dict[str, Any]]]]:
    """Order ids or pidx -> (payment, links to ask about). Unknown ids fail before anything is asked."""
    resolved: list[tuple[dict[str, Any], list[dict[str, Any]]]] = []
    for raw in ids:
        ident = raw.strip()
        link = q.get_link(store, ident) if ident else None
        if link is not None:
            payment = q.get_payment_by_id(store, link["payment_id"])
            assert payment is not None
            resolved.append((payment, [link]))
            continue
        payment = find_payment(store, validate.order_id(ident))
        links = [lk for lk in q.links_of(store, payment["id"]) if lk.get("pidx")]
        resolved.append((payment, links))
    return resolved


def lookup_many(
    store: Store, settings: Settings, gateway: Callable[[], Gateway], ids: Sequence[str]
) -> Iterator[LookupResult]:
    try:
        targets = resolve_ids(store, ids)
    except InvalidInput:
        settings.require_key()  # a missing key (exit 4) outranks an unknown id (exit 3)
        raise
    if any(links for _, links in targets):
        settings.require_key()
        client = gateway()
    for payment, links in targets:
        changes: list[Change] = []
        errors: list[KhaltiError] = []
        for link in reversed(links):  # newest link first
            try:
                answer = client.lookup(link["pidx"])
            except AuthError:
                raise
            except (GatewayError, GatewayRejected) as exc:
                excerpt = exc.excerpt if isinstance(exc, GatewayBadResponse) else None
                record_call_error(store, payment["id"], link["pidx"], "lookup", str(exc), excerpt)
                errors.append(exc)
                continue
            except Exception as exc:  # a bug: this link's error (exit 1), the other ids are still looked up
                errors.append(unexpected(exc, f"the lookup of {link['pidx']}"))
                continue
            changes.append(apply_answer(store, link["id"], answer))
        fresh = q.get_payment_by_id(store, payment["id"])
        assert fresh is not None
        yield LookupResult(payment["order_id"], fresh["status"], changes, errors)


# --- reading ----------------------------------------------------------------------------------


def show(store: Store, order_id: str) -> dict[str, Any]:
    row = find_payment(store, validate.order_id(order_id))
    record = payment_record(row)
    record["links"] = [link_record(link) for link in q.links_of(store, row["id"])]
    record["history"] = [event_record(e, row["order_id"]) for e in q.events_of(store, row["id"])]
    return record


def history(store: Store, order_id: str) -> list[dict[str, Any]]:
    row = find_payment(store, validate.order_id(order_id))
    return [event_record(e, row["order_id"]) for e in q.events_of(store, row["id"])]
