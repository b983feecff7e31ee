"""The Nepali school year at the command line: bill, dues, receipt."""

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
    read_ids,
    xlsx_format,
)
from khalti_cli.cli.state import AppState, state
from khalti_cli.errors import ExitCode, InvalidInput, worst
from khalti_cli.output import resolve_format, write_records


def register(app: typer.Typer) -> None:
    app.command("bill")(bill)
    app.command("dues")(dues)
    app.command("receipt")(receipt)


def bill(
    ctx: typer.Context,
    month: str | None = typer.Option(None, "--month", help="BS month: 2082-08, mangsir or मंसिर (this BS year)."),
    group: list[str] = typer.Option([], "--group", "--class", help="Class or group to bill (repeat; default: all)."),
    fee: list[str] = typer.Option([], "--fee", help="A fee head, LABEL=RUPEES (repeat), e.g. --fee Tuition=4500."),
    plan: str | None = typer.Option(None, "--plan", help="CSV of group,head,amount: each class its own heads."),
    do_initiate: bool = typer.Option(False, "--initiate", help="Also make each new payment's link now."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Show how many payments and the total; store nothing."),
    concurrency: int = typer.Option(8, "--concurrency", min=1, max=32, help="With --initiate: links made at once."),
    fmt: str | None = FormatOption,
) -> None:
    """Raise one payment per payer of a class (or every class) for a BS month: amount = the sum of its fee
    heads. Running the same bill again adds nothing; a payer added to the class later gets theirs."""
    from khalti_cli.calendar import parse_month, period_key, period_label
    from khalti_cli.money import format_rupees
    from khalti_cli.services import billing
    from khalti_cli.services.records import TABLE_COLUMNS

    out_fmt = resolve_format(check_format(fmt))
    if month is None:
        raise typer.BadParameter("say which BS month, e.g. --month mangsir or --month 2082-08.", param_hint="--month")
    if bool(fee) == bool(plan):
        raise typer.BadParameter("give the fee heads with --fee LABEL=RUPEES, or a --plan file (not both).")
    period = period_key(*parse_month(month))
    heads = [billing.parse_fee(f) for f in fee]
    labels = [h.label for h in heads]
    if len(set(labels)) != len(labels):
        raise InvalidInput("The same fee head is given twice; give each --fee LABEL once.")
    fee_plan = billing.read_plan(plan) if plan else None
    st = state(ctx)
    if do_initiate and not dry_run:  # the set-up first, so a missing key changes nothing
        st.settings().require_urls()
        st.settings().require_key()
    store = st.store()
    planned = billing.plan_bill(store, period, fee_plan, heads, group or None)
    label = period_label(period)
    for name, (payers, new, paisa) in planned.by_group.items():
        st.say(f"{name}: {payers} payer(s), {new} new payment(s), {format_rupees(paisa)}.")
    total = f"{len(planned.rows)} payment(s), {format_rupees(planned.total_paisa)}"
    if dry_run:
        st.say(f"Dry run: the {label} bill would add {total}" + _already(planned) + ". Nothing was stored.")
        return
    done = billing.store_bill(store, planned)
    if done.rows:
        st.say(f"Billed {label}: {total}" + _already(done) + ".")
    else:
        st.say(f"Nothing new: every payer already has this {label} bill ({len(done.existing)} payment(s)).")
    if done.other_bills:
        st.say(f"Note: {done.other_bills} payer(s) already had another bill for {label} (khalti dues --month).")
    chosen = [*TABLE_COLUMNS[:4], "customer_name", "payer"] + (["payment_url"] if do_initiate else [])
    columns = chosen if out_fmt == "table" else None
    if not do_initiate:
        write_records(billing.bill_records(store, done), out_fmt, columns=columns, color=st.stdout_color())
        return
    _initiate(st, done, out_fmt, columns, concurrency)


def _already(bill: Any) -> str:
    return f"; {len(bill.existing)} payer(s) already have it" if bill.existing else ""


def _initiate(st: AppState, done: Any, out_fmt: str, columns: list[str] | None, concurrency: int) -> None:
    from khalti_cli.cli.importing import initiated_records
    from khalti_cli.services.importer import initiate_range

    codes: set[ExitCode] = {ExitCode.OK}
    results = initiate_range(
        st.store(),
        st.settings(),
        st.gateway,
        done.first_id,
        done.last_id,
        concurrency=concurrency,
        skipped=[(0, oid) for oid in done.existing],  # killed before its links were made: made now
    )

    write_records(initiated_records(st, results, codes), out_fmt, columns=columns, color=st.stdout_color())
    raise typer.Exit(int(worst(codes)))


def dues(
    ctx: typer.Context,
    group: list[str] = typer.Option([], "--group", "--class", help="Only this class or group (repeat)."),
    month: str | None = typer.Option(None, "--month", help="Only fees for this BS month (2082-08, mangsir)."),
    payer: str | None = typer.Option(None, "--payer", help="Only this payer's fees."),
    fmt: str | None = XlsxFormatOption,
    out: str | None = XlsxOutOption,
    force: bool = ForceOption,
) -> None:
    """Who owes what, as of now: unpaid fees by class and payer with their periods, totals per class and for
    the school. Pending payments (money may be on its way) are shown apart."""
    from khalti_cli.calendar import parse_month, period_key
    from khalti_cli.cli.books import write_xlsx
    from khalti_cli.services.dues import DUE_KEYS, build_dues

    out_fmt = xlsx_format(fmt, out, "dues", "dues.xlsx")
    period = period_key(*parse_month(month)) if month else None
    st = state(ctx)
    result = build_dues(st.store(), groups=group or None, period=period, payer=payer)
    if out_fmt == "xlsx":
        write_xlsx(st, result.sheets(), out, force)
    elif out_fmt == "table":
        from khalti_cli.cli.books import dues_table
        from khalti_cli.cli.render import paged

        with paged():
            dues_table(result, st.stdout_color())
    else:
        write_records(result.rows(), out_fmt, columns=DUE_KEYS, color=st.stdout_color())
    if out_fmt != "table":
        st.say(result.summary())


def receipt(
    ctx: typer.Context,
    order_ids: list[str] = typer.Argument(None, help="Order ids, or - to read them from stdin."),
    out: str = typer.Option(".", "--out", help="Folder for the receipt files (made if missing)."),
    all_new: bool = typer.Option(False, "--all-new", help="Every paid payment whose receipt is not printed yet."),
    pdf: bool = typer.Option(False, "--pdf", help="Also write each receipt as a PDF."),
    force: bool = ForceOption,
) -> None:
    """Write a printable receipt (PNG; PDF too with --pdf) for each paid payment: school, payer, fee heads,
    amount in figures and words, how it was paid, BS and Gregorian date and the receipt number. Prints the
    path of each file."""
    from khalti_cli.services.receipts import receipt_rows, write_receipts

    if bool(order_ids) == all_new:
        raise typer.BadParameter("give order ids, or --all-new (not both).", param_hint="ORDER_ID")
    st = state(ctx)
    store = st.store()
    rows = receipt_rows(store, None if all_new else read_ids(order_ids))
    if not rows:
        st.say("No new receipts to write: every paid payment's receipt is printed.")
        return
    written = write_receipts(store, rows, out, st.settings().school_name, pdf=pdf, force=force)
    for path in written:
        sys.stdout.write(f"{path}\n")
    st.say(f"Wrote {len(rows)} receipt(s) in {out}.")
