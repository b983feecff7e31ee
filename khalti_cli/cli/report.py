"""report: the figures for a period, as a table with a bar chart on a terminal, or as json/csv/tsv."""

from __future__ import annotations

import sys
from datetime import timedelta
from typing import Any

import typer

from khalti_cli.cli.options import FormatOption, check_format, parse_date
from khalti_cli.cli.state import state
from khalti_cli.output import dumps, make_console, resolve_format, write_records

BAR_WIDTH = 40


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
    from rich.table import Table
    from rich.text import Text

    from khalti_cli.clock import parse
    from khalti_cli.money import format_rupees

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
    summary.add_row(
        Text("Collected outside Khalti (counter, bank)"),
        Text(str(result.outside.count)),
        Text(format_rupees(result.outside.amount_paisa)),
    )
    summary.add_row(Text("Khalti fees"), Text(""), Text(format_rupees(result.fees_paisa)))
    summary.add_row(Text("Refunds"), Text(""), Text(format_rupees(result.refunds_paisa)))
    summary.add_row(
        Text("Open links expiring within an hour"),
        Text(str(expiring.count)),
        Text(format_rupees(expiring.amount_paisa), style="yellow" if color and expiring.count else ""),
    )
    console.print()
    console.print(summary)
    for p in result.expiring[:10]:
        who = p["customer_name"] or p["payer"] or ""
        at = parse(p["expires_at"]).astimezone()
        console.print(Text(f"  {p['order_id']}  {who}  {format_rupees(p['amount_paisa'])}  expires {at:%H:%M}"))
    if len(result.expiring) > 10:
        console.print(Text(f"  ... and {len(result.expiring) - 10} more (khalti report --format json lists them)"))
    if result.per_day:
        console.print(Text("\nCollections per day", style=bold))
        top = max(f.amount_paisa for _, f in result.per_day) or 1
        for day, figure in result.per_day:
            bar = "█" * round(BAR_WIDTH * figure.amount_paisa / top)
            if figure.amount_paisa and not bar:
                bar = "▏"
            line = Text(f"{day:%m-%d} ")
            line.append(bar.ljust(BAR_WIDTH), style="green" if color else "")
            line.append(f" {format_rupees(figure.amount_paisa):>16}" + (f" ({figure.count})" if figure.count else ""))
            console.print(line)
