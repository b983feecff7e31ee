"""`initiate --wait`: poll lookup until every payment is final or the time is up."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

from khalti_cli.config import Settings
from khalti_cli.services.payments import Gateway, lookup_many
from khalti_cli.statuses import NEEDS_FORCE
from khalti_cli.store import Store

OnStatus = Callable[[str, str], None]


def wait_until_final(
    store: Store,
    settings: Settings,
    gateway: Callable[[], Gateway],
    order_ids: Sequence[str],
    *,
    timeout_s: int,
    interval_s: float,
    on_status: OnStatus | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> dict[str, str]:
    """Returns order id -> final status; ids still open when time runs out keep their open status."""
    deadline = time.monotonic() + timeout_s
    client = gateway()
    waiting = list(order_ids)
    last: dict[str, str] = {}
    while waiting:
        # A failed lookup (Khalti briefly down) leaves the status as it was: keep polling to the deadline.
        for result in lookup_many(store, settings, lambda: client, waiting):
            if last.get(result.order_id) != result.status and on_status:
                on_status(result.order_id, result.status)
            last[result.order_id] = result.status
        waiting = [oid for oid in waiting if last[oid] in NEEDS_FORCE]
        if not waiting or time.monotonic() + interval_s > deadline:
            break
        sleep(interval_s)
    return last
