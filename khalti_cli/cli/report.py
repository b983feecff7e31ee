"""report: the figures for a period, as a table with a bar chart on a terminal, or as json/csv/tsv."""

from __future__ import annotations

import sys
from datetime import date, timedelta
from typing import Any

import typer

from khalti_cli.cli.options import ForceOption, XlsxFormatOption, XlsxOutOption, parse_date, xlsx_format
from khalti_cli.cli.state import AppState, state
from khalti_cli.output import dumps, make_console, write_records

BAR_WIDTH = 30
CHART_LINES = 12  # more days with collections than this: by week, then by month
EXPIRING_SHOWN = 8
GAP = 4  # cells between the two summary tables side by side


def register(app: typer.Typer) -> None:
    app.command("report")(report)


def report(
    ctx: typer.Context,
    since: str | None = typer.Option(
        None, "--since", help="From this date (BS from 2060, or AD; default: this month)."
    ),
    until: str | None = typer.Option(None, "--until", help="To this date, inclusive (default: end of this month)."),
    month: str | None = typer.Option(None, "--month", help="The fees of a BS month: 2082-08, mangsir or मंसिर."),
    fiscal_year: str | None = typer.Option(None, "--fiscal-year", help="A BS fiscal year, 2082/83 (Shrawan-Asar)."),
    fmt: str | None = XlsxFormatOption,
    out: str | None = XlsxOutOption,
    force: bool = ForceOption,
) -> None:
    """The books of a period (default: this BS month): payments by status and by class, collected through
    Khalti and outside it, refunds, Khalti's fees, net collected, links about to expire within the hour, and
    collections per day. --month and --fiscal-year take the fees billed for those BS months."""
    from khalti_cli.clock import parse
    from khalti_cli.services.report import build_report

    fmt = xlsx_format(fmt, out, "report", "report.xlsx")
    if sum(x is not None for x in (month, fiscal_year)) + (since is not None or until is not None) > 1:
        raise typer.BadParameter("give one period: --month, --fiscal-year, or --since/--until.")
    start, end = parse_date(since, "--since"), parse_date(until, "--until", end=True)
    st = state(ctx)
    since_at, until_at = (parse(start) if start else None), (parse(end) if end else None)
    periods, label = None, None
    if month or fiscal_year:
        since_at, until_at, periods, label = _bs_period(st, month, fiscal_year)
    result = build_report(st.store(), since_at, until_at, periods=periods, label=label)
    if fmt == "xlsx":
        from khalti_cli.cli.books import write_xlsx

        write_xlsx(st, result.sheets(), out, force)
    elif fmt == "json":
        sys.stdout.write(dumps(result.as_json()) + "\n")
    elif fmt == "table":
        from khalti_cli.cli.render import paged

        with paged():
            _table(result, st.stdout_color())
    else:
        write_records(result.rows(), fmt)


def _bs_period(st: AppState, month: str | None, fiscal_year: str | None) -> tuple[Any, Any, tuple[str, str], str]:
    from khalti_cli import calendar
    from khalti_cli.times import local_midnight

    if month:
        year, number = calendar.parse_month(month)
        first, following = calendar.month_range(year, number)
        key = calendar.period_key(year, number)
        return local_midnight(first), local_midnight(following), (key, key), calendar.period_label(key)
    assert fiscal_year is not None
    year = calendar.parse_fiscal_year(fiscal_year)
    first, following, cut = calendar.fiscal_range(year)
    if cut:
        st.say(
            f"Note: the calendar data ends on {calendar.for_people(following - timedelta(days=1))}; the fiscal "
            f"year {calendar.fiscal_label(year)} is shown up to then."
        )
    periods = (calendar.period_key(year, 4), calendar.period_key(year + 1, 3))
    return local_midnight(first), local_midnight(following), periods, f"fiscal year {calendar.fiscal_label(year)}"


def _table(result: Any, color: bool) -> None:
    """The summary on one screen (120x40): counts by status beside the money, links expiring soon, a chart
    of the days (or weeks, or months) that had collections; then the books and the classes. The whole of it
    goes through the pager once when longer than the screen."""
    from rich.text import Text

    from khalti_cli.calendar import for_people, use_bs
    from khalti_cli.cli.books import books_tables

    console = make_console(sys.stdout, color)
    if not console.is_terminal:  # a file or a pipe has no width: laid out as on a 120-column screen
        console.width = max(console.width, 120)
    bold = "bold" if color else ""
    last_day = result.until - timedelta(seconds=1)
    first, last = result.since.date(), last_day.date()
    if result.label:
        heading = f"Fees of {result.label}: {for_people(first, both=False)} to {for_people(last, both=False)}"
    elif use_bs():
        heading = f"Payments created {for_people(first, both=False)} to {for_people(last, both=False)} BS "
        heading += f"({first:%Y-%m-%d} to {last:%Y-%m-%d})"
    else:
        heading = f"Payments created {first:%Y-%m-%d} to {last:%Y-%m-%d}"
    console.print(Text(heading, style=bold))
    width = console.width
    _side_by_side(console, _status_table(result, color, width), _money_table(result, color, width))
    if result.expiring:
        console.print()
        _expiring(console, result, color)
    _chart(console, result, color)
    books_tables(result, console, color)  # the detail, below the one-screen summary


def _status_table(result: Any, color: bool, width: int) -> Any:
    from rich.text import Text

    from khalti_cli.cli.layout import Column, fitted
    from khalti_cli.money import format_rupees

    bold = "bold" if color else ""
    rows = [
        [Text(status), Text(str(figure.count)), Text(format_rupees(figure.amount_paisa))]
        for status, figure in result.by_status.items()
        if figure.count
    ]
    total = [str(result.total.count), format_rupees(result.total.amount_paisa)]
    rows.append([Text("all", style=bold), *[Text(t, style=bold) for t in total]])
    return fitted([Column("status"), Column("count", right=True), Column("amount", right=True)], rows, width, color)


def _money_table(result: Any, color: bool, width: int) -> Any:
    from rich.text import Text

    from khalti_cli.cli.layout import Column, fitted
    from khalti_cli.money import format_rupees

    bold = "bold" if color else ""
    expiring = result.expiring_figure

    def row(name: str, count: Any, paisa: int, style: str = "", amount_style: str = "") -> list[Any]:
        shown = "" if count is None else str(count)
        return [Text(name, style=style), Text(shown), Text(format_rupees(paisa), style=amount_style or style)]

    rows = [
        row("Collected (completed + partially refunded)", result.collected.count, result.collected.amount_paisa,
            amount_style="green" if color else ""),
        row("Collected outside Khalti (counter, bank)", result.outside.count, result.outside.amount_paisa),
        row("Refunds", None, result.refunds_paisa),
        row("Net collected (all paid, less refunds and Khalti fees)", None, result.net_paisa, style=bold),
        row("Khalti fees", None, result.fees_paisa),
        row("Open links expiring within an hour", expiring.count, expiring.amount_paisa,
            amount_style="yellow" if color and expiring.count else ""),
    ]  # fmt: skip
    columns = [Column("money", fixed=False), Column("count", right=True), Column("amount", right=True)]
    return fitted(columns, rows, width, color)


def _side_by_side(console: Any, left: Any, right: Any) -> None:
    """Two tables next to each other when the screen is wide enough, else one under the other."""
    from rich.measure import Measurement
    from rich.table import Table

    wide = sum(Measurement.get(console, console.options, t).maximum for t in (left, right)) + GAP
    if wide <= console.width:
        both = Table.grid(padding=(0, GAP, 0, 0))
        both.add_column(no_wrap=True)
        both.add_column(no_wrap=True)
        both.add_row(left, right)
        console.print(both)
    else:
        console.print(left)
        console.print()
        console.print(right)


def _expiring(console: Any, result: Any, color: bool) -> None:
    """The open links expiring within the hour, aligned like every table (layout.grids)."""
    from rich.text import Text

    from khalti_cli.cli.layout import Column, grids
    from khalti_cli.money import format_rupees
    from khalti_cli.times import local_clock

    columns = [Column("expiring link"), Column("payer", fixed=False), Column("amount", right=True),
               Column("expires")]  # fmt: skip
    rows = [
        [
            Text(p["order_id"]),
            Text(p["customer_name"] or p["payer"] or ""),
            Text(format_rupees(p["amount_paisa"])),
            Text(local_clock(p["expires_at"])),
        ]
        for p in result.expiring[:EXPIRING_SHOWN]
    ]
    console.print(grids(columns, rows, console.width, color))
    if len(result.expiring) > EXPIRING_SHOWN:
        more = len(result.expiring) - EXPIRING_SHOWN
        console.print(Text(f"... and {more} more (khalti report --format json lists them)"))


def _chart(console: Any, result: Any, color: bool) -> None:
    """One bar a day (or week, or month) that had collections, the amounts lined up on the right."""
    from rich.text import Text

    from khalti_cli.calendar import for_people, use_bs
    from khalti_cli.money import format_rupees

    buckets = _buckets([(day, f) for day, f in result.per_day if f.amount_paisa])
    if not buckets:
        return
    unit = {1: "day", 7: "week", 31: "month"}[buckets[0][2]]
    bs = " (BS)" if use_bs() else ""
    console.print(Text(f"\nCollections per {unit}{bs} (days with none left out)", style="bold" if color else ""))
    top = max(f.amount_paisa for _, f, _ in buckets) or 1
    amounts = [format_rupees(f.amount_paisa) for _, f, _ in buckets]
    room = max(len(a) for a in amounts)
    for (start, figure, _), amount in zip(buckets, amounts, strict=True):
        bar = "█" * round(BAR_WIDTH * figure.amount_paisa / top) or "▏"
        shown = for_people(start, both=False)
        heading = shown[:7] if unit == "month" else shown[5:]
        line = Text(f"{heading:>7} ")
        line.append(bar.ljust(BAR_WIDTH), style="green" if color else "")
        line.append(f" {amount:>{room}} ({figure.count})")
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
