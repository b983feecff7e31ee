"""The `khalti` program's entry point: what needs no command parser is answered before typer loads.

`khalti --version` is typed by scripts and people checking an install: it costs a bare Python start-up.
Everything else goes to the typer group (khalti_cli.cli.root), which builds only the command it runs.
Shell completion (`_KHALTI_COMPLETE` set by the scripts `khalti completion SHELL` prints) registers typer's
completion classes first.
"""

from __future__ import annotations

import os
import sys


def main() -> None:
    args = sys.argv[1:]
    if args == ["--version"]:
        from khalti_cli import __version__

        sys.stdout.write(f"khalti {__version__}\n")
        return
    if os.environ.get("_KHALTI_COMPLETE"):
        from typer._completion_classes import completion_init

        completion_init()
    from khalti_cli.cli.root import main as run

    run()
