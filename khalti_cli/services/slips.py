"""Fee slips: one printable PNG per payment with the school, payer, fee, amount, expiry (Nepal time) and a
QR code of the payment link, to hand to a parent or send by chat.

Drawn with Pillow. Nepali names need a Devanagari font and text shaping: the font is Noto Sans Devanagari
from the `fontpkg-noto-sans-devanagari` package (it has Latin letters too), shaped by Pillow's Raqm layout
when Pillow has it (the PyPI wheels do, with the system's libfribidi). Without the font package the slip
falls back to Pillow's default font, which has no Devanagari: Nepali text would show as boxes.
"""

from __future__ import annotations

import io
from collections.abc import Iterable, Sequence
from datetime import timedelta, timezone
from pathlib import Path
from typing import Any

from khalti_cli.clock import now, parse
from khalti_cli.errors import InvalidInput
from khalti_cli.files import claim_names, record_file_name, write_private
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
    from khalti_cli.services.records import public_url

    rows = [find_payment(store, validate.order_id(raw)) for raw in order_ids]
    for row in rows:
        check_slip(payment_record(row), durable=public_url() is not None)
    if public_url() is None:
        return [payment_record(row) for row in rows]
    # The pay page's durable link: each payment's token is made now if it has none.
    from khalti_cli.services.paylink import ensure_tokens
    from khalti_cli.store import queries as q

    ensure_tokens(store, [row["id"] for row in rows])
    return [payment_record(q.get_payment_by_id(store, row["id"]) or row) for row in rows]


def check_slip(record: dict[str, Any], *, durable: bool = False) -> None:
    oid = record["order_id"]
    if durable:  # the slip carries pay_url, which makes a Khalti link when the parent opens it
        from khalti_cli.services.paylink import PAYABLE

        if record["status"] not in PAYABLE:
            raise InvalidInput(
                f"Payment {oid} is {record['status']}: there is nothing to pay online, so no slip. "
                f"See it with: khalti show {oid}"
            )
        return
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
    """`S/1` -> `S%2F1.png`: one file name per order id, never shared (files.record_file_name)."""
    return record_file_name(order_id, ".png")


def write_slips(
    records: Iterable[dict[str, Any]], out_dir: str | Path, school_name: str, *, force: bool = False
) -> list[Path]:
    """One slip per record. Every name is checked first (two ids that would clash on a disk that ignores
    case, or a name already taken without `force`: exit 3 and nothing written); each file is then created
    by files.publishing (0600, never through a link, whole or not at all)."""
    folder = Path(out_dir)
    chosen = list({r["order_id"]: r for r in records}.values())  # an id given twice: one slip
    paths = claim_names(folder, [(r["order_id"], slip_filename(r["order_id"])) for r in chosen], force=force)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InvalidInput(f"Cannot make the folder {folder}: {exc.strerror}.") from None
    for record, path in zip(chosen, paths, strict=True):
        image = render_slip(record, school_name)
        png = io.BytesIO()
        image.save(png, format="PNG", dpi=(300, 300), optimize=True)
        # A slip names the payer: customer data, so 0600 like the database (the office prints it).
        write_private(path, png.getvalue(), force=force)
    return paths


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
    link = record.get("pay_url") or record["payment_url"]
    if record.get("pay_url"):
        draw.text((MARGIN, y), "Valid until paid · भुक्तानी नभएसम्म मान्य", font=_font(40, bold=True), fill=KHALTI_PURPLE)
        y += 70
    elif record.get("expires_at"):
        draw.text((MARGIN, y), "Pay before", font=label_font, fill=MUTED)
        y += 44
        draw.text((MARGIN, y), slip_time(record["expires_at"]), font=_font(40, bold=True), fill=KHALTI_PURPLE)
        y += 70

    qr = qr_image(link, min(640, HEIGHT - y - 230))
    image.paste(qr, ((WIDTH - qr.width) // 2, y))
    y += qr.height + 6
    y = _centered(draw, "Scan with the Khalti app or a phone camera to pay, or open:", _font(28), y, MUTED) + 6
    for text in _wrap(draw, link, _font(26), width, by_char=True)[:3]:
        y = _centered(draw, text, _font(26), y, INK) + 2
    draw.rectangle((0, HEIGHT - 18, WIDTH, HEIGHT), fill=KHALTI_PURPLE)
    return image


def _centered(draw: Any, text: str, font: Any, y: int, fill: tuple[int, int, int]) -> int:
    return centered(draw, text, font, y, fill, WIDTH)
