"""Fee slips: one printable PNG per payment with the school, payer, fee, amount, expiry (Nepal time) and a
QR code of the payment link, to hand to a parent or send by chat.

Drawn with Pillow. Nepali names need a Devanagari font and text shaping: the font is Noto Sans Devanagari
from the `fontpkg-noto-sans-devanagari` package (it has Latin letters too), shaped by Pillow's Raqm layout
when Pillow has it (the PyPI wheels do, with the system's libfribidi). Without the font package the slip
falls back to Pillow's default font, which has no Devanagari: Nepali text would show as boxes.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Sequence
from datetime import timedelta, timezone
from pathlib import Path
from typing import Any

from khalti_cli.clock import now, parse
from khalti_cli.errors import InvalidInput
from khalti_cli.money import format_rupees
from khalti_cli.paper.drawing import INK, KHALTI_PURPLE, LINE, MUTED, PAPER, centered, labelled
from khalti_cli.paper.drawing import font as _font
from khalti_cli.paper.drawing import font_file as font_file
from khalti_cli.paper.drawing import font_note as font_note
from khalti_cli.paper.drawing import wrap as _wrap
from khalti_cli.services import validate
from khalti_cli.services.payments import find_payment
from khalti_cli.services.records import payment_record
from khalti_cli.store import Store

NEPAL = timezone(timedelta(hours=5, minutes=45))
WIDTH, HEIGHT = 1240, 1748  # A6 at 300 dpi
MARGIN = 90


def slip_records(store: Store, order_ids: Sequence[str]) -> list[dict[str, Any]]:
    """The payments, each checked to have a live payment link, before any slip is drawn."""
    records = []
    for raw in order_ids:
        record = payment_record(find_payment(store, validate.order_id(raw)))
        check_slip(record)
        records.append(record)
    return records


def check_slip(record: dict[str, Any]) -> None:
    oid = record["order_id"]
    if record["status"] not in ("initiated", "pending") or not record.get("payment_url"):
        raise InvalidInput(
            f"Payment {oid} has no live payment link (it is {record['status']}); make one first with: "
            f"khalti initiate {oid}"
        )
    expires = record.get("expires_at")
    if expires and parse(expires) <= now():
        raise InvalidInput(
            f"The link of payment {oid} expired at {nepal_time(expires)}; make a new one with: khalti initiate {oid}"
        )


def nepal_time(iso: str) -> str:
    return parse(iso).astimezone(NEPAL).strftime("%Y-%m-%d %H:%M (Nepal time, +05:45)")


def slip_time(iso: str) -> str:
    """The expiry as a slip shows it: the BS date first (Gregorian with KHALTI_CALENDAR=ad), Nepal time."""
    from khalti_cli.calendar import long_bs, use_bs

    moment = parse(iso).astimezone(NEPAL)
    if not use_bs():
        return nepal_time(iso)
    return f"{long_bs(moment.date())}, {moment:%H:%M} ({moment:%Y-%m-%d}, Nepal time)"


def slip_filename(order_id: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]", "_", order_id) + ".png"


def write_slips(records: Iterable[dict[str, Any]], out_dir: str | Path, school_name: str) -> list[Path]:
    folder = Path(out_dir)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InvalidInput(f"Cannot make the folder {folder}: {exc.strerror}.") from None
    written = []
    for record in records:
        path = folder / slip_filename(record["order_id"])
        try:
            image = render_slip(record, school_name)
            # A slip names the payer: customer data, so 0600 like the database (the office prints it).
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "wb") as stream:
                image.save(stream, format="PNG", dpi=(300, 300), optimize=True)
        except OSError as exc:
            raise InvalidInput(f"Cannot write {path}: {exc.strerror or exc}.") from None
        written.append(path)
    return written


def qr_image(url: str, box: int) -> Any:
    """The QR code of `url` as a black-on-white image about `box` pixels wide (whole pixels per module)."""
    import segno
    from PIL import Image

    code = segno.make(url, error="m")
    border = 4
    size = code.symbol_size(scale=1, border=border)[0]
    scale = max(1, box // size)
    rows = list(code.matrix_iter(scale=scale, border=border))
    side = len(rows)
    data = bytes(0 if dark else 255 for row in rows for dark in row)
    return Image.frombytes("L", (side, side), data)


def render_slip(record: dict[str, Any], school_name: str) -> Any:
    from PIL import Image, ImageDraw

    image = Image.new("RGB", (WIDTH, HEIGHT), PAPER)
    draw = ImageDraw.Draw(image)
    width = WIDTH - 2 * MARGIN
    y = MARGIN

    draw.rectangle((0, 0, WIDTH, 18), fill=KHALTI_PURPLE)
    for text in _wrap(draw, school_name, _font(60, bold=True), width)[:2]:
        y = _centered(draw, text, _font(60, bold=True), y, INK) + 6
    y = _centered(draw, "Fee slip · शुल्क भुक्तानी पर्ची", _font(38), y + 8, MUTED) + 28
    draw.line((MARGIN, y, WIDTH - MARGIN, y), fill=LINE, width=3)
    y += 34

    payer = record.get("customer_name") or "—"
    ref = record.get("payer") or record.get("reference")
    rows = [
        ("Payer", payer + (f"  ({ref})" if ref else "")),
        ("Fee", record["name"]),
        ("Order id", record["order_id"]),
    ]
    label_font, value_font = _font(32), _font(42, bold=True)
    y = labelled(draw, rows, MARGIN, y, width, (label_font, value_font), (44, 60, 14))

    draw.text((MARGIN, y), "Amount", font=label_font, fill=MUTED)
    y += 44
    draw.text((MARGIN, y), format_rupees(record["amount_paisa"]), font=_font(80, bold=True), fill=INK)
    y += 110
    if record.get("expires_at"):
        draw.text((MARGIN, y), "Pay before", font=label_font, fill=MUTED)
        y += 44
        draw.text((MARGIN, y), slip_time(record["expires_at"]), font=_font(40, bold=True), fill=KHALTI_PURPLE)
        y += 70

    qr = qr_image(record["payment_url"], min(640, HEIGHT - y - 230))
    image.paste(qr, ((WIDTH - qr.width) // 2, y))
    y += qr.height + 6
    y = _centered(draw, "Scan with the Khalti app or a phone camera to pay, or open:", _font(28), y, MUTED) + 6
    for text in _wrap(draw, record["payment_url"], _font(26), width, by_char=True)[:3]:
        y = _centered(draw, text, _font(26), y, INK) + 2
    draw.rectangle((0, HEIGHT - 18, WIDTH, HEIGHT), fill=KHALTI_PURPLE)
    return image


def _centered(draw: Any, text: str, font: Any, y: int, fill: tuple[int, int, int]) -> int:
    return centered(draw, text, font, y, fill, WIDTH)
