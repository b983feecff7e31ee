"""The `khalti` group with every command built up front: for tests (typer's CliRunner walks it) and for
anything that needs the whole tree at once. The installed `khalti` runs cli/root.main, which builds only
the command it runs; both are the same group (tests/test_startup.py compares them)."""

from __future__ import annotations

from khalti_cli.cli.commands import register_all
from khalti_cli.cli.root import new_app

app = new_app()
register_all(app)


def main() -> None:
    app(prog_name="khalti")
