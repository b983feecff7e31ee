"""The emulator's memory: every payment link and its state machine, plus the queue of faults.

Transitions (Khalti's words; see the reference, section 4.4):

    Initiated -> Completed | Pending | User canceled | Expired (lazily, once expires_at has passed)
    Pending   -> Completed | User canceled | Expired
    Completed / Partially Refunded -> Partially Refunded | Refunded

Everything is in memory and guarded by one lock; nothing here sleeps or does I/O.
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from . import clock
from .errors import SandboxError, UnknownPaymentError
from .faults import Fault, parse_fault
from .ids import new_id
from .payment import (
    CANCELED,
    COMPLETED,
    DEFAULT_MOBILE,
    EXPIRED,
    INITIATED,
    PARTIALLY_REFUNDED,
    PAYABLE,
    PENDING,
    REFUNDABLE,
    REFUNDED,
    Payment,
    copy_json,
)
from .sparrow import SmsState


def _paisa(value: Any, what: str, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise SandboxError(f"{what} must be a whole number of paisa, at least {minimum}; got {value!r}")
    return value


class SandboxState:
    """Thread-safe store of payments and faults (one lock)."""

    def __init__(
        self,
        ttl: int = 1800,
        base_url: str = "http://127.0.0.1",
        now: Callable[[], datetime] = clock.now,
        fee_bp: int = 0,
    ) -> None:
        self.ttl = ttl
        self.fee_bp = fee_bp  # Khalti's fee on a completed payment, in basis points of total_amount
        self.base_url = base_url  # set by the server once it knows its port
        self._now = now
        self._lock = threading.Lock()
        self._payments: dict[str, Payment] = {}
        self._by_transaction: dict[str, str] = {}
        self._faults: list[Fault] = []
        self._release = threading.Event()
        self.sms = SmsState()  # the Sparrow SMS emulator's account and messages

    # -- creating and reading -------------------------------------------------------------

    def initiate(
        self,
        *,
        amount: int,
        purchase_order_id: str,
        purchase_order_name: str,
        return_url: str,
        website_url: str,
        customer_info: Any = None,
        extra: dict[str, Any] | None = None,
        base_url: str | None = None,
        ttl: int | None = None,
    ) -> dict[str, Any]:
        """Create a payment link (no validation here: the HTTP layer does Khalti's checks).
        `ttl` (the request's own, in seconds) overrides the sandbox's.

        Returns Khalti's initiate body: pidx, payment_url, expires_at, expires_in.
        """
        pidx = new_id()
        moment = self._now()
        ttl = ttl or self.ttl
        payment = Payment(
            pidx=pidx,
            amount=amount,
            total_amount=amount,
            purchase_order_id=purchase_order_id,
            purchase_order_name=purchase_order_name,
            return_url=return_url,
            website_url=website_url,
            payment_url=f"{base_url or self.base_url}/?pidx={pidx}",
            created_at=moment,
            expires_at=moment + timedelta(seconds=ttl),
            expires_in=ttl,
            customer_info=copy_json(customer_info),
            extra=copy_json(extra or {}),
        )
        payment.move(INITIATED, moment)
        with self._lock:
            self._payments[pidx] = payment
        return {
            "pidx": pidx,
            "payment_url": payment.payment_url,
            "expires_at": clock.isoformat(payment.expires_at),
            "expires_in": payment.expires_in,
        }

    def get(self, pidx: str) -> dict[str, Any] | None:
        """A copy of one payment's state, or None for an unknown pidx."""
        with self._lock:
            payment = self._payments.get(pidx)
            if payment is None:
                return None
            self._expire_if_due(payment)
            return payment.snapshot()

    def all(self) -> list[dict[str, Any]]:
        """Copies of every payment, oldest first."""
        with self._lock:
            for payment in self._payments.values():
                self._expire_if_due(payment)
            return [p.snapshot() for p in self._payments.values()]

    def lookup(self, pidx: str) -> dict[str, Any]:
        """Khalti's six-key lookup body, then the initiate's merchant_* extras ("returned in success
        response payload", the docs say); raises UnknownPaymentError."""
        with self._lock:
            p = self._find(pidx)
            body = {
                "pidx": p.pidx,
                "total_amount": p.total_amount,
                "status": p.status,
                "transaction_id": p.transaction_id,
                "fee": p.fee,
                "refunded": p.refunded_amount > 0,
            }
            body.update({k: copy_json(v) for k, v in p.extra.items() if k.startswith("merchant_")})
            return body

    # -- actions (the payment page, the control API and tests call these) --------------------

    def complete(self, pidx: str, total_amount: int | None = None, mobile: str = DEFAULT_MOBILE) -> dict[str, Any]:
        """The payer paid: Completed, with a new transaction id. total_amount may differ from amount."""
        if total_amount is not None:
            _paisa(total_amount, "total_amount", 0)
        with self._lock:
            p = self._find(pidx)
            self._require(p, PAYABLE, "complete")
            p.transaction_id = new_id()
            p.total_amount = p.amount if total_amount is None else total_amount
            p.fee = p.total_amount * self.fee_bp // 10_000
            p.mobile = mobile
            self._by_transaction[p.transaction_id] = p.pidx
            p.move(COMPLETED, self._now(), transaction_id=p.transaction_id, total_amount=p.total_amount)
            return p.snapshot()

    def set_pending(self, pidx: str) -> dict[str, Any]:
        with self._lock:
            p = self._find(pidx)
            self._require(p, PAYABLE, "mark as pending")
            p.move(PENDING, self._now())
            return p.snapshot()

    def cancel(self, pidx: str) -> dict[str, Any]:
        with self._lock:
            p = self._find(pidx)
            self._require(p, PAYABLE, "cancel")
            p.move(CANCELED, self._now())
            return p.snapshot()

    def expire(self, pidx: str) -> dict[str, Any]:
        with self._lock:
            p = self._find(pidx)
            self._require(p, PAYABLE, "expire")
            moment = self._now()
            p.expires_at = min(p.expires_at, moment)
            p.move(EXPIRED, moment)
            return p.snapshot()

    def refund(self, pidx: str, amount: int | None = None) -> dict[str, Any]:
        """Refund all that is left (amount=None) or part of it, in paisa."""
        with self._lock:
            return self._refund(self._find(pidx), amount).snapshot()

    def refund_transaction(self, transaction_id: str, amount: int | None = None) -> dict[str, Any]:
        """The refund API's view: the payment is named by its transaction id."""
        with self._lock:
            pidx = self._by_transaction.get(transaction_id)
            if pidx is None:
                raise UnknownPaymentError(f"no payment has transaction id {transaction_id!r}")
            return self._refund(self._payments[pidx], amount).snapshot()

    # -- faults ---------------------------------------------------------------------------

    def add_fault(self, spec: dict[str, Any]) -> None:
        """Queue a fault spec (see faults.py); raises SandboxError for a bad spec."""
        fault = parse_fault(spec)
        with self._lock:
            self._faults.append(fault)

    def clear_faults(self) -> None:
        """Empty the queue, and release every answer a ``hold`` fault is holding."""
        with self._lock:
            self._faults.clear()
            self._release.set()
            self._release = threading.Event()

    def wait_for_release(self, timeout: float) -> None:
        """Hold an answer until the faults are cleared (or `timeout` seconds pass)."""
        with self._lock:
            release = self._release
        release.wait(timeout)

    def faults(self) -> list[dict[str, Any]]:
        """The queued specs, with their remaining counts."""
        with self._lock:
            return [f.to_spec() for f in self._faults]

    def take_fault(self, endpoint: str) -> Fault | None:
        """Consume one use of the first queued fault that applies to this endpoint (FIFO)."""
        with self._lock:
            for index, fault in enumerate(self._faults):
                if fault.matches(endpoint):
                    fault.count -= 1
                    if fault.count <= 0:
                        del self._faults[index]
                    return dataclasses.replace(fault)
            return None

    # -- helpers (call with the lock held) --------------------------------------------------

    def _find(self, pidx: str) -> Payment:
        payment = self._payments.get(pidx)
        if payment is None:
            raise UnknownPaymentError(f"unknown pidx {pidx!r}")
        self._expire_if_due(payment)
        return payment

    def _expire_if_due(self, payment: Payment) -> None:
        # Lazy expiry: only a link nobody has touched expires on its own.
        if payment.status == INITIATED and self._now() >= payment.expires_at:
            payment.move(EXPIRED, payment.expires_at)

    @staticmethod
    def _require(payment: Payment, allowed: frozenset[str], verb: str) -> None:
        if payment.status not in allowed:
            raise SandboxError(
                f"cannot {verb} payment {payment.pidx}: it is {payment.status}; "
                f"only {' or '.join(sorted(allowed))} payments can be"
            )

    def _refund(self, p: Payment, amount: int | None) -> Payment:
        if p.status not in REFUNDABLE:
            raise SandboxError(
                f"cannot refund payment {p.pidx}: it is {p.status}; "
                "only Completed or Partially Refunded payments can be refunded"
            )
        remaining = p.total_amount - p.refunded_amount
        amount = remaining if amount is None else _paisa(amount, "refund amount", 1)
        if amount > remaining:
            raise SandboxError(
                f"refund amount {amount} paisa is more than the {remaining} paisa left to refund on payment {p.pidx}"
            )
        if amount <= 0:
            raise SandboxError(f"payment {p.pidx} has nothing left to refund")
        p.refunded_amount += amount
        p.move(
            REFUNDED if p.refunded_amount >= p.total_amount else PARTIALLY_REFUNDED,
            self._now(),
            refund_amount=amount,
        )
        return p
