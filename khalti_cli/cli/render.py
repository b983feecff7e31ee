"""What a person sees on a terminal: tables that line up, one record as a key/value view, a pager.

Values are shown for people here and only here: amounts as `Rs 1,50,000.00`, times in local minutes
(khalti_cli.times), true/false as yes/no. Widths are measured as terminals draw them (khalti_cli.termwidth),
so Nepali names keep columns straight. Column widths follow one policy (khalti_cli.cli.layout): ids, amounts,
statuses, times and URLs whole on one line, free text wrapped between words, else a block per record.
Machine formats (tsv, csv, json, jsonl) never come here.
"""

from __future__ import annotations

import io
import os
import shlex
import shutil
import subprocess
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, nullcontext
from typing import Any, TextIO

from khalti_cli.cli.layout import Column, blocks_of, fitted
from khalti_cli.money import format_rupees
from khalti_cli.times import local

TABLE_LIMIT = 1000  # rows drawn at most on a terminal (rich needs seconds per thousand); a footer says so
LABELS = {
    "order_id": "order id",
    "name": "fee",
    "customer_name": "payer",
    "payer": "payer ref",
    "customer_email": "email",
    "customer_phone": "phone",
    "payment_url": "payment link",
    "expires_at": "expires",
    "created_at": "created",
    "updated_at": "updated",
    "checked_at": "checked",
    "khalti_status": "khalti status",
    "transaction_id": "transaction",
    "total_amount_paisa": "paid to khalti",
    "fee_paisa": "khalti fee",
    "refunded_paisa": "refunded amount",
    "review_reason": "needs review",
    "failure_reason": "failed because",
    "from_status": "from",
    "to_status": "to",
    "due_paisa": "due",
    "paid_paisa": "paid",
}
# Free text: the only columns that shrink, wrapping between words. Every other column (ids, references,
# pidx, amounts, statuses, times, URLs, phone numbers) keeps its full width on one line, or the table becomes
# one block of `label  value` lines per record.
FREE_TEXT = frozenset(
    {"name", "customer_name", "message", "review_reason", "failure_reason", "group", "heads", "decision", "actor"}
)
SHORT = {  # a header narrower than its label, for a column narrower than the label
    "khalti_status": "khalti",
    "total_amount_paisa": "paid",
    "fee_paisa": "fee",
    "refunded_paisa": "refunded",
    "review_reason": "review",
    "failure_reason": "failed",
    "transaction_id": "txn",
    "payment_url": "link",
    "customer_email": "email",
}
STATUS_STYLE = {
    "completed": "green",
    "review": "bold red",
    "failed": "red",
    "pending": "yellow",
    "expired": "dim",
    "canceled": "dim",
    "refunded": "magenta",
    "partially_refunded": "magenta",
}


def label(key: str, payment: bool = True) -> str:
    """The column or row title for a key; a payment's `name` is the fee, anyone else's is a name."""
    if key == "name" and not payment:
        return "name"
    return LABELS.get(key, key.replace("_", " "))


def human(key: str, record: dict[str, Any]) -> str:
    """The value of `key` in `record` as a person reads it."""
    value = record.get(key)
    if key == "amount" and isinstance(record.get("amount_paisa"), int):
        return format_rupees(record["amount_paisa"])
    if key == "customer_name" and not value:
        return str(record.get("payer") or "")
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if key == "amount_paisa":  # the machine's number: `amount` is the one shown in rupees
        return str(value)
    if key.endswith("_paisa") and isinstance(value, int):
        return format_rupees(value)
    if (key.endswith("_at") or key == "at") and isinstance(value, str):
        return local(value)
    if key == "settle_date" and isinstance(value, str):
        return _day(value)
    from khalti_cli.output import cell

    return cell(value)


def _day(value: str) -> str:
    """A stored Gregorian day (`2026-11-29`) as people read it: `2083-08-13 (2026-11-29)`, or as is with
    KHALTI_CALENDAR=ad."""
    from datetime import date

    from khalti_cli.calendar import for_people

    try:
        return for_people(date.fromisoformat(value))
    except ValueError:
        return value


def make_console(stream: TextIO, color: bool, *, width: int | None = None) -> Any:
    """A console measuring text as terminals draw it; with `width`, one writing for a terminal of that
    width into a buffer (for the pager), in colour when `color`. Inside `paged()`, stdout is the page."""
    from rich.console import Console

    from khalti_cli.termwidth import use_terminal_widths

    use_terminal_widths()
    terminal = True if width is not None and color else None
    if _PAGE and stream is sys.stdout and width is None:
        stream, width, terminal = _PAGE[-1][0], _PAGE[-1][1], True
    return Console(
        file=stream, no_color=not color, highlight=False, soft_wrap=False, width=width, force_terminal=terminal
    )


def screen_width(out: TextIO) -> int:
    """The width tables are laid out for: the page, the terminal, else rich's (COLUMNS, or 80)."""
    if _PAGE and out is sys.stdout:
        return int(_PAGE[-1][1])
    if _is_terminal(out):
        return shutil.get_terminal_size().columns
    return int(make_console(out, False).width)


def column(key: str, payment: bool = True) -> Column:
    right = key == "amount" or key.endswith("_paisa")
    return Column(label(key, payment), fixed=key not in FREE_TEXT, right=right, short=SHORT.get(key, ""))


def write_table(rows: Sequence[dict[str, Any]], out: TextIO, columns: Sequence[str] | None, color: bool) -> int:
    """Many records as a table, one a row (through the pager when longer than the screen)."""
    if not rows:  # a message, not data: stdout stays empty (a failed lookup prints nothing there)
        nothing_found()
        return 0
    keys = list(columns) if columns else list(rows[0].keys())
    footer = None
    if len(rows) > TABLE_LIMIT:
        footer = f"(the newest {TABLE_LIMIT} of {len(rows)}; --limit, --since or --format tsv/csv/jsonl for the rest)"
    emit(records_view(rows[:TABLE_LIMIT], keys, color, screen_width(out)), out, color, footer=footer)
    return len(rows)


def records_view(rows: Sequence[dict[str, Any]], keys: Sequence[str], color: bool, width: int) -> Any:
    """The table of `rows` for a screen `width` wide, or (when the whole ids, amounts and links cannot fit
    in a table of that width) one block of `label  value` lines per record."""
    from rich.text import Text

    payment = "order_id" in keys
    cells = [[Text(human(k, r), style=style(k, r, color)) for k in keys] for r in rows]
    return fitted([column(k, payment) for k in keys], cells, width, color)


def write_record(record: dict[str, Any], out: TextIO, color: bool, keys: Sequence[str] | None = None) -> None:
    """One record as `label  value` lines, like `khalti show` (empty values left out)."""
    make_console(out, color).print(record_view(record, color, keys, width=screen_width(out)))


def record_view(
    record: dict[str, Any],
    color: bool,
    keys: Sequence[str] | None = None,
    labels: dict[str, str] | None = None,
    width: int | None = None,
) -> Any:
    """The key/value view of one record; without `keys`, every key that has something to say. Free text
    wraps between words; an id, amount or link too long to follow its label goes whole on the next line."""
    from rich.text import Text

    columns: list[Column] = []
    row: list[Any] = []
    for key in keys or [k for k in record if k != "amount_paisa"]:
        value = record.get(key)
        if isinstance(value, dict | list) or (keys is None and value in (None, "", False, 0)):
            continue
        if keys is not None and not human(key, record):  # people views leave empty values out
            continue
        name = (labels or {}).get(key) or label(key, payment="order_id" in record)
        columns.append(Column(name, fixed=key not in FREE_TEXT))
        row.append(Text(human(key, record), style=style(key, record, color)))
    if not columns:
        return Text("")
    return blocks_of(columns, [row], color, width or screen_width(sys.stdout))


def style(key: str, record: dict[str, Any], color: bool) -> str:
    if not color or key != "status":
        return ""
    return STATUS_STYLE.get(str(record.get("status")), "")


def emit(renderable: Any, out: TextIO, color: bool, *, footer: str | None = None) -> None:
    """Print to `out`; on a terminal, text longer than the screen goes through the pager (inside `paged()`,
    it joins the command's page)."""
    from rich.text import Text

    # paged() itself passes the text through when stdout is no terminal, no pager is set or a page is open
    with paged() if out is sys.stdout else nullcontext():
        console = make_console(out, color)
        console.print(renderable)
        if footer:
            console.print(Text(footer))


_PAGE: list[tuple[io.StringIO, int]] = []  # the page being written (inside `paged()`) and its width


@contextmanager
def paged() -> Iterator[None]:
    """Everything printed to stdout inside goes through the pager once, as a whole, when stdout is a
    terminal, a pager is set and the text is longer than the screen; else it is printed as it is."""
    if _PAGE or not _is_terminal(sys.stdout) or pager_command() is None:
        yield
        return
    size = shutil.get_terminal_size()
    buffer = io.StringIO()
    _PAGE.append((buffer, size.columns))
    try:
        yield
    except BaseException:
        _PAGE.pop()
        sys.stdout.write(buffer.getvalue())
        sys.stdout.flush()
        raise
    _PAGE.pop()
    text = buffer.getvalue()
    if text.count("\n") < size.lines - 1 or not page(text):
        sys.stdout.write(text)
        sys.stdout.flush()


def pager_command() -> list[str] | None:
    """KHALTI_PAGER, else PAGER, else `less -FRX`; empty or `cat` means none."""
    value = os.environ.get("KHALTI_PAGER")
    if value is None:
        value = os.environ.get("PAGER", "less -FRX")
    try:
        words = shlex.split(value)
    except ValueError:
        return None
    if not words or words[0] == "cat":
        return None
    return words


def page(text: str) -> bool:
    """Show text through the pager; False when there is none to run."""
    words = pager_command()
    if words is None or shutil.which(words[0]) is None:
        return False
    env = dict(os.environ)
    env.setdefault("LESS", "FRX")
    try:
        proc = subprocess.Popen(words, stdin=subprocess.PIPE, env=env)
        assert proc.stdin is not None
        try:
            proc.stdin.write(text.encode("utf-8", "replace"))
            proc.stdin.close()
        except BrokenPipeError:  # the person quit the pager early
            pass
        proc.wait()
    except OSError:
        return False
    except KeyboardInterrupt:
        proc.wait()
    return True


def _is_terminal(out: TextIO) -> bool:
    if out is not sys.stdout:
        return False
    try:
        return out.isatty()
    except (AttributeError, ValueError):
        return False


def nothing_found() -> None:
    """A table with no rows: said on stderr (a message, not data), so stdout stays empty."""
    sys.stderr.write("No records.\n")
    sys.stderr.flush()


def people_columns(rows: Sequence[dict[str, Any]]) -> Sequence[str] | None:
    """The columns of a table of several records when the command chose none: payment records get the
    compact columns of `khalti list` (not all their keys, empty or not); others keep theirs."""
    if rows and all("order_id" in r and "amount_paisa" in r and "status" in r for r in rows):
        from khalti_cli.services.records import TABLE_COLUMNS

        return TABLE_COLUMNS
    return None
