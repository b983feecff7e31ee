"""What goes with an email: the fee slip (fee messages, reminders) and the receipt (thank-yous).

`receipt_part` is the seam for the receipts of the school-year work (issue 12): once merged, it returns
that receipt's number (`receipt_no`) and its file; until then the order id and a plain-text receipt.
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
    """(receipt number, receipt file) of a paid payment."""
    number = str(record.get("receipt_no") or record["order_id"])
    paid = record.get("paid_at") or record.get("updated_at")
    lines = [
        f"{school}",
        "Receipt / रसिद",
        "",
        f"Receipt no.:  {number}",
        f"Payer:        {record.get('payer_name') or record.get('customer_name') or ''}",
        f"Fee:          {record['name']}",
        f"Amount:       {format_rupees(int(record['amount_paisa']))}",
        f"Paid:         {_nepal(paid)}",
        f"Order id:     {record['order_id']}",
        f"Transaction:  {record.get('transaction_id') or '-'}",
        "",
    ]
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in number)
    return number, Attachment(f"receipt-{safe}.txt", "\n".join(lines).encode("utf-8"), "text/plain")


def slip_part(record: dict[str, Any], school: str) -> Attachment | None:
    """The fee slip (PNG, with the QR code), when the payment has a live link to print; else None."""
    from khalti_cli.services.records import payment_record
    from khalti_cli.services.slips import check_slip, render_slip, slip_filename

    printable = payment_record(record)
    try:
        check_slip(printable)
    except InvalidInput:
        return None
    buffer = io.BytesIO()
    render_slip(printable, school).save(buffer, format="PNG")
    return Attachment(slip_filename(str(record["order_id"])), buffer.getvalue(), "image/png")


def _nepal(moment: object) -> str:
    return parse(str(moment)).astimezone(NEPAL).strftime("%Y-%m-%d %H:%M (Nepal time)") if moment else ""
