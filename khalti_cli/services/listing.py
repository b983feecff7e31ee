"""`khalti list --format jsonl` at speed: the records' JSON made by SQLite, one line a payment.

Kept apart from services.payments so that this path does not import the gateway and status machinery
(about 50 ms of start-up). The JSON is the same as services.records.payment_record's (keys, order and
values; tests/test_pipelines.py compares them); keys it cannot make in SQL fall back to the Python path.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from khalti_cli.services.records import payment_record
from khalti_cli.store import Store
from khalti_cli.store import queries as q
from khalti_cli.store.queries import PaymentFilter

__all__ = ["PaymentFilter", "list_json_lines", "list_records"]


def list_records(store: Store, flt: q.PaymentFilter = q.PaymentFilter()) -> Iterator[dict[str, Any]]:
    """The payments matching the filter as records, newest first."""
    for row in q.list_payments(store, flt):
        yield payment_record(row)


def list_json_lines(store: Store, keys: Sequence[str], flt: q.PaymentFilter) -> Iterator[bytes] | None:
    """list_records as UTF-8 JSON, one a record, newest first; None when a key needs Python."""
    from khalti_cli.services.records import public_url

    expr = q.record_json_sql(keys, public_url())
    return None if expr is None else q.list_payments_json(store, expr, flt)
