"""Options shared by several commands, and the small parsers behind them."""

from __future__ import annotations

import re
import sys
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

import typer

from khalti_cli.errors import InvalidInput
from khalti_cli.output import FORMATS, resolve_format

# Every integer option has a range (min= and max=), so an out-of-range number is a usage error (exit 2, with
# a sentence) before it can overflow SQLite's 64-bit integers or a timedelta. tests/test_hostile.py checks
# that every integer option of every command has both bounds.
MAX_COUNT = 1_000_000_000  # --limit: more rows than any school has
MAX_RATE = 10_000  # --rate: lookups a second
MAX_SECONDS = 7 * 86_400  # --wait-timeout, the sandbox's --ttl: a week


def format_option(formats: tuple[str, ...], help: str) -> Any:
    """`--format` taking exactly `formats`: the help shows them as its metavar, TAB completes them and any
    other value is a usage error (exit 2) naming them, at parse time. One tuple, so help, completion and
    what the command accepts cannot drift apart (tests/test_usability.py tries every format on every command).
    """

    def check(value: str | None) -> str | None:
        return check_format(value, formats)

    def complete(incomplete: str) -> list[str]:
        return [f for f in formats if f.startswith(incomplete.lower())]

    return typer.Option(
        None, "--format", metavar="[" + "|".join(formats) + "]", callback=check, autocompletion=complete, help=help
    )


FormatOption: Any = format_option(FORMATS, "table (terminal default), tsv (pipe default), csv, json or jsonl.")
XLSX_FORMATS = (*FORMATS, "xlsx")
XlsxFormatOption: Any = format_option(
    XLSX_FORMATS, "table (terminal default), tsv (pipe default), csv, json, jsonl or xlsx (with --out FILE, or > FILE)."
)
SUMMARY_FORMATS = ("table", "tsv", "csv", "json")  # notify and remind: a summary of the run, not records
XlsxOutOption: Any = typer.Option(
    None,
    "--out",
    metavar="FILE",
    help="With --format xlsx: the file to write (default: stdout, when it is not a terminal).",
)
ForceOption: Any = typer.Option(False, "--force", help="Replace a file that already exists.")


def check_format(value: str | None, allowed: Iterable[str] = FORMATS) -> str | None:
    if value is None:
        return None
    value = value.lower()
    allowed = tuple(allowed)
    if value not in allowed:
        raise typer.BadParameter(f"{value!r} is not one of {', '.join(allowed)}.", param_hint="--format")
    return value


def read_ids(values: list[str]) -> list[str]:
    """Arguments, where `-` means: read ids from stdin, one a line (blank lines skipped)."""
    ids: list[str] = []
    for value in values:
        if value == "-":
            ids.extend(line.strip() for line in sys.stdin if line.strip())
        else:
            ids.append(value)
    if not ids:
        raise typer.BadParameter("give at least one id, or - to read them from stdin.", param_hint="ID")
    return ids


_DURATION = re.compile(r"^(\d+)\s*(s|sec|m|min|h|d)?$")
_UNITS = {"s": 1, "sec": 1, "m": 60, "min": 60, "h": 3600, "d": 86400}


def parse_duration(value: str | None, option: str) -> int | None:
    """`90`, `90s`, `10m`, `2h`, `1d` -> seconds."""
    if value is None:
        return None
    m = _DURATION.match(value.strip().lower())
    if not m:
        raise typer.BadParameter(f"{value!r} is not a duration like 30s, 10m or 2h.", param_hint=option)
    seconds = int(m.group(1)) * _UNITS[m.group(2) or "s"]
    if seconds > 100 * 365 * 86400:  # a date that far back or ahead does not exist (and overflows)
        raise typer.BadParameter(f"{value!r} is longer than 100 years.", param_hint=option)
    return seconds


def parse_date(value: str | None, option: str, *, end: bool = False) -> str | None:
    """A typed day (local midnight; with end=True the day after, so --until is inclusive) or an ISO time.

    Days follow the contract's rule (khalti_cli.calendar.parse_day): year 2060 or later is BS, earlier
    Gregorian, `bs:`/`ad:` force either. Not a date: a usage error (exit 2). A BS day outside the calendar
    data, or a real date khalti cannot work with (its day after, or the same moment in UTC, is past
    9999-12-31 or before year 1): InvalidInput, exit 3, never an overflow."""
    if value is None:
        return None
    from khalti_cli.calendar import parse_day
    from khalti_cli.times import local_midnight, localize

    text = value.strip()
    bare = text.removeprefix("bs:").removeprefix("ad:")
    is_day = len(text) <= 14 and "T" not in text.upper() and ":" not in bare
    try:
        if is_day:
            day = parse_day(text)
        else:
            moment = datetime.fromisoformat(text)
    except ValueError:
        raise typer.BadParameter(
            f"{value!r} is not a date; use YYYY-MM-DD (BS from year 2060, e.g. 2082-08-15; bs: or ad: in "
            "front forces either) or an ISO time like 2026-11-27T10:00:00+05:45.",
            param_hint=option,
        ) from None
    try:
        if is_day:
            moment = local_midnight(day + timedelta(days=1) if end else day)  # KHALTI_TZ, else the system's
        elif moment.tzinfo is None:
            moment = localize(moment)  # a time without an offset is a local one
        return moment.astimezone(UTC).isoformat(timespec="milliseconds")
    except (OverflowError, OSError, ValueError):
        raise InvalidInput(
            f"{option} {value.strip()[:40]!r} is outside the dates khalti can work with (years 1 to 9999, "
            "with a day to spare at each end). Give a date nearer today."
        ) from None


def xlsx_format(fmt: str | None, out: str | None, command: str, file: str) -> str:
    """The output format of a command that also writes xlsx: --out FILE means xlsx (it is the only format
    written to a file); xlsx without --out goes to stdout only when that is not a terminal. `command` and
    `file` (e.g. "list", "payments.xlsx") make the terminal's error show the right command line."""
    chosen = check_format(fmt, XLSX_FORMATS)
    if out and chosen is None:
        chosen = "xlsx"
    if out and chosen != "xlsx":
        raise typer.BadParameter("--out is for --format xlsx; other formats go to stdout.", param_hint="--out")
    if chosen == "xlsx" and out is None and sys.stdout.isatty():
        raise typer.BadParameter(
            f"an xlsx file is not for the terminal: give --out {file}, or send stdout to a file "
            f"(khalti {command} --format xlsx > {file}).",
            param_hint="--out",
        )
    return resolve_format(chosen)
