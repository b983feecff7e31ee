"""What goes with an email: the fee slip (fee messages, reminders) and the receipt (thank-yous).

The receipt is the one `khalti receipt` prints (services.receipts, paper.receipt), with its `receipt_no`;
the fee slip carries the pay page's durable link when KHALTI_PUBLIC_URL is set, else the live Khalti link.
"""

from __future__ import annotations

import io
from typing import Any

from khalti_cli.channels.email import Attachment
from khalti_cli.clock import parse
from khalti_cli.errors import InvalidInput
from khalti_cli.money import format_rupees
from khalti_cli.services.message_text import NEPAL


def receipt_part(record: dict[str, Any], school: str) -> tuple[str, Attachment]:
    """(receipt number, receipt file) of a paid payment: its `receipt_no` and the same PNG `khalti receipt`
    draws (paper.receipt; marked COPY once the receipt was printed). Emailing it marks nothing printed."""
    if not record.get("receipt_no"):  # not paid in the store's eyes: the plain words, under the order id
        return str(record["order_id"]), _plain_receipt(record, school)
    from khalti_cli.paper.receipt import encode, render_receipt
    from khalti_cli.services.receipts import receipt_data, receipt_filename

    row = {**record, "customer_name": record.get("customer_name") or record.get("payer_name")}
    image = render_receipt(receipt_data(row, school))
    return str(record["receipt_no"]), Attachment(receipt_filename(record, "png"), encode(image, "png"), "image/png")


def _plain_receipt(record: dict[str, Any], school: str) -> Attachment:
    number = str(record["order_id"])
    paid = record.get("paid_at") or record.get("updated_at")
    lines = [
        f"{school}",
        "Receipt / रसिद",
        "",
        f"Payer:        {record.get('payer_name') or record.get('customer_name') or ''}",
        f"Fee:          {record['name']}",
        f"Amount:       {format_rupees(int(record['amount_paisa']))}",
        f"Paid:         {_nepal(paid)}",
        f"Order id:     {record['order_id']}",
        f"Transaction:  {record.get('transaction_id') or '-'}",
        "",
    ]
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in number)
    return Attachment(f"receipt-{safe}.txt", "\n".join(lines).encode("utf-8"), "text/plain")


def slip_part(record: dict[str, Any], school: str) -> Attachment | None:
    """The fee slip (PNG, with the QR code), when the payment has a live link to print; else None."""
    from khalti_cli.services.records import payment_record, public_url
    from khalti_cli.services.slips import check_slip, render_slip, slip_filename

    printable = payment_record(record)
    try:
        check_slip(printable, durable=public_url() is not None and bool(printable.get("pay_url")))
    except InvalidInput:
        return None
    buffer = io.BytesIO()
    render_slip(printable, school).save(buffer, format="PNG")
    return Attachment(slip_filename(str(record["order_id"])), buffer.getvalue(), "image/png")


def _nepal(moment: object) -> str:
    return parse(str(moment)).astimezone(NEPAL).strftime("%Y-%m-%d %H:%M (Nepal time)") if moment else ""
