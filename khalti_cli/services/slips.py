"""Fee slips: one printable PNG per payment with the school, payer, fee, amount, expiry (Nepal time) and a
QR code of the payment link, to hand to a parent or send by chat.

Drawn with Pillow. Nepali names need a Devanagari font and text shaping: the font is Noto Sans Devanagari
from the `fontpkg-noto-sans-devanagari` package (it has Latin letters too), shaped by Pillow's Raqm layout
when Pillow has it (the PyPI wheels do, with the system's libfribidi). Without the font package the slip
falls back to Pillow's default font, which has no Devanagari: Nepali text would show as boxes.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator, Sequence
from datetime import timedelta, timezone
from functools import lru_cache
from pathlib import Path
from typing import Any

from khalti_cli.clock import now, parse
from khalti_cli.errors import InvalidInput
from khalti_cli.files import claim_names, record_file_name, write_private
from khalti_cli.money import format_rupees
from khalti_cli.paper.drawing import INK, KHALTI_PURPLE, LINE, MUTED, PAPER, centered, fit_lines
from khalti_cli.paper.drawing import font as _font
from khalti_cli.paper.drawing import font_file as font_file
from khalti_cli.paper.drawing import font_note as font_note
from khalti_cli.services import validate
from khalti_cli.services.payments import closed_reason, find_payment, still_due_after_refund
from khalti_cli.services.records import payment_record
from khalti_cli.store import Store
from khalti_cli.times import local

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

        if record["status"] == "pending":
            raise InvalidInput(
                f"Payment {oid} is pending at Khalti: the parent may have paid already, so no slip. "
                f"Check it with: khalti lookup {oid}"
            )
        if record["status"] not in PAYABLE:
            raise InvalidInput(closed_reason(oid, record["status"]) or f"Payment {oid} cannot be paid online.")
        return
    if record["status"] not in ("initiated", "pending") or not record.get("payment_url"):
        closed = None if still_due_after_refund(record) else closed_reason(oid, record["status"])
        raise InvalidInput(
            closed
            or f"Payment {oid} has no live payment link (it is {record['status']}); make one first with: "
            f"khalti initiate {oid}"
        )
    expires = record.get("expires_at")
    if expires and parse(expires) <= now():
        raise InvalidInput(
            f"The link of payment {oid} expired at {local(expires)}; make a new one with: khalti initiate {oid}"
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
    for path, data in zip(paths, slip_pngs(chosen, school_name), strict=True):
        # A slip names the payer: customer data, so 0600 like the database (the office prints it).
        write_private(path, data, force=force)
    return paths


PARALLEL_FROM = 8  # slips; fewer are drawn in this process (a worker costs more than it saves)


def slip_pngs(records: Sequence[dict[str, Any]], school_name: str) -> Iterator[bytes]:
    """Each record's slip as PNG bytes, in order: drawn on every CPU when there are many.

    Worker processes are forked (Linux, macOS with fork) after the fonts and the slip's fixed parts are
    loaded, so they start warm; with other threads running (a fork could copy a held lock) or without
    fork, the slips are drawn here, one after another."""
    import multiprocessing
    import threading

    _base(school_name)  # fonts and the fixed parts, before any fork
    workers = min(os.cpu_count() or 1, 8)
    forkable = "fork" in multiprocessing.get_all_start_methods() and threading.active_count() == 1
    if len(records) < PARALLEL_FROM or workers < 2 or not forkable:
        for record in records:
            yield slip_png(record, school_name)
        return
    from concurrent.futures import ProcessPoolExecutor

    context = multiprocessing.get_context("fork")
    with ProcessPoolExecutor(workers, mp_context=context) as pool:
        chunk = max(1, min(32, len(records) // (workers * 4)))
        yield from pool.map(slip_png, records, [school_name] * len(records), chunksize=chunk)


def slip_png(record: dict[str, Any], school_name: str) -> bytes:
    """One slip as PNG bytes: 300 dpi; zlib level 6 without Pillow's `optimize` pass, which tries every
    filter again for 1-2% fewer bytes at twice the time."""
    import io

    buffer = io.BytesIO()
    render_slip(record, school_name).save(buffer, format="PNG", dpi=(300, 300), compress_level=6)
    return buffer.getvalue()


def qr_image(url: str, box: int) -> Any:
    """The QR code of `url` as a black-on-white image about `box` pixels wide (whole pixels per module),
    with the 4-module quiet zone: drawn one pixel a module, then scaled up without smoothing."""
    import segno
    from PIL import Image

    code = segno.make(url, error="m")
    rows = list(code.matrix_iter(scale=1, border=4))
    side = len(rows)
    data = bytes(0 if dark else 255 for row in rows for dark in row)
    small = Image.frombytes("L", (side, side), data)
    scale = max(1, box // side)
    return small.resize((side * scale, side * scale), Image.Resampling.NEAREST)


LABEL_SIZE, VALUE_SIZE, VALUE_LINE = 32, 42, 60
_ROWS = (("Payer", 2), ("Fee", 2), ("Order id", 1))  # label and the lines its value may take


@lru_cache(maxsize=4)
def _base(school_name: str) -> tuple[Any, int]:
    """The parts every slip of a school shares (bars, school name, title, labels): drawn once per run."""
    from PIL import Image, ImageDraw

    image = Image.new("RGB", (WIDTH, HEIGHT), PAPER)
    draw = ImageDraw.Draw(image)
    y = MARGIN
    draw.rectangle((0, 0, WIDTH, 18), fill=KHALTI_PURPLE)
    title = _font(60, bold=True)
    for text in fit_lines(draw, school_name, title, WIDTH - 2 * MARGIN, 2):
        y = _centered(draw, text, title, y, INK) + 6
    y = _centered(draw, "Fee slip · शुल्क भुक्तानी पर्ची", _font(38), y + 8, MUTED) + 28
    draw.line((MARGIN, y, WIDTH - MARGIN, y), fill=LINE, width=3)
    y += 34
    top = y
    for label, lines in _ROWS:
        draw.text((MARGIN, y), label, font=_font(LABEL_SIZE), fill=MUTED)
        y += 44 + lines * VALUE_LINE + 14
    draw.text((MARGIN, y), "Amount", font=_font(LABEL_SIZE), fill=MUTED)
    y += 44 + 110
    draw.rectangle((0, HEIGHT - 18, WIDTH, HEIGHT), fill=KHALTI_PURPLE)
    return image, top


def render_slip(record: dict[str, Any], school_name: str) -> Any:
    from PIL import ImageDraw

    base, top = _base(school_name)
    image = base.copy()
    draw = ImageDraw.Draw(image)
    width = WIDTH - 2 * MARGIN
    value_font = _font(VALUE_SIZE, bold=True)
    payer = record.get("customer_name") or "—"
    ref = record.get("payer") or record.get("reference")
    values = (payer + (f" ({ref})" if ref else ""), record["name"], record["order_id"])
    y = top
    for (_label, lines), value in zip(_ROWS, values, strict=True):
        y += 44
        for i, text in enumerate(fit_lines(draw, value, value_font, width, lines)):
            draw.text((MARGIN, y + i * VALUE_LINE), text, font=value_font, fill=INK)
        y += lines * VALUE_LINE + 14
    y += 44
    draw.text((MARGIN, y), format_rupees(record["amount_paisa"]), font=_font(80, bold=True), fill=INK)
    y += 110 + 44
    link = record.get("pay_url") or record["payment_url"]
    if record.get("pay_url"):
        y -= 44  # no "Pay before" label: the durable link has no expiry
        draw.text((MARGIN, y), "Valid until paid · भुक्तानी नभएसम्म मान्य", font=_font(40, bold=True), fill=KHALTI_PURPLE)
    elif record.get("expires_at"):
        draw.text((MARGIN, y - 44), "Pay before", font=_font(LABEL_SIZE), fill=MUTED)
        draw.text((MARGIN, y), slip_time(record["expires_at"]), font=_font(40, bold=True), fill=KHALTI_PURPLE)
    y += 70
    qr = qr_image(link, min(640, HEIGHT - y - 230))
    image.paste(qr, ((WIDTH - qr.width) // 2, y))
    y += qr.height + 6
    y = _centered(draw, "Scan with the Khalti app or a phone camera to pay, or open:", _font(28), y, MUTED) + 6
    for text in fit_lines(draw, link, _font(26), width, 3, by_char=True):
        y = _centered(draw, text, _font(26), y, INK) + 2
    return image


def _centered(draw: Any, text: str, font: Any, y: int, fill: tuple[int, int, int]) -> int:
    return centered(draw, text, font, y, fill, WIDTH)
