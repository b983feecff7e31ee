"""A printable receipt for a paid fee, drawn in the fee slips' style (A6 portrait at 300 dpi).

It carries the school, the receipt number, the BS and Gregorian date it was paid, the payer and class, the
fee and its heads, the amount in figures and in words, how it was paid (Khalti and its transaction id, or
the counter method and reference), and says REFUNDED when money went back. A receipt printed again says
COPY. Pillow is imported inside the functions.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from khalti_cli.calendar import long_bs, use_bs
from khalti_cli.money import format_rupees
from khalti_cli.paper.drawing import INK, KHALTI_PURPLE, LINE, MUTED, PAPER, centered, font, labelled, wrap
from khalti_cli.paper.words import rupees_in_words

WIDTH, HEIGHT = 1240, 1748  # A6 at 300 dpi, as fee slips
MARGIN = 90
RED = (170, 30, 30)


@dataclass(frozen=True)
class ReceiptData:
    """Everything a receipt shows, already decided (services.receipts builds it from a payment)."""

    school: str
    receipt_no: str
    order_id: str
    paid_on: date
    payer: str
    payer_ref: str | None
    group: str | None
    fee: str
    period: str | None  # "Mangsir 2083"
    heads: list[tuple[str, int]]  # (label, paisa); empty: the fee is one line
    amount_paisa: int
    paid_by: str  # "Khalti, transaction id ..." or "Cash at the counter, reference ..."
    refunded_paisa: int = 0
    copy: bool = False


def _date_line(day: date) -> str:
    if use_bs():
        return f"{long_bs(day)} BS ({day:%d %B %Y})"
    return f"{day:%d %B %Y} ({long_bs(day)} BS)"


def render_receipt(data: ReceiptData) -> Any:
    from PIL import Image, ImageDraw

    image = Image.new("RGB", (WIDTH, HEIGHT), PAPER)
    draw = ImageDraw.Draw(image)
    width = WIDTH - 2 * MARGIN
    right = WIDTH - MARGIN
    label_font, value_font, small = font(30), font(40, bold=True), font(28)

    draw.rectangle((0, 0, WIDTH, 18), fill=KHALTI_PURPLE)
    y = MARGIN
    for text in wrap(draw, data.school, font(58, bold=True), width)[:2]:
        y = centered(draw, text, font(58, bold=True), y, INK, WIDTH) + 6
    title = "Receipt · रसिद" + (" (COPY)" if data.copy else "")
    y = centered(draw, title, font(40), y + 8, RED if data.copy else MUTED, WIDTH) + 26
    draw.line((MARGIN, y, right, y), fill=LINE, width=3)
    y += 28

    draw.text((MARGIN, y), "Receipt no", font=label_font, fill=MUTED)
    y += 40
    draw.text((MARGIN, y), data.receipt_no, font=font(50, bold=True), fill=KHALTI_PURPLE)
    y += 72
    draw.text((MARGIN, y), "Date paid", font=label_font, fill=MUTED)
    y += 40
    draw.text((MARGIN, y), _date_line(data.paid_on), font=font(36, bold=True), fill=INK)
    y += 62

    who = data.payer + (f" ({data.payer_ref})" if data.payer_ref else "")
    rows = [("Received from", who + (f" · {data.group}" if data.group else ""))]
    rows.append(("For", data.fee + (f" · {data.period}" if data.period and data.period not in data.fee else "")))
    y = labelled(draw, rows, MARGIN, y, width, (label_font, value_font), (40, 56, 10))

    heads = data.heads or [(data.fee, data.amount_paisa)]
    draw.line((MARGIN, y, right, y), fill=LINE, width=2)
    y += 16
    for label, paisa in heads[:12]:
        shown = wrap(draw, label, font(34), width - 360)[0]
        draw.text((MARGIN, y), shown, font=font(34), fill=INK)
        amount = format_rupees(paisa)
        draw.text((right - draw.textlength(amount, font=font(34)), y), amount, font=font(34), fill=INK)
        y += 50
    draw.line((MARGIN, y, right, y), fill=LINE, width=2)
    y += 16
    total = format_rupees(data.amount_paisa)
    big = font(64, bold=True)
    draw.text((MARGIN, y + 16), "Total", font=font(40, bold=True), fill=INK)
    draw.text((right - draw.textlength(total, font=big), y), total, font=big, fill=INK)
    y += 96
    for text in wrap(draw, rupees_in_words(data.amount_paisa), font(32), width)[:3]:
        draw.text((MARGIN, y), text, font=font(32), fill=INK)
        y += 44
    y += 14

    draw.text((MARGIN, y), "Paid by", font=label_font, fill=MUTED)
    y += 40
    for text in wrap(draw, data.paid_by, font(34, bold=True), width, by_char=len(data.paid_by) > 60)[:2]:
        draw.text((MARGIN, y), text, font=font(34, bold=True), fill=INK)
        y += 50
    draw.text((MARGIN, y + 6), f"Order id {data.order_id}", font=small, fill=MUTED)
    y += 56

    if data.refunded_paisa:
        whole = data.refunded_paisa >= data.amount_paisa
        stamp = "REFUNDED" if whole else f"REFUNDED {format_rupees(data.refunded_paisa)}"
        stamp_font = font(72 if whole else 56, bold=True)
        w = draw.textlength(stamp, font=stamp_font)
        top = min(y + 10, HEIGHT - 230)
        draw.rectangle(((WIDTH - w) // 2 - 30, top, (WIDTH + w) // 2 + 30, top + 110), outline=RED, width=8)
        centered(draw, stamp, stamp_font, top + 14, RED, WIDTH)

    centered(draw, "This receipt is made by computer and needs no signature.", small, HEIGHT - 80, MUTED, WIDTH)
    draw.rectangle((0, HEIGHT - 18, WIDTH, HEIGHT), fill=KHALTI_PURPLE)
    return image


def encode(image: Any, fmt: str) -> bytes:
    """The receipt as PNG or PDF bytes (Pillow writes both; 300 dpi so it prints at A6)."""
    import io

    buffer = io.BytesIO()
    if fmt == "pdf":
        image.save(buffer, format="PDF", resolution=300.0)
    else:
        image.save(buffer, format="PNG", dpi=(300, 300), compress_level=6)
    return buffer.getvalue()
