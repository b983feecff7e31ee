"""Where the payment page sends the payer back: return_url plus Khalti's query parameters (reference 5)."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit


def mask_mobile(mobile: str) -> str:
    """98XXXXX001: Khalti shows the first 2 and last 3 digits."""
    if len(mobile) <= 5:
        return mobile
    return mobile[:2] + "X" * (len(mobile) - 5) + mobile[-3:]


def with_query(url: str, params: list[tuple[str, str]]) -> str:
    """Merge params into url's query string (ours win over same-named ones already there)."""
    parts = urlsplit(url)
    ours = {name for name, _ in params}
    kept = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k not in ours]
    return urlunsplit(parts._replace(query=urlencode(kept + params)))


def success_url(payment: dict[str, Any]) -> str:
    """The docs' success redirect, parameters in the docs' order."""
    txn = payment["transaction_id"] or ""
    return with_query(
        payment["return_url"],
        [
            ("pidx", payment["pidx"]),
            ("txnId", txn),
            ("amount", str(payment["amount"])),
            ("total_amount", str(payment["total_amount"])),
            ("status", payment["status"]),
            ("mobile", mask_mobile(payment["mobile"] or "")),
            ("tidx", txn),
            ("purchase_order_id", payment["purchase_order_id"]),
            ("purchase_order_name", payment["purchase_order_name"]),
            ("transaction_id", txn),
        ],
    )


def cancel_url(payment: dict[str, Any]) -> str:
    """The docs' cancel redirect: no txnId, empty transaction ids and mobile."""
    return with_query(
        payment["return_url"],
        [
            ("pidx", payment["pidx"]),
            ("transaction_id", ""),
            ("tidx", ""),
            ("amount", str(payment["amount"])),
            ("total_amount", str(payment["total_amount"])),
            ("mobile", ""),
            ("status", payment["status"]),
            ("purchase_order_id", payment["purchase_order_id"]),
            ("purchase_order_name", payment["purchase_order_name"]),
        ],
    )
