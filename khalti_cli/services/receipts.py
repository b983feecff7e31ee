"""`khalti receipt`: printable receipts for paid fees, and which ones are printed.

A payment's receipt number is given by the store when the payment is first stored as paid (see
store.queries.update_payment); this module only draws (paper.receipt) and writes the files (files.py:
0600, never over an existing name without --force) and then marks the payments printed, with an event.
`--all-new` takes every paid payment not marked printed yet: when a run was killed after writing a file
but before marking it, the next run writes that file again in place.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import date
from pathlib import Path
from typing import Any

from khalti_cli.calendar import period_label
from khalti_cli.clock import stamp
from khalti_cli.errors import InvalidInput
from khalti_cli.files import write_private
from khalti_cli.money import format_rupees
from khalti_cli.paper.receipt import ReceiptData, encode, render_receipt
from khalti_cli.services import validate
from khalti_cli.services.payments import find_payment
from khalti_cli.services.records import load_heads
from khalti_cli.store import Store, school
from khalti_cli.store import queries as q
from khalti_cli.times import local_day

MARK_EVERY = 50  # payments marked printed per transaction
_METHODS = {"cash": "Cash at the counter", "bank": "Bank deposit", "cheque": "Cheque", "other": "Paid outside Khalti"}


def receipt_rows(store: Store, order_ids: Sequence[str] | None) -> list[dict[str, Any]]:
    """The payments to print, each checked to be paid, before any file is written. None: every paid
    payment whose receipt is not printed yet (in receipt number order)."""
    if order_ids is None:
        return school.unprinted_receipts(store)
    rows = []
    for raw in order_ids:
        row = find_payment(store, validate.order_id(raw))
        if row["status"] not in q.RECEIPT_STATUSES or not row.get("receipt_no"):
            oid = row["order_id"]
            raise InvalidInput(
                f"Payment {oid} is {row['status']}, not paid, so it has no receipt. Ask Khalti with "
                f"khalti lookup {oid}; if it was paid at the counter, record it with khalti settle {oid}."
            )
        payer = q.get_payer(store, row["payer_ref"]) if row.get("payer_ref") else None
        rows.append({**row, "payer_group": payer["group_name"] if payer else None})
    return rows


def receipt_data(row: dict[str, Any], school: str) -> ReceiptData:
    heads = [(h["label"], int(h["amount_paisa"])) for h in load_heads(row)]
    refunded = int(row.get("refunded_paisa") or 0)
    if row["status"] == "refunded" and not refunded:
        refunded = int(row["amount_paisa"])
    return ReceiptData(
        school=school,
        receipt_no=row["receipt_no"],
        order_id=row["order_id"],
        paid_on=_paid_on(row),
        payer=row.get("customer_name") or row.get("payer_ref") or "—",
        payer_ref=row.get("payer_ref"),
        group=row.get("group_name") or row.get("payer_group"),
        fee=row["name"],
        period=period_label(row["period"]) if row.get("period") else None,
        heads=heads,
        amount_paisa=int(row["amount_paisa"]),
        paid_by=paid_by(row),
        refunded_paisa=refunded,
        copy=bool(row.get("receipt_printed_at")),
    )


def _paid_on(row: dict[str, Any]) -> date:
    settled = row.get("settle_date")
    if row["status"] == "paid_offline" and settled:
        try:
            return date.fromisoformat(str(settled)[:10])
        except ValueError:
            pass
    moment = row.get("paid_at") or row["updated_at"]
    return local_day(moment)


def paid_by(row: dict[str, Any]) -> str:
    if row["status"] == "paid_offline":
        method = str(row.get("settle_method") or "other")
        text = _METHODS.get(method, method.title())
        if row.get("settle_reference"):
            text += f", reference {row['settle_reference']}"
        return text
    text = "Khalti"
    if row.get("transaction_id"):
        text += f", transaction id {row['transaction_id']}"
    return text


def receipt_filename(row: dict[str, Any], ext: str) -> str:
    safe = re.sub(r"[^A-Za-z0-9._-]", "_", f"{row['receipt_no']}_{row['order_id']}".replace("/", "-"))
    return f"{safe}.{ext}"


def write_receipts(
    store: Store, rows: Sequence[dict[str, Any]], out_dir: str | Path, school: str, *, pdf: bool, force: bool
) -> list[Path]:
    folder = Path(out_dir)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InvalidInput(f"Cannot make the folder {folder}: {exc.strerror}.") from None
    written: list[Path] = []
    done: list[tuple[dict[str, Any], Path]] = []
    try:
        for row in rows:
            image = render_receipt(receipt_data(row, school))
            # Not yet marked printed: a file of this name is this receipt, left by a run killed before marking.
            replace = force or (not row.get("receipt_printed_at") and (folder / receipt_filename(row, "png")).exists())
            for ext in ("png", "pdf") if pdf else ("png",):
                path = write_private(folder / receipt_filename(row, ext), encode(image, ext), force=replace)
                written.append(path)
            done.append((row, written[-1 if not pdf else -2]))
            if len(done) >= MARK_EVERY:
                _mark_printed(store, done)
                done.clear()
    finally:
        _mark_printed(store, done)
    return written


def _mark_printed(store: Store, done: list[tuple[dict[str, Any], Path]]) -> None:
    if not done:
        return
    at = stamp()
    with store.write():
        for row, path in done:
            q.update_payment(store, row["id"], {"receipt_printed_at": at})
            again = " again" if row.get("receipt_printed_at") else ""
            q.add_event(
                store,
                row["id"],
                "receipt",
                at=at,
                message=f"Receipt {row['receipt_no']} ({format_rupees(row['amount_paisa'])}) printed{again}: {path}",
            )
