"""list, show, history."""

from __future__ import annotations

import sys
from typing import Any

import typer

from khalti_cli.cli.options import (
    MAX_COUNT,
    ForceOption,
    FormatOption,
    XlsxFormatOption,
    XlsxOutOption,
    check_format,
    parse_date,
    xlsx_format,
)
from khalti_cli.cli.state import state
from khalti_cli.output import make_console, resolve_format, write_records

EVENT_COLUMNS = ("at", "kind", "outcome", "from_status", "to_status", "pidx", "actor", "message")


def register(app: typer.Typer) -> None:
    app.command("list")(list_payments)
    app.command("show")(show)
    app.command("history")(history)


def list_payments(
    ctx: typer.Context,
    status: list[str] = typer.Option([], "--status", help="Only this status (repeat for several)."),
    since: str | None = typer.Option(None, "--since", help="Created on or after this date (YYYY-MM-DD)."),
    until: str | None = typer.Option(None, "--until", help="Created on or before this date (YYYY-MM-DD)."),
    reference: str | None = typer.Option(None, "--reference", help="Only payments with this reference."),
    limit: int | None = typer.Option(None, "--limit", min=1, max=MAX_COUNT, help="At most this many, newest first."),
    columns: str | None = typer.Option(None, "--columns", help="Comma-separated record keys to show, in order."),
    search: str | None = typer.Option(None, "--search", help="Only payments whose name or customer name has this."),
    payer: str | None = typer.Option(None, "--payer", help="Only payments for this payer (khalti payers)."),
    fmt: str | None = XlsxFormatOption,
    out: str | None = XlsxOutOption,
    force: bool = ForceOption,
) -> None:
    """List payments, newest first."""
    from khalti_cli.services.records import RECORD_KEYS, TABLE_COLUMNS

    fmt = xlsx_format(fmt, out, "list", "payments.xlsx")
    for s in status:
        from khalti_cli.statuses import STATUSES  # only when asked: its dataclasses cost start-up

        if s not in STATUSES:
            raise typer.BadParameter(f"{s!r} is not a status; use one of {', '.join(STATUSES)}.", param_hint="--status")
    chosen = _columns(columns, RECORD_KEYS)
    if chosen is None and fmt == "table":
        chosen = list(TABLE_COLUMNS)
    elif chosen is None and fmt in ("tsv", "csv", "xlsx"):
        chosen = list(RECORD_KEYS)  # the header line is printed even when nothing matches
    st = state(ctx)
    from khalti_cli.services.listing import PaymentFilter

    flt = PaymentFilter(
        statuses=status,
        since=parse_date(since, "--since"),
        until=parse_date(until, "--until", end=True),
        reference=reference,
        search=search,
        payer=payer,
        limit=limit,
    )
    if fmt == "jsonl":  # JSON made by SQLite, written in big chunks: 100,000 records in under a second
        from khalti_cli.services.listing import list_json_lines

        lines = list_json_lines(st.store(), chosen or RECORD_KEYS, flt)
        if lines is not None:
            _write_lines(lines)
            return
    from khalti_cli.services.listing import list_records

    rows = list_records(st.store(), flt)
    if fmt == "xlsx":
        from khalti_cli.cli.books import write_xlsx

        write_xlsx(st, [("Payments", chosen or RECORD_KEYS, rows)], out, force)
        return
    write_records(rows, fmt, columns=chosen, color=st.stdout_color())
    if payer is not None and fmt == "table":  # a payer's history: the totals under the table
        from khalti_cli.money import format_rupees
        from khalti_cli.services.payers import totals

        t = totals(st.store(), payer)
        outside = f" ({format_rupees(t['offline_paisa'])} outside Khalti)" if t["offline_paisa"] else ""
        voided = f", voided {format_rupees(t['voided_paisa'])}" if t["voided_paisa"] else ""
        st.say(
            f"\n{payer}: due {format_rupees(t['due_paisa'])}, paid {format_rupees(t['paid_paisa'])}{outside}, "
            f"refunded {format_rupees(t['refunded_paisa'])}{voided} ({t['payments']} payment(s) in all)."
        )


def _write_lines(lines: Any) -> None:
    """UTF-8 lines (bytes) to stdout in chunks of a thousand."""
    sys.stdout.flush()
    buffer = getattr(sys.stdout, "buffer", None)

    def write(data: bytes) -> None:
        if buffer is not None:
            buffer.write(data)
        else:
            sys.stdout.write(data.decode("utf-8"))

    chunk: list[bytes] = []
    for line in lines:
        chunk.append(line)
        if len(chunk) >= 1000:
            write(b"\n".join(chunk) + b"\n")
            chunk.clear()
    if chunk:
        write(b"\n".join(chunk) + b"\n")
    if buffer is not None:
        buffer.flush()
    sys.stdout.flush()


def _columns(value: str | None, known: tuple[str, ...]) -> list[str] | None:
    if not value:
        return None
    cols = [c.strip() for c in value.split(",") if c.strip()]
    unknown = [c for c in cols if c not in known]
    if unknown or not cols:
        raise typer.BadParameter(
            f"unknown column(s) {', '.join(unknown)}; known: {', '.join(known)}.", param_hint="--columns"
        )
    return cols


def show(ctx: typer.Context, order_id: str = typer.Argument(...), fmt: str | None = FormatOption) -> None:
    """One payment with its links and its history."""
    from khalti_cli.services.payments import show as show_payment

    fmt = resolve_format(check_format(fmt))
    st = state(ctx)
    record = show_payment(st.store(), order_id)
    if fmt != "table":
        write_records([record], fmt, single=True, color=st.stdout_color())
        return
    from khalti_cli.cli.render import paged

    with paged():  # the record, its links and its history: one page
        _show_table(record, st.stdout_color())


def _show_table(record: dict[str, Any], color: bool) -> None:
    from rich.text import Text

    from khalti_cli.cli.render import record_view

    make_console(sys.stdout, color).print(record_view(record, color))
    for title, rows, cols in (
        ("Links", record["links"], ("pidx", "state", "khalti_status", "total_amount_paisa", "expires_at")),
        ("History", record["history"], EVENT_COLUMNS),
    ):
        make_console(sys.stdout, color).print(Text(f"\n{title}", style="bold" if color else ""))
        if not rows:  # part of the view (no link made yet), not a message
            make_console(sys.stdout, color).print(Text("(none)"))
            continue
        write_records(rows, "table", out=sys.stdout, columns=cols, color=color)


def history(ctx: typer.Context, order_id: str = typer.Argument(...), fmt: str | None = FormatOption) -> None:
    """Every event of one payment, oldest first."""
    from khalti_cli.services.payments import history as payment_history

    fmt = resolve_format(check_format(fmt))
    st = state(ctx)
    events = payment_history(st.store(), order_id)
    from khalti_cli.cli.render import paged

    with paged():
        write_records(events, fmt, columns=EVENT_COLUMNS if fmt == "table" else None, color=st.stdout_color())
