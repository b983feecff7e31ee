"""reconcile: for cron. Quiet when all is well; the exit code tells the rest."""

from __future__ import annotations

import sys
from typing import Any

import typer

from khalti_cli.cli.options import MAX_COUNT, MAX_RATE, FormatOption, check_format, parse_duration
from khalti_cli.cli.state import state
from khalti_cli.output import dumps, write_summary


def register(app: typer.Typer) -> None:
    app.command("reconcile")(reconcile)


def reconcile(
    ctx: typer.Context,
    concurrency: int = typer.Option(8, "--concurrency", min=1, max=64, help="Lookups in flight at once."),
    limit: int | None = typer.Option(None, "--limit", min=1, max=MAX_COUNT, help="Check at most this many links."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Ask Khalti and report; write nothing."),
    older_than: str | None = typer.Option(None, "--older-than", help="Skip links checked within this time (10m)."),
    max_time: str | None = typer.Option(None, "--max-time", help="End the run by then, lookups in flight too (5m)."),
    rate: int | None = typer.Option(None, "--rate", min=1, max=MAX_RATE, help="At most this many lookups per second."),
    check_all: bool = typer.Option(False, "--all", help="Also re-check links Khalti already reported final."),
    fmt: str | None = FormatOption,
) -> None:
    """Look up every payment link Khalti has not reported final, and store the answers."""
    from khalti_cli.lock import reconcile_lock
    from khalti_cli.services.reconcile import Options
    from khalti_cli.services.reconcile import reconcile as run

    fmt = check_format(fmt)
    st = state(ctx)
    opts = Options(
        concurrency=concurrency,
        limit=limit,
        dry_run=dry_run,
        older_than_s=parse_duration(older_than, "--older-than"),
        max_time_s=parse_duration(max_time, "--max-time"),
        rate=rate,
        include_final=check_all,
    )
    settings = st.settings()
    store = st.store()
    on_payment = _jsonl_writer if fmt == "jsonl" else None
    with reconcile_lock(settings.db_path), _progress(st) as on_progress:
        summary = run(store, settings, opts, on_payment=on_payment, on_progress=on_progress)
    for message in summary.error_messages[:5]:
        st.warn(f"Error: {message}")
    if len(summary.error_messages) > 5:
        st.warn(f"... and {len(summary.error_messages) - 5} more kinds of error.")
    if summary.auth_error is not None:
        st.warn(f"Error: {summary.auth_error}")
    for bug in summary.unexpected[:5]:
        st.log(bug.details.rstrip())
    code = summary.exit_code
    show = fmt != "jsonl" and not (st.quiet and code == 0)
    write_summary(summary.as_json(), fmt, (("(dry run) " if dry_run else "") + summary.line()) if show else None)
    if summary.voided:
        st.say(f"{summary.voided} link(s) whose initiate got no answer were voided.")
    raise typer.Exit(int(code))


def _jsonl_writer(record: dict[str, Any]) -> None:
    sys.stdout.write(dumps(record) + "\n")
    sys.stdout.flush()


class _progress:
    """A rich progress bar on stderr, only on a terminal and without -q."""

    def __init__(self, st: Any) -> None:
        self.enabled = not st.quiet and sys.stderr.isatty()
        self.color = st.color
        self.bar: Any = None
        self.task: Any = None

    def __enter__(self) -> Any:
        if not self.enabled:
            return None
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

        from khalti_cli.output import make_console

        self.bar = Progress(
            TextColumn("reconcile"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[rate]}/s"),
            TimeRemainingColumn(),
            console=make_console(sys.stderr, self.color),
            transient=True,
        )
        self.bar.__enter__()
        self.task = self.bar.add_task("reconcile", total=None, rate="-")
        return self.update

    def update(self, done: int, total: int) -> None:
        elapsed = self.bar.tasks[0].elapsed or 0
        rate = f"{done / elapsed:.0f}" if elapsed else "-"
        self.bar.update(self.task, completed=done, total=total, rate=rate)

    def __exit__(self, *exc: object) -> None:
        if self.bar is not None:
            self.bar.__exit__(None, None, None)
