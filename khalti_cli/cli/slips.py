"""slips: printable fee slips (PNG) with the payment link as a QR code."""

from __future__ import annotations

import sys

import typer

from khalti_cli.cli.options import read_ids
from khalti_cli.cli.state import state


def register(app: typer.Typer) -> None:
    app.command("slips")(slips)


def slips(
    ctx: typer.Context,
    order_ids: list[str] = typer.Argument(..., help="Order ids, or - to read them from stdin."),
    out: str = typer.Option(".", "--out", help="Folder for the PNG files (made if missing)."),
    force: bool = typer.Option(False, "--force", help="Replace slip files that already exist."),
) -> None:
    """Write a fee slip PNG for each payment: school, payer, fee, amount, expiry in Nepal time and a QR code
    of the payment link. Prints the path of each file. Every payment must have a live link. A file is
    named after its order id, with every character other than letters, digits, - . _ written as %XX
    (S/1 -> S%2F1.png); a name already taken is refused (exit 3, nothing written) unless --force."""
    from khalti_cli.services.slips import font_note, slip_records, write_slips

    st = state(ctx)
    records = slip_records(st.store(), read_ids(order_ids))
    note = font_note()
    if note:
        st.warn(f"Warning: {note}")
    for path in write_slips(records, out, st.settings().school_name, force=force):
        sys.stdout.write(f"{path}\n")
