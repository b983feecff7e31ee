"""report: the figures for a period, as a table with a bar chart on a terminal, or as json/csv/tsv."""

from __future__ import annotations

import sys
from datetime import date, timedelta
from typing import Any

import typer

from khalti_cli.cli.options import FormatOption, check_format, parse_date
from khalti_cli.cli.state import state
from khalti_cli.output import dumps, make_console, resolve_format, write_records

BAR_WIDTH = 30
CHART_LINES = 12  # more days with collections than this: by week, then by month
EXPIRING_SHOWN = 8


def register(app: typer.Typer) -> None:
    app.command("report")(report)


def report(
    ctx: typer.Context,
    since: str | None = typer.Option(None, "--since", help="From this date (YYYY-MM-DD; default: this month)."),
    until: str | None = typer.Option(None, "--until", help="To this date, inclusive (default: end of this month)."),
    fmt: str | None = FormatOption,
) -> None:
    """Payments created in a period: count and amount by status, collected, Khalti fees, refunds, links about
    to expire within the hour, and collections per day."""
    from khalti_cli.clock import parse
    from khalti_cli.services.report import build_report

    fmt = resolve_format(check_format(fmt))
    start, end = parse_date(since, "--since"), parse_date(until, "--until", end=True)
    st = state(ctx)
    result = build_report(st.store(), parse(start) if start else None, parse(end) if end else None)
    if fmt == "json":
        sys.stdout.write(dumps(result.as_json()) + "\n")
    elif fmt == "table":
        _table(result, st.stdout_color())
    else:
        write_records(result.rows(), fmt)


def _table(result: Any, color: bool) -> None:
    """One screen: counts by status, the money, links expiring soon, and a chart of the days (or weeks,
    or months) that had collections."""
    from rich.table import Table
    from rich.text import Text

    from khalti_cli.money import format_rupees
    from khalti_cli.times import local_clock

    console = make_console(sys.stdout, color)
    bold = "bold" if color else ""
    last_day = result.until - timedelta(seconds=1)
    console.print(Text(f"Payments created {result.since:%Y-%m-%d} to {last_day:%Y-%m-%d}", style=bold))
    table = Table(box=None, pad_edge=False, show_header=True, header_style=bold or None)
    table.add_column("status")
    table.add_column("count", justify="right")
    table.add_column("amount", justify="right")
    for status, figure in result.by_status.items():
        if figure.count:
            table.add_row(Text(status), Text(str(figure.count)), Text(format_rupees(figure.amount_paisa)))
    table.add_row(
        Text("all", style=bold),
        Text(str(result.total.count), style=bold),
        Text(format_rupees(result.total.amount_paisa), style=bold),
    )
    console.print(table)
    expiring = result.expiring_figure
    summary = Table(box=None, pad_edge=False, show_header=False)
    summary.add_column()
    summary.add_column(justify="right")
    summary.add_column(justify="right")
    summary.add_row(
        Text("Collected (completed + partially refunded)"),
        Text(str(result.collected.count)),
        Text(format_rupees(result.collected.amount_paisa), style="green" if color else ""),
    )
    summary.add_row(Text("Refunds"), Text(""), Text(format_rupees(result.refunds_paisa)))
    summary.add_row(Text("Net collected (all paid, less refunds)", style=bold), Text(""),
                    Text(format_rupees(result.net_paisa), style=bold))  # fmt: skip
    summary.add_row(Text("Khalti fees"), Text(""), Text(format_rupees(result.fees_paisa)))
    summary.add_row(
        Text("Open links expiring within an hour"),
        Text(str(expiring.count)),
        Text(format_rupees(expiring.amount_paisa), style="yellow" if color and expiring.count else ""),
    )
    console.print()
    console.print(summary)
    if result.expiring:
        soon = Table(box=None, pad_edge=False, show_header=False, padding=(0, 1, 0, 2))
        for _ in range(4):
            soon.add_column(no_wrap=True)
        soon.columns[2].justify = "right"
        for p in result.expiring[:EXPIRING_SHOWN]:
            who = p["customer_name"] or p["payer"] or ""
            at = f"expires {local_clock(p['expires_at'])}"
            soon.add_row(Text(p["order_id"]), Text(who), Text(format_rupees(p["amount_paisa"])), Text(at))
        console.print(soon)
        if len(result.expiring) > EXPIRING_SHOWN:
            more = len(result.expiring) - EXPIRING_SHOWN
            console.print(Text(f"  ... and {more} more (khalti report --format json lists them)"))
    buckets = _buckets([(day, f) for day, f in result.per_day if f.amount_paisa])
    if buckets:
        unit = {1: "day", 7: "week", 31: "month"}[buckets[0][2]]
        console.print(Text(f"\nCollections per {unit} (days with none left out)", style=bold))
        top = max(f.amount_paisa for _, f, _ in buckets) or 1
        for start, figure, _ in buckets:
            bar = "█" * round(BAR_WIDTH * figure.amount_paisa / top) or "▏"
            heading = f"{start:%Y-%m}" if unit == "month" else f"{start:%m-%d}"
            line = Text(f"{heading:>7} ")
            line.append(bar.ljust(BAR_WIDTH), style="green" if color else "")
            line.append(f" {format_rupees(figure.amount_paisa):>16} ({figure.count})")
            console.print(line)


def _buckets(days: list[tuple[date, Any]]) -> list[tuple[date, Any, int]]:
    """Days with collections; by week (from Sunday) when more than CHART_LINES, by month beyond that."""
    from khalti_cli.services.report import Figure

    for size in (1, 7, 31):
        grouped: dict[date, Any] = {}
        for day, figure in days:
            if size == 1:
                start = day
            elif size == 7:
                start = day - timedelta(days=(day.weekday() + 1) % 7)
            else:
                start = day.replace(day=1)
            total = grouped.setdefault(start, Figure())
            total.count += figure.count
            total.amount_paisa += figure.amount_paisa
        if len(grouped) <= CHART_LINES or size == 31:
            return [(start, figure, size) for start, figure in sorted(grouped.items())]
    return []
