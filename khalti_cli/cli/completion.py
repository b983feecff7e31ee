"""Shell completion: `khalti completion bash|zsh|fish` prints the script; the script asks khalti (with
_KHALTI_COMPLETE set, typer's mechanism) for commands, options, statuses, formats and order ids.

Order ids come straight from the database (read-only, newest first, at most 200): no store, no migration,
so a TAB stays quick.
"""

from __future__ import annotations

import os
from pathlib import Path

import typer

SHELLS = ("bash", "zsh", "fish")


def register(app: typer.Typer) -> None:
    app.command(
        "completion",
        epilog=(
            "Example: khalti completion bash > ~/.local/share/bash-completion/completions/khalti\n\n"
            "zsh: khalti completion zsh > ~/.zfunc/_khalti (with fpath+=(~/.zfunc) before compinit); "
            "fish: khalti completion fish > ~/.config/fish/completions/khalti.fish"
        ),
    )(completion)


def completion(
    shell: str = typer.Argument(..., metavar="SHELL", help="bash, zsh or fish.", autocompletion=lambda: list(SHELLS)),
) -> None:
    """Print the shell completion script for SHELL: commands, options, statuses and order ids on TAB."""
    from typer._click.shell_completion import get_completion_class
    from typer._completion_classes import completion_init
    from typer.main import get_command

    if shell not in SHELLS:
        raise typer.BadParameter(f"{shell!r} is not one of {', '.join(SHELLS)}.", param_hint="SHELL")
    completion_init()
    from khalti_cli.cli.app import app

    comp_cls = get_completion_class(shell)
    assert comp_cls is not None
    script = comp_cls(get_command(app), {}, "khalti", "_KHALTI_COMPLETE").source()
    typer.echo(script)


def order_ids(ctx: typer.Context, incomplete: str) -> list[str]:
    """Order ids starting with what is typed, newest first, from the database --db or KHALTI_DB names."""
    import sqlite3

    root = ctx.find_root()
    db = root.params.get("db") or os.environ.get("KHALTI_DB")
    try:
        if not db:
            from khalti_cli.config import default_db_path

            db = str(default_db_path())
        if not Path(db).is_file():
            return []
        pattern = incomplete.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=0.5) as conn:
            rows = conn.execute(
                "SELECT order_id FROM payments WHERE order_id LIKE ? ESCAPE '\\' ORDER BY id DESC LIMIT 200",
                [pattern],
            ).fetchall()
        return [str(r[0]) for r in rows]
    except (sqlite3.Error, OSError, ImportError):
        return []


def statuses(incomplete: str) -> list[str]:
    from khalti_cli.statuses import STATUSES

    return [s for s in STATUSES if s.startswith(incomplete)]


def methods(incomplete: str) -> list[str]:
    """settle --method: how a fee paid outside Khalti was paid."""
    from khalti_cli.services.corrections import METHODS

    return [m for m in METHODS if m.startswith(incomplete)]


def outcomes(incomplete: str) -> list[str]:
    """resolve --as: how a person decides a payment in review."""
    from khalti_cli.services.corrections import OUTCOMES

    return [o for o in OUTCOMES if o.startswith(incomplete)]
