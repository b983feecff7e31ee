"""import: many payments from a CSV or JSON Lines file, all or nothing; optionally their links and slips."""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Iterator
from typing import Any

import typer

from khalti_cli.cli.options import FormatOption, check_format
from khalti_cli.cli.state import AppState, state
from khalti_cli.errors import ExitCode, KhaltiError, worst
from khalti_cli.output import resolve_format, write_records

SHOW_SKIPPED = 10  # at most this many "already imported" lines; then a count
TABLE_LIMIT = 1000  # a terminal table of more rows helps nobody (and takes rich minutes)


def register(app: typer.Typer) -> None:
    app.command("import")(import_file)


def import_file(
    ctx: typer.Context,
    file: str = typer.Argument(..., metavar="FILE", help="CSV (with a header row) or JSON Lines file, or - for stdin."),
    do_initiate: bool = typer.Option(False, "--initiate", help="Also make each payment's link now."),
    skip_invalid: bool = typer.Option(
        False, "--skip-invalid", help="Import the good rows even if some are bad (the exit is still 3)."
    ),
    input_format: str | None = typer.Option(
        None, "--input-format", help="csv or jsonl (default: jsonl for a .jsonl name, else csv)."
    ),
    slips: str | None = typer.Option(None, "--slips", help="With --initiate: write a fee slip PNG per payment here."),
    concurrency: int = typer.Option(8, "--concurrency", min=1, max=32, help="With --initiate: links made at once."),
    columns: str | None = typer.Option(None, "--columns", help="Comma-separated record keys to show, in order."),
    ignore_columns: str | None = typer.Option(
        None, "--ignore-columns", help="Comma-separated columns of the file to leave out, e.g. 'Roll No,Section'."
    ),
    fmt: str | None = FormatOption,
) -> None:
    """Record one payment per row: amount and name, optionally order_id, customer_name, customer_email,
    customer_phone, reference, payer. Every row is checked first; one bad row and nothing is imported."""
    from khalti_cli.cli.reading import _columns, _write_lines
    from khalti_cli.services import importer
    from khalti_cli.services.records import RECORD_KEYS, TABLE_COLUMNS

    out_fmt = resolve_format(check_format(fmt))
    chosen = _columns(columns, RECORD_KEYS)
    if chosen is None and out_fmt == "table":
        chosen = [*TABLE_COLUMNS[:5]] + (["payment_url"] if do_initiate else [])
    if slips and not do_initiate:
        raise typer.BadParameter("--slips needs --initiate (a slip carries the payment link).", param_hint="--slips")
    st = state(ctx)
    if do_initiate:  # check the set-up before recording, so a missing key changes nothing
        st.settings().require_urls()
        st.settings().require_key()
    store = st.store()
    ignored = [c for c in (ignore_columns or "").split(",") if c.strip()]
    result = importer.import_payments(
        store,
        file,
        input_format_name=input_format,
        skip_invalid=skip_invalid,
        file_names=bool(slips),
        ignore_columns=ignored,
    )
    _report(st, result, skip_invalid)
    codes: set[ExitCode] = {result.exit_code}
    lines = importer.imported_json_lines(store, result, chosen or RECORD_KEYS) if out_fmt == "jsonl" else None
    if result.imported and not do_initiate and lines is not None:
        _write_lines(lines)  # JSON made by SQLite: 100,000 records in a fraction of a second
    elif result.imported and not do_initiate:
        records: Any = importer.imported_records(store, result)
        if out_fmt == "table" and result.imported > TABLE_LIMIT:
            records = itertools.islice(records, TABLE_LIMIT)
            st.say(f"(the first {TABLE_LIMIT} of {result.imported}; --format tsv, csv or jsonl gives them all)")
        write_records(records, out_fmt, columns=chosen, color=st.stdout_color())
    elif do_initiate and (result.imported or (result.skipped and not (result.bad and not skip_invalid))):
        results = importer.initiate_range(
            store,
            st.settings(),
            st.gateway,
            result.first_id,
            result.last_id,
            concurrency=concurrency,
            skipped=result.skipped,
        )
        made: list[dict[str, Any]] = []
        # flush: each row (with its URL) reaches stdout as soon as its link is stored
        write_records(
            initiated_records(st, results, codes, made), out_fmt, columns=chosen, color=st.stdout_color(), flush=True
        )
        if slips and made:
            _write_slips(st, made, slips)
    raise typer.Exit(int(worst(codes)))


def _write_slips(st: AppState, made: list[dict[str, Any]], folder: str) -> None:
    from khalti_cli.errors import InvalidInput
    from khalti_cli.services.slips import write_slips

    try:
        paths = write_slips(made, folder, st.settings().school_name)
    except InvalidInput as exc:
        raise InvalidInput(
            f"{exc} The payments and their links are stored: write their slips with "
            "khalti slips ORDER_ID... --out FOLDER (--force replaces files that exist)."
        ) from None
    for path in paths:
        st.say(f"slip: {path}")


def initiated_records(
    st: AppState, results: Iterable[Any], codes: set[ExitCode], made: list[dict[str, Any]] | None = None
) -> Iterator[dict[str, Any]]:
    """The records of the links made (also kept in `made`); each failure is named on stderr and its exit code
    kept in `codes`."""
    for r in results:
        if r.error is not None:
            error: KhaltiError = r.error
            st.warn(f"Error: {r.order_id}: {error}")
            codes.add(error.exit_code)
            continue
        if r.record is not None:
            if made is not None:
                made.append(r.record)
            yield r.record


def _report(st: AppState, result: Any, skip_invalid: bool) -> None:
    for bad in result.bad:
        st.warn(f"{result.source}: {bad}")
    for line, order_id in result.skipped[:SHOW_SKIPPED]:
        st.say(f"{result.source}: line {line}: order id {order_id} is already imported with the same data; skipped.")
    if len(result.skipped) > SHOW_SKIPPED:
        st.say(f"{result.source}: ... and {len(result.skipped) - SHOW_SKIPPED} more rows already imported; skipped.")
    if result.rows == 0:
        st.say(f"{result.source}: no rows to import; nothing to do.")
        return
    if result.bad and not skip_invalid:
        good = result.rows - result.bad_rows - len(result.skipped)
        st.warn(
            f"Error: {result.bad_rows} bad row(s) in {result.source}; nothing was imported. Fix them and import "
            f"again" + (f", or give --skip-invalid to import the {good} good row(s)." if good > 0 else ".")
        )
        return
    if not result.imported and not result.bad:
        st.say(f"{result.source}: nothing new; all {len(result.skipped)} row(s) are already imported.")
        return
    parts = [f"imported {result.imported} payment(s)"]
    if result.skipped:
        parts.append(f"{len(result.skipped)} already there")
    if result.bad:
        parts.append(f"{result.bad_rows} bad row(s) left out")
    message = f"{result.source}: " + ", ".join(parts) + "."
    if result.bad:
        st.warn(message)
    else:
        st.say(message)
