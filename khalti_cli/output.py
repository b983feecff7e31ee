"""Rendering records: table (people), tsv, csv, json, jsonl (pipelines). stdout carries only data.

JSON never goes through rich (no wrapping, no highlighting); table cells are rich Text, never markup, so
brackets in names survive. CSV cells that a spreadsheet would run as formulas are written as text.
"""

from __future__ import annotations

import csv
import json
import sys
import unicodedata
from collections.abc import Iterable, Iterator, Sequence
from typing import Any, TextIO

FORMATS = ("table", "tsv", "csv", "json", "jsonl")
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


# Bidirectional overrides and isolates can make a terminal show text in another order than it is.
_BIDI = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f\u061c")


def _unsafe(ch: str) -> bool:
    # Cc: C0, DEL, C1 (ESC starts every terminal escape sequence); Cs: lone surrogates; Zl/Zp: U+2028/9.
    return unicodedata.category(ch) in ("Cc", "Cs", "Zl", "Zp") or ch in _BIDI


def printable(text: str, *, newlines: bool = False) -> str:
    """Text that khalti did not write, made safe to show and to store: every control character, escape
    sequence introducer, lone surrogate, line separator and bidi override becomes U+FFFD (a tab or line
    break becomes a space, or stays with newlines=True). The one sanitiser for outside text."""
    if text.isprintable() and text.isascii():
        return text  # the common case, quickly
    out = []
    for ch in text:
        if ch == "\n" and newlines:
            out.append(ch)
        elif ch in "\t\n\r":
            out.append(" ")
        elif _unsafe(ch):
            out.append("\ufffd")
        else:
            out.append(ch)
    return "".join(out)


def resolve_format(fmt: str | None, stdout: TextIO | None = None) -> str:
    if fmt:
        return fmt
    stream = stdout or sys.stdout
    return "table" if _isatty(stream) else "tsv"


def _isatty(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


def cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False, sort_keys=True)
    return str(value)


def tsv_cell(value: Any) -> str:
    text = cell(value)
    return text.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")


def csv_cell(value: Any) -> str:
    text = cell(value)
    # A leading quote makes spreadsheets show the cell as text instead of running it (OWASP advice).
    return "'" + text if text.startswith(_FORMULA_START) else text


def dumps(record: Any) -> str:
    return json.dumps(record, ensure_ascii=False)


def write_records(
    records: Iterable[dict[str, Any]],
    fmt: str,
    *,
    out: TextIO | None = None,
    columns: Sequence[str] | None = None,
    single: bool = False,
    color: bool = True,
    flush: bool = False,
) -> int:
    """Write records in one format; returns how many were written. jsonl/tsv/csv stream row by row; with
    `flush`, each row reaches stdout as it is written (results that arrive one by one, like links)."""
    out = out or sys.stdout
    rows = iter(records)
    count = 0
    if fmt == "jsonl":
        for record in rows:
            out.write(dumps(_pick(record, columns)) + "\n")
            out.flush()
            count += 1
    elif fmt == "json":
        if single:
            for record in rows:
                out.write(json.dumps(_pick(record, columns), ensure_ascii=False, indent=2) + "\n")
                count += 1
        else:
            out.write("[")
            for record in rows:
                out.write(("\n" if count == 0 else ",\n") + "  " + dumps(_pick(record, columns)))
                count += 1
            out.write("\n]\n" if count else "]\n")
    elif fmt in ("tsv", "csv"):
        count = _write_delimited(rows, fmt, out, columns, flush)
    elif fmt == "table":
        count = _write_table(list(rows), out, columns, color)
    else:  # the CLI validates formats; this guards the service callers
        raise ValueError(f"unknown format {fmt!r}")
    return count


def _pick(record: dict[str, Any], columns: Sequence[str] | None) -> dict[str, Any]:
    return record if not columns else {c: record.get(c) for c in columns}


def _header(first: dict[str, Any], columns: Sequence[str] | None) -> list[str]:
    return list(columns) if columns else list(first.keys())


def _write_delimited(
    rows: Iterator[dict[str, Any]], fmt: str, out: TextIO, columns: Sequence[str] | None, flush: bool = False
) -> int:
    first = next(rows, None)
    if first is None:
        if columns:
            _delimited_line(out, fmt, list(columns), header=True)
        return 0
    keys = _header(first, columns)
    _delimited_line(out, fmt, keys, header=True)
    count = 0
    for record in _chain(first, rows):
        _delimited_line(out, fmt, [record.get(k) for k in keys], header=False)
        if flush:
            out.flush()
        count += 1
    return count


def _chain(first: dict[str, Any], rest: Iterator[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    yield first
    yield from rest


def _delimited_line(out: TextIO, fmt: str, values: list[Any], *, header: bool) -> None:
    if fmt == "tsv":
        out.write("\t".join(tsv_cell(v) for v in values) + "\n")
    else:
        writer = csv.writer(out, lineterminator="\r\n")
        writer.writerow([cell(v) if header else csv_cell(v) for v in values])


def make_console(stream: TextIO, color: bool) -> Any:
    from rich.console import Console

    return Console(file=stream, no_color=not color, highlight=False, soft_wrap=False)


def _write_table(rows: list[dict[str, Any]], out: TextIO, columns: Sequence[str] | None, color: bool) -> int:
    from rich.table import Table
    from rich.text import Text

    console = make_console(out, color)
    if not rows:
        console.print(Text("No records."))
        return 0
    keys = _header(rows[0], columns)
    table = Table(show_header=True, header_style="bold" if color else None, box=None, pad_edge=False)
    for key in keys:
        table.add_column(
            key,
            overflow="fold",
            no_wrap=key in ("order_id", "amount", "status"),
            justify="right" if key == "amount" else "left",
        )
    for record in rows:
        table.add_row(*(Text(_table_cell(k, record.get(k)), style=_style(k, record, color)) for k in keys))
    console.print(table)
    return len(rows)


# Timestamps people read in a table: the BS day and local time (Gregorian with KHALTI_CALENDAR=ad).
TIME_KEYS = frozenset(("at", "created_at", "updated_at", "checked_at", "expires_at", "paid_at", "receipt_printed_at"))


def _table_cell(key: str, value: Any) -> str:
    if key in TIME_KEYS and isinstance(value, str):
        from khalti_cli.calendar import stamp_for_people

        return stamp_for_people(value)
    return cell(value)


_STATUS_STYLE = {
    "completed": "green",
    "review": "bold red",
    "failed": "red",
    "pending": "yellow",
    "expired": "dim",
    "canceled": "dim",
    "refunded": "magenta",
    "partially_refunded": "magenta",
}


def _style(key: str, record: dict[str, Any], color: bool) -> str:
    if not color or key != "status":
        return ""
    return _STATUS_STYLE.get(str(record.get("status")), "")


def write_summary(data: dict[str, Any], fmt: str | None, line: str | None) -> None:
    """A run's summary on stdout: one JSON object (json), one record with nested values as JSON text
    (tsv, csv), or else the line (None: print nothing)."""
    if fmt == "json":
        sys.stdout.write(dumps(data) + "\n")
    elif fmt in ("tsv", "csv"):
        write_records([{k: dumps(v) if isinstance(v, dict) else v for k, v in data.items()}], fmt)
    elif line is not None:
        sys.stdout.write(line + "\n")
