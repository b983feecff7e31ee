"""The school's books for a period: by class, money in through Khalti and outside it, refunds, Khalti's
fees and the net; and the xlsx workbook that --format xlsx writes for list, dues, report and payers list.

Money in: through Khalti = the amounts of payments paid on Khalti (completed, partially_refunded, refunded);
outside Khalti = paid_offline (khalti settle). The refunds and Khalti's fees of those Khalti payments are
taken off for the net (net_paisa: the one definition every view of the report uses).
A voided fee is neither owed nor paid; a fee in review is counted apart until a person decides (its money,
refunds and fees are in none of these figures).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from khalti_cli.money import format_paisa
from khalti_cli.ordering import NO_CLASS, class_key
from khalti_cli.store import Store
from khalti_cli.store import queries as q
from khalti_cli.times import to_local

KHALTI_PAID = ("completed", "partially_refunded", "refunded")
OUTSIDE_PAID = ("paid_offline",)
OWED = ("created", "initiated", "expired", "canceled", "failed")
BOOK_KEYS = ("billed", "collected_khalti", "collected_outside", "refunds", "fees", "net", "due", "pending", "review")
Sheet = tuple[str, Sequence[str], Iterable[dict[str, Any]]]
NET_DEFINITION = (
    "collected through Khalti (completed, partially_refunded, refunded) + collected outside Khalti "
    "(paid_offline) - refunds - Khalti's fees"
)


def net_paisa(paisa: Mapping[str, int]) -> int:
    """Net collected, the money that reached the school and stayed: collected through Khalti + collected
    outside Khalti - refunds - Khalti's fees (NET_DEFINITION). The one place it is computed."""
    return paisa["collected_khalti"] + paisa["collected_outside"] - paisa["refunds"] - paisa["fees"]


@dataclass
class Books:
    """Paisa per figure (BOOK_KEYS), and how many payments each counts."""

    group: str
    paisa: dict[str, int] = field(default_factory=lambda: dict.fromkeys(BOOK_KEYS, 0))
    count: dict[str, int] = field(default_factory=lambda: dict.fromkeys(BOOK_KEYS, 0))

    def add(self, key: str, count: int, paisa: int) -> None:
        self.count[key] += count
        self.paisa[key] += paisa

    def add_row(self, r: dict[str, Any]) -> None:
        status, count, amount = r["status"], int(r["count"]), int(r["amount_paisa"] or 0)
        if status != "voided":
            self.add("billed", count, amount)
        if status in KHALTI_PAID:
            self.add("collected_khalti", count, amount)
            self.add("fees", 0, int(r["fee_paisa"] or 0))
            self.add("refunds", 0, int(r["refunded_paisa"] or 0))
        elif status in OUTSIDE_PAID:
            self.add("collected_outside", count, amount)
        elif status in OWED:
            self.add("due", count, amount)
        elif status in ("pending", "review"):
            self.add(status, count, amount)
        self._net()

    def _net(self) -> None:
        self.paisa["net"] = net_paisa(self.paisa)
        self.count["net"] = self.count["collected_khalti"] + self.count["collected_outside"]

    def merge(self, other: Books) -> None:
        for key in BOOK_KEYS:
            self.count[key] += other.count[key]
            self.paisa[key] += other.paisa[key]
        self._net()

    def as_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"group": self.group}
        for key in BOOK_KEYS:
            paisa = self.paisa[key]
            out[key] = {"count": self.count[key], "amount": format_paisa(paisa), "amount_paisa": paisa}
        return out

    def as_row(self) -> dict[str, Any]:
        row: dict[str, Any] = {"group": self.group}
        for key in BOOK_KEYS:
            row[key] = format_paisa(self.paisa[key])
        return row


def books_by_class(
    store: Store, *, since: str | None, until: str | None, periods: tuple[str, str] | None
) -> tuple[list[Books], Books]:
    """(one Books per class, the school's Books) for the payments of the period."""
    classes: dict[str, Books] = {}
    for r in q.class_status_totals(store, since=since, until=until, periods=periods):
        group = r["class"] or NO_CLASS
        classes.setdefault(group, Books(group)).add_row(r)
    school = Books("school")
    for books in classes.values():
        school.merge(books)
    return sorted(classes.values(), key=lambda b: class_key(b.group)), school


# --- xlsx --------------------------------------------------------------------------------------

_RUPEES = re.compile(r"^-?\d+\.\d\d$")
_MONEY_KEYS = {"amount", "due", "pending", "refunds", "fees", "net", "billed", "review"}
_MONEY_KEYS |= {"collected", "collected_khalti", "collected_outside", "refunded"}


def xlsx_bytes(sheets: Sequence[Sheet]) -> bytes:
    """A workbook, one sheet per section: numbers as numbers (rupees with two decimals, paisa as integers),
    timestamps as dates (local time), text as text (never run as a formula), Nepali intact."""
    import io

    import xlsxwriter

    buffer = io.BytesIO()
    options = {"in_memory": True, "strings_to_formulas": False, "strings_to_urls": False, "strings_to_numbers": False}
    book = xlsxwriter.Workbook(buffer, options)
    formats = {
        "head": book.add_format({"bold": True, "bottom": 1}),
        "money": book.add_format({"num_format": "#,##0.00"}),
        "when": book.add_format({"num_format": "yyyy-mm-dd hh:mm"}),
        "day": book.add_format({"num_format": "yyyy-mm-dd"}),
    }
    used: set[str] = set()
    for name, columns, rows in sheets:
        sheet = book.add_worksheet(_sheet_name(name, used))
        sheet.write_row(0, 0, list(columns), formats["head"])
        sheet.freeze_panes(1, 0)
        widths = [max(10, len(c) + 2) for c in columns]
        for r, record in enumerate(rows, 1):
            for c, key in enumerate(columns):
                shown = _cell(sheet, r, c, key, record.get(key), formats)
                widths[c] = min(60, max(widths[c], shown + 2))
        for c, width in enumerate(widths):
            sheet.set_column(c, c, width)
    book.close()
    return buffer.getvalue()


def _sheet_name(name: str, used: set[str]) -> str:
    base = re.sub(r"[\[\]:*?/\\]", "-", name)[:31] or "Sheet"
    chosen, n = base, 2
    while chosen.lower() in used:
        chosen = f"{base[:28]} {n}"
        n += 1
    used.add(chosen.lower())
    return chosen


def _cell(sheet: Any, r: int, c: int, key: str, value: Any, formats: dict[str, Any]) -> int:
    """Write one cell with its right type; returns roughly how wide it shows."""
    if value is None:
        return 0
    if isinstance(value, bool):
        sheet.write_boolean(r, c, value)
        return 5
    if isinstance(value, int):
        sheet.write_number(r, c, value)
        return len(str(value))
    if isinstance(value, dict | list):
        from khalti_cli.output import cell

        text = cell(value)
        sheet.write_string(r, c, text)
        return len(text)
    text = str(value)
    if key in _MONEY_KEYS and _RUPEES.match(text):
        sheet.write_number(r, c, float(Decimal(text)), formats["money"])  # a spreadsheet's numbers are doubles
        return len(text) + 2
    if key.endswith("_at") or key in ("at", "since", "until"):
        try:
            moment = datetime.fromisoformat(text)
        except ValueError:
            pass
        else:
            local = to_local(moment).replace(tzinfo=None) if moment.tzinfo else moment
            sheet.write_datetime(r, c, local, formats["when"])
            return 16
    if key == "day":
        try:
            sheet.write_datetime(r, c, datetime.fromisoformat(text), formats["day"])
            return 10
        except ValueError:
            pass
    sheet.write_string(r, c, text)
    return len(text)
