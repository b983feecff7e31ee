"""The pay page's logic (`khalti serve`): durable tokens, the fee as a parent sees it, "Pay with Khalti"
(reuse the live link or make a new one through initiate's crash-safe path) and the return lookup (the same
lookup-and-store path as `khalti lookup`). No web framework here: `khalti_cli.web` calls these.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from khalti_cli.clock import now, parse
from khalti_cli.config import Settings
from khalti_cli.errors import InvalidInput, KhaltiError, NotFound
from khalti_cli.services.payments import Gateway, initiate_one, lookup_many
from khalti_cli.statuses import REINITIABLE
from khalti_cli.store import Store
from khalti_cli.store import queries as q

TOKEN_SHAPE = re.compile(r"[A-Za-z0-9_-]{22,64}")
PIDX_SHAPE = re.compile(r"[A-Za-z0-9_-]{1,64}")
# A live Khalti link is handed out again only with this much time left: a parent needs time to pay.
REUSE_MARGIN = timedelta(minutes=15)

# What the page tells the parent, by status (the statuses of other features by name, if present).
PAYABLE = frozenset(REINITIABLE | {"initiated"})
PAID = frozenset({"completed", "partially_refunded", "refunded", "paid_offline"})


class NotPayable(InvalidInput):
    """The fee cannot be paid online now (paid, voided, pending, in review); the page says why."""

    def __init__(self, status: str) -> None:
        super().__init__(f"This fee is {status}; it cannot be paid online now.")
        self.status = status


def ensure_tokens(store: Store, payment_ids: Sequence[int]) -> None:
    """Give every one of these payments a token (one transaction); those that have one keep it."""
    with store.write():
        for payment_id in payment_ids:
            q.fill_pay_token(store, payment_id)


def payment_by_token(store: Store, token: str) -> dict[str, Any]:
    row = store.one("SELECT * FROM payments WHERE pay_token = ?", [token]) if TOKEN_SHAPE.fullmatch(token) else None
    if row is None:
        raise NotFound("No fee has this link.")
    return row


# --- what the parent sees ----------------------------------------------------------------------


@dataclass(frozen=True)
class Head:
    label: str
    amount_paisa: int


@dataclass(frozen=True)
class FeeView:
    token: str
    order_id: str
    fee: str
    payer: str | None
    payer_ref: str | None
    amount_paisa: int
    status: str
    # payable | pending | paid | refunded | voided | review: which message and whether the button shows
    state: str
    heads: tuple[Head, ...]


def _heads(value: Any) -> tuple[Head, ...]:
    """Fee heads if the payment has them (a list of {label, amount_paisa}, or its JSON text)."""
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            return ()
    if not isinstance(value, list):
        return ()
    heads = []
    for item in value:
        if isinstance(item, dict) and isinstance(item.get("label"), str):
            amount = item.get("amount_paisa", item.get("amount"))
            if isinstance(amount, int) and not isinstance(amount, bool):
                heads.append(Head(item["label"], amount))
    return tuple(heads)


def page_state(status: str) -> str:
    if status in PAYABLE:
        return "payable"
    if status in ("refunded", "partially_refunded"):
        return "refunded"
    if status in PAID:
        return "paid"
    if status in ("pending", "voided"):
        return status
    return "review"  # review, and any status this page does not know: a person must look


def fee_view(row: dict[str, Any]) -> FeeView:
    return FeeView(
        token=row["pay_token"],
        order_id=row["order_id"],
        fee=row["name"],
        payer=row.get("customer_name"),
        payer_ref=row.get("payer_ref"),
        amount_paisa=row["amount_paisa"],
        status=row["status"],
        state=page_state(row["status"]),
        heads=_heads(row.get("heads")),
    )


def view_by_token(store: Store, token: str) -> FeeView:
    return fee_view(payment_by_token(store, token))


# --- Pay with Khalti ---------------------------------------------------------------------------

# One lock per payment: two clicks at once (or two tabs) make one link, the second reuses the first's.
_locks: dict[int, threading.Lock] = {}
_locks_guard = threading.Lock()


def _lock_for(payment_id: int) -> threading.Lock:
    with _locks_guard:
        if len(_locks) > 10_000:  # bounded: drop the locks nobody holds
            for key in [k for k, lock in _locks.items() if not lock.locked()]:
                del _locks[key]
        return _locks.setdefault(payment_id, threading.Lock())


def live_link(store: Store, payment_id: int, margin: timedelta = REUSE_MARGIN) -> dict[str, Any] | None:
    """The newest link Khalti last called Initiated (or never reported on) that has `margin` left."""
    cutoff = now() + margin
    for link in reversed(q.links_of(store, payment_id)):
        if link["state"] != "open" or link.get("khalti_status") not in (None, "Initiated"):
            continue
        if link.get("payment_url") and link.get("expires_at") and parse(link["expires_at"]) >= cutoff:
            return link
    return None


def pay(store: Store, settings: Settings, gateway: Callable[[], Gateway], token: str) -> str:
    """The Khalti payment URL to send the parent to: the live link, or a new one.

    Raises NotFound (no such token), NotPayable (paid, voided, pending, review), ConfigError/AuthError,
    or a GatewayError (Khalti down or slow: initiate's crash-safe path has recorded it, nothing is half
    written, and the parent may simply try again).
    """
    row = payment_by_token(store, token)
    with _lock_for(row["id"]):
        row = payment_by_token(store, token)  # what the click before this one made
        if row["status"] not in PAYABLE:
            raise NotPayable(row["status"])
        link = live_link(store, row["id"])
        if link is not None:
            # Ask Khalti first (stored as `khalti lookup` stores it): the link may have been paid, canceled
            # or expired since; only a link Khalti still calls Initiated is handed out again.
            checked = next(iter(lookup_many(store, settings, gateway, [link["pidx"]])))
            if checked.errors:
                raise checked.errors[0]
            row = payment_by_token(store, token)
            if row["status"] not in PAYABLE:
                raise NotPayable(row["status"])
            link = live_link(store, row["id"])
            if link is not None:
                return str(link["payment_url"])
        settings.require_urls()
        settings.require_key()
        # A link with under 15 minutes left is live but too short for a parent: this is the deliberate new
        # link `--force` stands for (the in-process lock above already makes two clicks one link).
        result = initiate_one(store, gateway(), settings, row, force=row["status"] == "initiated")
        if result.error is not None:
            raise result.error
        assert result.payment_url is not None
        return result.payment_url


# --- the return page ---------------------------------------------------------------------------


@dataclass(frozen=True)
class ReturnOutcome:
    view: FeeView
    errors: tuple[KhaltiError, ...]


def after_return(store: Store, settings: Settings, gateway: Callable[[], Gateway], pidx: str) -> ReturnOutcome:
    """Khalti sent the parent back with ?pidx=...: ask Khalti about that link (nothing else in the query
    string is read) and store the answer exactly as `khalti lookup PIDX` does."""
    pidx = pidx.strip()
    link = q.get_link(store, pidx) if PIDX_SHAPE.fullmatch(pidx) else None
    if link is None:
        raise NotFound("No payment of this school has this pidx.")
    settings.require_key()
    result = next(iter(lookup_many(store, settings, gateway, [pidx])))
    row = q.get_payment_by_id(store, link["payment_id"])
    assert row is not None
    if not row.get("pay_token"):
        with store.write():
            q.fill_pay_token(store, row["id"])
        row = q.get_payment_by_id(store, link["payment_id"])
        assert row is not None
    return ReturnOutcome(fee_view(row), tuple(result.errors))
