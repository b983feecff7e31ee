"""payers add | update | import | list | show: the register of who pays."""

from __future__ import annotations

import sys
from typing import Any

import typer

from khalti_cli.cli.options import (
    ForceOption,
    FormatOption,
    XlsxFormatOption,
    XlsxOutOption,
    check_format,
    xlsx_format,
)
from khalti_cli.cli.state import state
from khalti_cli.output import make_console, resolve_format, write_records

payers_app = typer.Typer(
    help="The register of who pays: a reference (student id), name, class or group, phone and email.",
    no_args_is_help=True,
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def register(app: typer.Typer) -> None:
    app.add_typer(payers_app, name="payers")


@payers_app.command("add")
def add(
    ctx: typer.Context,
    reference: str = typer.Argument(..., help="The payer's unique reference, e.g. the student id."),
    name: str | None = typer.Option(None, "--name", help="Full name (required for a new payer)."),
    group: str | None = typer.Option(None, "--group", "--class", help="Class or group, e.g. 'Grade 5 B'."),
    phone: str | None = typer.Option(None, "--phone"),
    email: str | None = typer.Option(None, "--email"),
    fmt: str | None = FormatOption,
) -> None:
    """Add a payer; an existing reference is updated with the details given (payments made keep theirs)."""
    from khalti_cli.services.payers import check_payer

    fields = check_payer(reference=reference, name=name, group=group, phone=phone, email=email, name_required=False)
    _save(ctx, fields, fmt, must_exist=False)


@payers_app.command("update")
def update(
    ctx: typer.Context,
    reference: str = typer.Argument(..., help="The payer's reference."),
    name: str | None = typer.Option(None, "--name"),
    group: str | None = typer.Option(None, "--group", "--class", help="Class or group ('' clears it)."),
    phone: str | None = typer.Option(None, "--phone", help="Phone ('' clears it)."),
    email: str | None = typer.Option(None, "--email", help="Email ('' clears it)."),
    sms_ok: bool | None = typer.Option(None, "--sms/--no-sms", help="Opt back in to / out of SMS from khalti."),
    email_ok: bool | None = typer.Option(
        None, "--allow-email/--no-email", help="Opt back in to / out of email from khalti."
    ),
    fmt: str | None = FormatOption,
) -> None:
    """Change an existing payer's details. Payments already made keep the details they were made with.
    --no-sms / --no-email: the payer gets no messages by that channel (notify, remind) until --sms /
    --allow-email."""
    from khalti_cli.services.payers import check_payer

    fields = check_payer(reference=reference, name=name, group=group, phone=phone, email=email, name_required=False)
    opt_outs = {k: not v for k, v in (("sms", sms_ok), ("email", email_ok)) if v is not None}
    _save(ctx, fields, fmt, must_exist=True, opt_outs=opt_outs)


def _save(
    ctx: typer.Context,
    fields: dict[str, Any],
    fmt: str | None,
    *,
    must_exist: bool,
    opt_outs: dict[str, bool] | None = None,
) -> None:
    from khalti_cli.services.payers import save_payer

    fmt = check_format(fmt)
    st = state(ctx)
    record, outcome = save_payer(st.store(), fields, must_exist=must_exist, opt_outs=opt_outs)
    st.say(f"Payer {record['reference']}: {outcome}.")
    if fmt:
        write_records([record], fmt, single=True, color=st.stdout_color())
    elif st.stdout_is_terminal():  # a person: the key/value view; a pipe: just the reference
        write_records([record], "table", single=True, columns=PAYER_KEYS, color=st.stdout_color())
    else:
        sys.stdout.write(record["reference"] + "\n")


@payers_app.command("import")
def import_payers(
    ctx: typer.Context,
    file: str = typer.Argument(..., metavar="FILE", help="CSV (header row) or JSON Lines file, or - for stdin."),
    skip_invalid: bool = typer.Option(False, "--skip-invalid", help="Store the good rows even if some are bad."),
    input_format: str | None = typer.Option(None, "--input-format", help="csv or jsonl."),
) -> None:
    """Add or update payers from a file with columns reference, name and optionally group (or class), phone,
    email. Every row is checked first; one bad row and nothing is stored. An empty cell changes nothing."""
    from khalti_cli.services.payers import import_payers as run

    st = state(ctx)
    result = run(st.store(), file, input_format_name=input_format, skip_invalid=skip_invalid)
    for bad in result.bad:
        st.warn(f"{result.source}: {bad}")
    if result.rows == 0:
        st.say(f"{result.source}: no rows; nothing to do.")
    elif not result.stored:
        st.warn(f"Error: {len(result.bad)} bad row(s) in {result.source}; nothing was stored.")
    else:
        message = f"{result.source}: {result.added} added, {result.updated} updated, {result.unchanged} unchanged" + (
            f", {len(result.bad)} bad row(s) left out." if result.bad else "."
        )
        (st.warn if result.bad else st.say)(message)
    raise typer.Exit(int(result.exit_code))


@payers_app.command("list")
def list_payers(
    ctx: typer.Context,
    search: str | None = typer.Option(None, "--search", help="Only payers whose name or reference has this text."),
    group: str | None = typer.Option(None, "--group", "--class", help="Only this class or group."),
    fmt: str | None = XlsxFormatOption,
    out: str | None = XlsxOutOption,
    force: bool = ForceOption,
) -> None:
    """The payers in the register, by group and reference."""
    from khalti_cli.services.payers import PAYER_KEYS
    from khalti_cli.services.payers import list_payers as run

    fmt = xlsx_format(fmt, out, "payers list", "payers.xlsx")
    st = state(ctx)
    if fmt == "xlsx":
        from khalti_cli.cli.books import write_xlsx

        write_xlsx(st, [("Payers", PAYER_KEYS, run(st.store(), search=search, group=group))], out, force)
        return
    # On a terminal, what the office looks people up by; machine formats keep every key.
    columns = TABLE_COLUMNS if fmt == "table" else None
    write_records(run(st.store(), search=search, group=group), fmt, columns=columns, color=st.stdout_color())


TABLE_COLUMNS = ("reference", "name", "group", "phone", "email")


@payers_app.command("show")
def show(ctx: typer.Context, reference: str = typer.Argument(...), fmt: str | None = FormatOption) -> None:
    """A payer's details and whole history: every payment, what is due and what is paid, with totals."""
    from khalti_cli.services.payers import show_payer

    fmt = resolve_format(check_format(fmt))
    st = state(ctx)
    record = show_payer(st.store(), reference)
    if fmt == "table":
        from khalti_cli.cli.render import paged

        with paged():  # the payer, the payments and the totals: one page
            _show_table(record, st.stdout_color())
    elif fmt in ("json", "jsonl"):
        write_records([record], fmt, single=True, color=False)
    else:  # tsv/csv: the payments, one a line, under a header even when there are none (totals: json)
        from khalti_cli.services.records import RECORD_KEYS

        write_records(record["payments"], fmt, columns=RECORD_KEYS)


PAYER_KEYS = ("reference", "name", "group", "phone", "email", "updated_at")


def _show_table(record: dict[str, Any], color: bool) -> None:
    from rich.table import Table
    from rich.text import Text

    from khalti_cli.cli.render import record_view
    from khalti_cli.money import format_rupees

    console = make_console(sys.stdout, color)
    console.print(record_view(record, color, keys=PAYER_KEYS))
    console.print(Text("\nPayments", style="bold" if color else ""))
    if record["payments"]:
        write_records(
            record["payments"],
            "table",
            out=sys.stdout,
            columns=("order_id", "name", "amount", "status", "created_at"),
            color=color,
        )
    else:
        console.print(Text("No payments yet."))
    t = record["totals"]
    console.print(Text("\nTotals", style="bold" if color else ""))
    totals = Table(show_header=False, box=None, pad_edge=False)
    totals.add_column()
    totals.add_column(justify="right")
    for label, key in (
        ("Due (not paid yet)", "due_paisa"),
        ("Pending at Khalti (not due, not paid)", "pending_paisa"),
        ("Paid", "paid_paisa"),
        ("Refunded", "refunded_paisa"),
        ("Waiting for review", "review_paisa"),
    ):
        totals.add_row(Text(label), Text(format_rupees(t[key])))
    totals.add_row(Text("Payments"), Text(str(t["payments"])))
    console.print(totals)
