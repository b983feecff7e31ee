"""backup: a consistent copy of the database, safe while other commands run."""

from __future__ import annotations

import sys

import typer

from khalti_cli.cli.asking import for_screen
from khalti_cli.cli.state import state


def register(app: typer.Typer) -> None:
    app.command("backup")(backup)


def backup(
    ctx: typer.Context,
    file: str = typer.Argument(..., metavar="FILE", help="Where to write the copy (a new file; mode 0600)."),
    force: bool = typer.Option(False, "--force", help="Replace the file if it exists."),
) -> None:
    """Copy the database to FILE, consistently, even while reconcile or other commands run. Prints FILE."""
    from khalti_cli.services.backup import backup as run

    st = state(ctx)
    result = run(st.settings().db_path, file, force=force)
    st.say(
        for_screen(
            f"Backed up {result.payments} payment(s) to {result.path} ({result.bytes:,} bytes, "
            f"{result.seconds:.1f} s); integrity check ok."
        )
    )
    sys.stdout.write(f"{result.path}\n")
