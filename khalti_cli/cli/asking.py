"""Money needs a yes: on a terminal, show what will change and ask; elsewhere require --yes (exit 2)."""

from __future__ import annotations

import sys
from typing import Any

from khalti_cli.errors import UsageError


def confirm(description: str, question: str, *, yes: bool, refusal: str) -> bool:
    """True to go ahead. `refusal` is the usage error when nobody can be asked and --yes was not given."""
    if yes:
        return True
    if not (_isatty(sys.stdin) and _isatty(sys.stderr)):
        raise UsageError(refusal)
    sys.stderr.write(description + f"\n{question} [y/N]: ")
    sys.stderr.flush()
    # Not typer.confirm: it echoes a space to stdout, which carries only data.
    answer = sys.stdin.readline()
    if not answer.endswith("\n"):
        sys.stderr.write("\n")
    return answer.strip().lower() in ("y", "yes")


def _isatty(stream: Any) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False
