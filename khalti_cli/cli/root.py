"""The `khalti` group: its global options and help. Its commands are loaded when run (cli/commands.py).

`main` is what the installed `khalti` runs; cli/app.py is the same group with every command built up front.
"""

from __future__ import annotations

import typer

from khalti_cli import __version__
from khalti_cli.cli.boundary import KhaltiGroup
from khalti_cli.cli.state import state

EPILOG = (
    "Exit codes: 0 ok, 1 bug, 2 usage, 3 invalid input, 4 configuration/authentication, "
    "5 a payment went to review, 75 temporary (retry later), 130 interrupted."
)


def new_app() -> typer.Typer:
    """The root group with no command registered: KhaltiGroup finds each command when it is asked for."""
    app = typer.Typer(
        cls=KhaltiGroup,
        name="khalti",
        help="Take school fees through Khalti: record a fee, hand out its payment link, see who has paid.",
        epilog=EPILOG,
        add_completion=False,
        rich_markup_mode=None,
        no_args_is_help=True,
        pretty_exceptions_enable=False,
        context_settings={"help_option_names": ["-h", "--help"]},
    )
    app.callback()(root)
    return app


def _version(value: bool) -> None:
    if value:
        typer.echo(f"khalti {__version__}")
        raise typer.Exit()


def root(
    ctx: typer.Context,
    db: str | None = typer.Option(None, "--db", help="SQLite database file (default: KHALTI_DB or your data dir)."),
    env_file: str | None = typer.Option(None, "--env-file", help="Env file to read (default: ./.env)."),
    env: str | None = typer.Option(None, "--env", help="sandbox or production (default: KHALTI_ENV or sandbox)."),
    quiet: bool = typer.Option(False, "-q", "--quiet", help="No messages on stderr unless something failed."),
    verbose: int = typer.Option(0, "-v", "--verbose", count=True, help="More detail on stderr (HTTP calls)."),
    no_color: bool = typer.Option(False, "--no-color", help="No colour (also: NO_COLOR=1)."),
    version: bool = typer.Option(False, "--version", is_eager=True, callback=_version, help="Print the version."),
) -> None:
    if env is not None and env.lower() not in ("sandbox", "production"):
        raise typer.BadParameter(f"{env!r} is not sandbox or production.", param_hint="--env")
    st = state(ctx)
    st.db, st.env_file, st.env = db, env_file, env.lower() if env else None
    st.quiet, st.verbose, st.no_color = quiet, verbose, no_color


def main() -> None:
    new_app()(prog_name="khalti")
