"""Tables people read for the school year: dues by class and payer, and the books of a report."""

from __future__ import annotations

import sys
from typing import Any

from khalti_cli.cli.state import AppState
from khalti_cli.output import make_console


def _table(color: bool, *columns: tuple[str, str]) -> Any:
    from rich.table import Table

    table = Table(box=None, pad_edge=False, show_header=True, header_style="bold" if color else None)
    for name, justify in columns:
        table.add_column(name, justify=justify, no_wrap=justify == "right")  # type: ignore[arg-type]
    return table


def dues_table(result: Any, color: bool) -> None:
    """Per class: each payer's unpaid fees with their periods, the class total; then the school's total.
    Pending payments come after, apart."""
    from rich.text import Text

    from khalti_cli.calendar import for_people, today
    from khalti_cli.cli.layout import Column, fitted
    from khalti_cli.money import format_rupees

    console = make_console(sys.stdout, color)
    if not console.is_terminal:  # a file or a pipe has no width: keep each fee on one line
        console.width = max(console.width, 120)
    bold = "bold" if color else ""
    console.print(Text(f"Dues as of {for_people(today())}", style=bold))
    if not result.due and not result.pending:
        console.print(Text("Nobody owes anything."))
    for title, rows, key in (
        ("Owed", result.due, "due"),
        ("Pending at Khalti (money may be on its way)", result.pending, "pending"),
    ):
        if not rows:
            continue
        console.print(Text(f"\n{title}", style=bold))
        columns = [Column("payer"), Column("name", fixed=False), Column("period"), Column("order id"),
                   Column("status"), Column("amount", right=True)]  # fmt: skip
        cells: list[list[Any]] = []
        group = None
        for row in rows:
            if row["group"] != group:
                if group is not None:
                    cells.append(_class_total(result.classes[group], key, bold))
                group = row["group"]
                cells.append([Text(group, style=bold), *[Text("") for _ in range(5)]])
            cells.append(
                [
                    Text(row["payer"] or ""),
                    Text(row["customer_name"] or ""),
                    Text(row["period"] or ""),
                    Text(row["order_id"]),
                    Text(row["status"]),
                    Text(format_rupees(row["amount_paisa"])),
                ]
            )
        if group is not None:
            cells.append(_class_total(result.classes[group], key, bold))
        console.print(fitted(columns, cells, console.width, color))  # ids and amounts whole, names wrap
    console.print()
    console.print(Text(result.summary(), style=bold))


def _class_total(total: Any, key: str, bold: str) -> list[Any]:
    from rich.text import Text

    from khalti_cli.money import format_rupees

    paisa = total.due_paisa if key == "due" else total.pending_paisa
    count = total.due_count if key == "due" else total.pending_count
    who = f"{len(total.payers)} payer(s), " if key == "due" else ""
    return [
        Text("total", style=bold),
        Text(f"{who}{count} fee(s)"),
        Text(""),
        Text(""),
        Text(""),
        Text(format_rupees(paisa), style=bold),
    ]


BOOK_LINES = (
    ("billed", "Billed (all but voided)"),
    ("collected_khalti", "Collected through Khalti"),
    ("collected_outside", "Collected outside Khalti (settled)"),
    ("refunds", "Refunds"),
    ("fees", "Khalti's fees"),
    ("net", "Net collected"),
    ("due", "Still owed"),
    ("pending", "Pending at Khalti"),
    ("review", "In review"),
)


def books_tables(report: Any, console: Any, color: bool) -> None:
    """The books of the period for the school, then one column per class."""
    from rich.text import Text

    from khalti_cli.cli.layout import Column, grids
    from khalti_cli.money import format_rupees

    bold = "bold" if color else ""
    console.print(Text("\nThe books", style=bold))
    table = _table(color, ("", "left"), ("count", "right"), ("school", "right"))
    for key, label in BOOK_LINES:
        style = bold if key == "net" else ""
        count = report.books.count[key] if key not in ("refunds", "fees") else ""
        table.add_row(
            Text(label, style=style), Text(str(count)), Text(format_rupees(report.books.paisa[key]), style=style)
        )
    console.print(table)
    if report.by_class:
        if not console.is_terminal:  # a file or a pipe has no width: keep each class on one line
            console.width = max(console.width, 120)
        console.print(Text("\nBy class (rupees)", style=bold))
        short = ("billed", "khalti", "outside", "refunds", "fees", "net", "owed", "pending")
        columns = [Column("class", fixed=False), *[Column(name, right=True) for name in short]]
        keys = [key for key, _ in BOOK_LINES if key != "review"]
        rows = []
        for books in [*report.by_class, report.books]:
            style = bold if books is report.books else ""
            rows.append([Text(books.group, style=style), *[Text(_plain(books.paisa[k]), style=style) for k in keys]])
        console.print(grids(columns, rows, console.width, color))  # too wide: split, the class in each part


def _plain(paisa: int) -> str:
    """150050 -> '1,500.50' (rupees without the Rs, for narrow columns)."""
    from khalti_cli.money import format_rupees

    return format_rupees(paisa).replace("Rs ", "")


def write_xlsx(st: AppState, sheets: Any, out: str | None, force: bool) -> None:
    from khalti_cli.services.books import xlsx_bytes

    data = xlsx_bytes(sheets)
    if out is None:
        sys.stdout.flush()
        sys.stdout.buffer.write(data)
        sys.stdout.flush()
        return
    from khalti_cli.files import write_private

    st.say(f"wrote {write_private(out, data, force=force)}")
