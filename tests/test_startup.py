"""The installed `khalti` builds only the command it runs (cli/root.py with the table in cli/commands.py).

These tests prove the lazy group is the same program as the full one (cli/app.py): the same commands in the
same order, the same help line for each at every width, the same help for every command and subcommand,
and that running one command imports no other command's module. Timing is measured in bench/startup.py,
never here.
"""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import pytest
from typer.main import get_command
from typer.testing import CliRunner

from khalti_cli.cli import commands
from khalti_cli.cli.app import app
from khalti_cli.cli.root import new_app

COLUMNS = {"COLUMNS": "100"}


def full_group() -> Any:
    return get_command(app)


def test_the_table_lists_every_command_in_the_full_apps_order() -> None:
    group = full_group()
    assert list(commands.NAMES) == list(group.commands)
    for name, command in group.commands.items():
        module = command.callback.__module__ if command.callback else None
        if module is not None:  # a group (payers) has no callback of its own
            assert module == f"khalti_cli.cli.{commands.COMMANDS[commands.NAMES.index(name)][1]}", name


def test_each_summary_shortens_as_the_full_help_does() -> None:
    for limit in range(10, 201):  # every width `--help` can be asked to fit, and wider
        for name, command in full_group().commands.items():
            assert commands.summary(name, limit) == command.get_short_help_str(limit), (name, limit)


def help_paths() -> list[list[str]]:
    paths: list[list[str]] = [[]]
    for name, command in full_group().commands.items():
        paths.append([name])
        for sub in getattr(command, "commands", {}):
            paths.append([name, sub])
    return paths


def test_the_lazy_group_prints_the_same_help_as_the_full_one() -> None:
    runner = CliRunner()
    paths = help_paths()
    assert len(paths) > 35  # every command and every payers subcommand
    for path in paths:
        lazy = runner.invoke(new_app(), [*path, "--help"], env=COLUMNS, prog_name="khalti")
        full = runner.invoke(app, [*path, "--help"], env=COLUMNS, prog_name="khalti")
        assert lazy.exit_code == full.exit_code == 0, (path, lazy.output, full.output)
        assert lazy.output == full.output, path


def test_the_installed_help_is_the_full_apps_help(tmp_path: Any) -> None:
    def run(*argv: str) -> str:
        env = {**_plain_env(), **COLUMNS}
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=60, env=env, cwd=tmp_path)
        assert proc.returncode == 0, proc.stderr
        return proc.stdout

    full = "import sys; sys.argv[0] = 'khalti'; from khalti_cli.cli.app import main; main()"
    installed = run(sys.executable, "-m", "khalti_cli", "--help")
    assert installed == run(sys.executable, "-c", full, "--help")
    listed = installed.split("Commands:\n", 1)[1]
    for name in commands.NAMES:
        assert f"\n  {name} " in f"\n{listed}", name


def test_an_unknown_command_is_a_usage_error_naming_it() -> None:
    run = CliRunner().invoke(new_app(), ["lsit"], prog_name="khalti")
    assert run.exit_code == 2 and "No such command 'lsit'" in run.output


SNIPPET = """
import sys
sys.argv = ["khalti", *sys.argv[1:]]
from khalti_cli.cli.entry import main
try:
    main()
finally:
    loaded = sorted(m for m in sys.modules if m.startswith("khalti_cli.cli.") or m.startswith("khalti_cli.serv")
                    or m.startswith("khalti_cli.gateway"))
    sys.stderr.write("LOADED " + " ".join(loaded) + "\\n")
"""
COMMAND_MODULES = {f"khalti_cli.cli.{module}" for module in commands.MODULES}


@pytest.mark.parametrize(
    ("args", "own", "lean"),
    [
        (["list"], "reading", True),
        (["--help"], None, True),
        ([], None, True),
        (["create", "--help"], "payments", True),
        (["payers", "list"], "payers", False),
        (["--db", "other.db", "-q", "show", "NOPE"], "reading", False),
    ],
)
def test_a_run_imports_only_its_own_command_module(args: list[str], own: str | None, lean: bool, tmp_path: Any) -> None:
    proc = subprocess.run(
        [sys.executable, "-c", SNIPPET, *args],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
        env={**_plain_env(), "KHALTI_DB": str(tmp_path / "k.db")},
    )
    line = next(x for x in proc.stderr.splitlines() if x.startswith("LOADED "))
    loaded = set(line.split()[1:])
    # cli/completion also holds the completers every command's options use (helptext attaches them)
    shared = {"khalti_cli.cli.completion"}
    assert loaded & COMMAND_MODULES - shared == ({f"khalti_cli.cli.{own}"} if own else set()), (args, loaded)
    if lean:  # listing and help never load the status machinery or the gateway's answers
        assert "khalti_cli.services.apply" not in loaded and "khalti_cli.gateway.answers" not in loaded, loaded


def test_completion_offers_the_tables_commands(tmp_path: Any) -> None:
    env = {
        **_plain_env(),
        "_KHALTI_COMPLETE": "complete_bash",
        "COMP_WORDS": "khalti re",
        "COMP_CWORD": "1",
        "KHALTI_DB": str(tmp_path / "k.db"),
    }
    proc = subprocess.run(
        [sys.executable, "-m", "khalti_cli"], capture_output=True, text=True, timeout=60, env=env, cwd=tmp_path
    )
    words = proc.stdout.split()
    assert words == [name for name in commands.NAMES if name.startswith("re")], proc.stdout
    assert "reconcile" in words and "refund" in words


def _plain_env() -> dict[str, str]:
    import os

    return {k: v for k, v in os.environ.items() if not k.startswith("KHALTI_") and k != "COLUMNS"}
