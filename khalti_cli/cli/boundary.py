"""The root group: the one place exceptions become messages and exit codes (httpie's raw_main,
typer-flavoured), and where commands are found by name, each built only when asked for."""

from __future__ import annotations

import sys
from typing import Any

import typer
from typer.core import TyperGroup

from khalti_cli.errors import ExitCode, KhaltiError


def _verbose(ctx: Any) -> bool:
    obj = getattr(ctx.find_root(), "obj", None)
    return bool(getattr(obj, "verbose", 0)) or "-v" in sys.argv or "--verbose" in sys.argv


class KhaltiGroup(TyperGroup):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        from khalti_cli.cli.helptext import polish

        super().__init__(*args, **kwargs)
        polish(self)  # metavars, examples, --excel and completions on every command, however it is run

    def list_commands(self, ctx: Any) -> list[str]:
        from khalti_cli.cli.commands import NAMES

        return list(dict.fromkeys([*NAMES, *self.commands]))

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        """The command, built on first use (cli/commands.py)."""
        if cmd_name not in self.commands:
            from khalti_cli.cli.commands import load
            from khalti_cli.cli.helptext import polish

            command = load(cmd_name)
            if command is None:
                return None
            self.commands[cmd_name] = polish(command, cmd_name)
        return self.commands[cmd_name]

    def format_commands(self, ctx: Any, formatter: Any) -> None:
        """click's list of commands, from the table of summaries: `khalti --help` imports no command."""
        from khalti_cli.cli.commands import NAMES, summary

        names = self.list_commands(ctx)
        limit = formatter.width - 6 - max(len(name) for name in names)
        rows = [
            (name, summary(name, limit) if name in NAMES else self.commands[name].get_short_help_str(limit))
            for name in names
        ]
        with formatter.section("Commands"):
            formatter.write_dl(rows)

    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except (typer.Exit, typer.Abort):
            raise
        except KhaltiError as exc:
            _error(str(exc))
            raise typer.Exit(int(exc.exit_code)) from None
        except KeyboardInterrupt:
            _error("Interrupted.")
            raise typer.Exit(int(ExitCode.INTERRUPTED)) from None
        except _sqlite_error() as exc:
            from khalti_cli.store.db import translate

            obj = getattr(ctx.find_root(), "obj", None)
            store = getattr(obj, "_store", None)
            translated = translate(exc, store.path if store else "the database")  # type: ignore[arg-type]
            _error(str(translated))
            code = getattr(translated, "exit_code", ExitCode.BUG)
            raise typer.Exit(int(code)) from None
        except BrokenPipeError:
            # `khalti list | head -1`: the reader left; nothing more to say.
            sys.stdout = open("/dev/null", "w")  # noqa: SIM115 - stops Python's flush at exit from failing
            raise typer.Exit(0) from None
        except Exception as exc:
            if _is_click_error(exc):
                raise
            if isinstance(exc, UnicodeEncodeError) and "surrogates" in str(exc.reason):
                # Bytes that are not UTF-8 in an argument or input reach SQLite as lone surrogates.
                _error(
                    "Some text given to khalti is not valid UTF-8 (an argument, a line of input or a file "
                    "with stray bytes). Nothing was changed; fix the text and try again."
                )
                raise typer.Exit(int(ExitCode.INVALID)) from None
            if _verbose(ctx):
                import traceback

                traceback.print_exc(file=sys.stderr)
            _error(
                f"khalti hit an unexpected problem ({exc.__class__.__name__}). Run the same command with -v "
                "to see the details, and report them."
            )
            raise typer.Exit(int(ExitCode.BUG)) from None


def _sqlite_error() -> type[Exception] | tuple[()]:
    """sqlite3.Error once something has imported sqlite3 (nothing else can raise it); () before."""
    module = sys.modules.get("sqlite3")
    return module.Error if module is not None else ()


def _is_click_error(exc: Exception) -> bool:
    module = exc.__class__.__module__
    return module.startswith("typer._click") or module.startswith("click")


def _error(message: str) -> None:
    from khalti_cli.output import printable

    sys.stderr.write(f"Error: {printable(message, newlines=True)}\n")
    sys.stderr.flush()
