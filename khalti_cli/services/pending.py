"""How long a payment may stay Pending at Khalti before a person must look at it.

Kept apart from services/apply (which imports the gateway's answers and the status rules) so that loading
the settings, which sets the limit, costs nothing on commands that never look a payment up.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from khalti_cli.clock import parse
from khalti_cli.times import local

# Khalti's docs: Pending means "hold, and contact Khalti". A payment Khalti keeps reporting Pending for
# longer than this goes to review (KHALTI_PENDING_REVIEW_HOURS; set when the settings are loaded).
_pending_limit = timedelta(hours=24)


def set_pending_review_hours(hours: int) -> None:
    global _pending_limit
    _pending_limit = timedelta(hours=hours)


def pending_review(
    payment: dict[str, Any], status: str, reason: str | None, pidx: str | None, at: str
) -> tuple[str, str | None, str | None]:
    """(status, reason, pending_since): pending for too long -> review, naming how to settle it."""
    if status != "pending":
        return status, reason, None
    since = payment.get("pending_since") or at
    if parse(at) - parse(since) < _pending_limit:
        return status, reason, since
    hours = int(_pending_limit.total_seconds() // 3600)
    oid = payment["order_id"]
    return (
        "review",
        f"Khalti has reported this payment Pending since {local(since)} (more than {hours} h); its docs say to ask "
        f"Khalti. Ask Khalti's support about pidx {pidx}, then run khalti lookup {oid} to store their answer, or "
        f"settle it with khalti resolve {oid} --as completed|voided --reason TEXT.",
        since,
    )
