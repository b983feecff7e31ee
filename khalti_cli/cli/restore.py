"""restore: replace the database with a checked backup; the replaced file is kept beside it."""

from __future__ import annotations

import sys

import typer

from khalti_cli.cli.asking import for_screen
from khalti_cli.cli.state import state


def register(app: typer.Typer) -> None:
    app.command("restore")(restore)


def restore(
    ctx: typer.Context,
    file: str = typer.Argument(..., metavar="BACKUP", help="A file made by khalti backup."),
    force: bool = typer.Option(
        False, "--force", help="Restore even if the database has newer records, or cannot be opened."
    ),
) -> None:
    """Replace the database with BACKUP, after checking it. Refused while reconcile or another khalti
    command is writing. The replaced database is kept as <db>.replaced-<time>, whose path is printed."""
    from pathlib import Path

    from khalti_cli.services.restore import restore as run

    st = state(ctx)
    result = run(st.settings().db_path, Path(file), force=force)
    from khalti_cli.times import local

    newest = local(result.newest_event) if result.newest_event else "none"
    st.say(
        for_screen(
            f"Restored {result.payments} payment(s) and {result.events} event(s) (newest event {newest}) from "
            f"{file} into {result.db}." + (f" The replaced database is kept as {result.kept}." if result.kept else "")
        )
    )
    if result.kept:
        sys.stdout.write(f"{result.kept}\n")
