"""One payment link as the sandbox remembers it, and Khalti's status words."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from . import clock

INITIATED = "Initiated"
PENDING = "Pending"
COMPLETED = "Completed"
REFUNDED = "Refunded"
PARTIALLY_REFUNDED = "Partially Refunded"
EXPIRED = "Expired"
CANCELED = "User canceled"
# Lookup answers these with HTTP 400 but the normal body (reference 4.2).
LOOKUP_400_STATUSES = frozenset({EXPIRED, CANCELED, "Failed"})
DEFAULT_MOBILE = "9800000001"

PAYABLE = frozenset({INITIATED, PENDING})
REFUNDABLE = frozenset({COMPLETED, PARTIALLY_REFUNDED})


@dataclass
class Payment:
    pidx: str
    amount: int
    purchase_order_id: str
    purchase_order_name: str
    return_url: str
    website_url: str
    payment_url: str
    created_at: datetime
    expires_at: datetime
    expires_in: int
    customer_info: Any = None
    extra: dict[str, Any] = field(default_factory=dict)
    status: str = INITIATED
    total_amount: int = 0
    transaction_id: str | None = None
    fee: int = 0
    refunded_amount: int = 0
    mobile: str | None = None
    history: list[dict[str, Any]] = field(default_factory=list)

    def move(self, status: str, at: datetime, **details: Any) -> None:
        self.status = status
        self.history.append({"at": clock.isoformat(at), "status": status, **details})

    def snapshot(self) -> dict[str, Any]:
        return {
            "pidx": self.pidx,
            "status": self.status,
            "amount": self.amount,
            "total_amount": self.total_amount,
            "transaction_id": self.transaction_id,
            "fee": self.fee,
            "refunded": self.refunded_amount > 0,
            "refunded_amount": self.refunded_amount,
            "purchase_order_id": self.purchase_order_id,
            "purchase_order_name": self.purchase_order_name,
            "return_url": self.return_url,
            "website_url": self.website_url,
            "payment_url": self.payment_url,
            "customer_info": copy_json(self.customer_info),
            "extra": copy_json(self.extra),
            "mobile": self.mobile,
            "created_at": clock.isoformat(self.created_at),
            "expires_at": clock.isoformat(self.expires_at),
            "expires_in": self.expires_in,
            "history": copy_json(self.history),
        }


def copy_json(value: Any) -> Any:
    """A deep copy of JSON-shaped data, so callers never share our mutable state."""
    if isinstance(value, dict):
        return {k: copy_json(v) for k, v in value.items()}
    if isinstance(value, list):
        return [copy_json(v) for v in value]
    return value
