"""Issue 8, input: what a hostile or unlucky import file, name or date does is refused with exit 3 and a
sentence naming where, never mis-stored and never exit 1. Each class is generated (hypothesis with
derandomize=True, or a seeded generator), beyond the issue's own example:

- a JSON Lines key given twice, or two keys naming one column (`amount`/`Amount`), is a bad row, in
  `import` and `payers import`; JSON nested deeper than Python parses is a bad row;
- line and paragraph separators and every control or format character are refused in every text field;
- a line (or a CSV row) longer than 65,536 characters is refused, naming its line, with bounded memory;
- bytes that are not UTF-8 are reported on their own line;
- a date option khalti cannot compute with is refused with exit 3 (not a date at all: exit 2).

`python -m pytest -q -n 0 -s tests/test_hostile_input.py` prints how many cases each class tried.
"""

from __future__ import annotations

import json
import random
import subprocess
import sys
import unicodedata
from datetime import date, timedelta
from pathlib import Path

import pytest
from conftest import Cli, Run, khalti_exe
from generated_cases import PROPERTY, Tally
from hypothesis import example, given, settings
from hypothesis import strategies as st

from khalti_cli.errors import InvalidInput
from khalti_cli.services import validate

tried = Tally("input cases tried")  # cases tried per class, for the README's figures


def refused(run: Run, code: int = 3) -> None:
    assert run.exit_code == code, (run.exit_code, run.stderr)
    assert "Error: " in run.stderr and "Traceback" not in run.stderr, run.stderr


def nothing_stored(cli: Cli) -> None:
    assert cli("list", "--format", "jsonl").stdout == ""
    assert cli("payers", "list", "--format", "jsonl").stdout == ""


# --- 3. JSON Lines keys -----------------------------------------------------------------------------------

PAYMENT_ROW = {"amount": "1000", "name": "Tuition", "order_id": "J-1", "customer_name": "Sita", "payer": None}
PAYER_ROW = {"reference": "S-1", "name": "Sita", "group": "Grade 5", "phone": "9800000001"}


def variants(key: str) -> st.SearchStrategy[str]:
    """Other spellings of the same column: the key again, other case, spaces or dashes for underscores."""
    return st.builds(
        lambda flips, sep: "".join(c.upper() if f else c for c, f in zip(key, flips, strict=False)).replace("_", sep),
        st.lists(st.booleans(), min_size=len(key), max_size=len(key)),
        st.sampled_from(["_", " ", "-"]),
    )


@st.composite
def doubled_rows(draw: st.DrawFn, row: dict[str, str | None], aliases: dict[str, list[str]]) -> tuple[str, str]:
    """A JSON object text with one column given twice (the second value different), and the column."""
    column = draw(st.sampled_from(sorted(k for k, v in row.items() if v is not None)))
    spelling = draw(st.one_of(variants(column), st.sampled_from([column, *aliases.get(column, [])])))
    pairs = [(k, v) for k, v in row.items() if v is not None]
    at = draw(st.integers(0, len(pairs)))
    pairs.insert(at, (spelling, "99999"))
    text = "{" + ", ".join(f"{json.dumps(k)}: {json.dumps(v)}" for k, v in pairs) + "}"
    return text, column


@settings(PROPERTY, max_examples=30)
@given(case=doubled_rows(PAYMENT_ROW, {"payer": ["payer_ref", "Payer-Reference"]}))
@example(case=('{"amount": "1000", "name": "Tuition", "order_id": "J-1", "Amount": "99999"}', "amount"))
@example(case=('{"amount": "1000", "name": "Tuition", "order_id": "J-1", "amount": "99999"}', "amount"))
def test_a_column_given_twice_in_json_lines_is_a_bad_row(cli: Cli, isolated: Path, case: tuple[str, str]) -> None:
    """`{"amount": "1000", ..., "Amount": "99999"}` used to import 99999 (the last key won)."""
    tried("JSON Lines: a column given twice (import)")
    text, column = case
    (isolated / "fees.jsonl").write_text('{"amount": "10", "name": "Good", "order_id": "J-0"}\n' + text + "\n")
    run = cli("import", "fees.jsonl")
    refused(run)
    assert f"line 2, column {column}:" in run.stderr, run.stderr
    nothing_stored(cli)


@settings(PROPERTY, max_examples=20)
@given(case=doubled_rows(PAYER_ROW, {"group": ["class", "Class Group"], "reference": ["student_id", "payer"]}))
def test_a_column_given_twice_in_payers_json_lines_is_a_bad_row(
    cli: Cli, isolated: Path, case: tuple[str, str]
) -> None:
    tried("JSON Lines: a column given twice (payers import)")
    text, column = case
    (isolated / "payers.jsonl").write_text(text + "\n")
    run = cli("payers", "import", "payers.jsonl")
    refused(run)
    assert "line 1" in run.stderr and column in run.stderr, run.stderr
    nothing_stored(cli)


@settings(PROPERTY, max_examples=10)
@given(depth=st.integers(1_000, 30_000), opener=st.sampled_from(["[", '{"a":', '{"amount":[']))
@example(depth=60_000, opener="[")
def test_deeply_nested_json_lines_are_a_bad_row(cli: Cli, isolated: Path, depth: int, opener: str) -> None:
    """Nested deeper than Python's parser goes: a bad row (exit 3), not RecursionError (exit 1); deeper
    than a row may be long: the file is refused (exit 3)."""
    tried("JSON Lines: deep nesting")
    text = (opener * depth)[:65_000]
    (isolated / "deep.jsonl").write_text('{"amount": "10", "name": "Good"}\n' + text + "\n")
    for args in (["import", "deep.jsonl"], ["payers", "import", "deep.jsonl"]):
        run = cli(*args)
        refused(run)
        assert "line 2" in run.stderr, run.stderr
    nothing_stored(cli)


# --- 6. separators and control characters in text ---------------------------------------------------------

REFUSED_CHARS = [
    chr(c)
    for c in range(sys.maxunicode + 1)
    if unicodedata.category(chr(c)) in ("Cc", "Cf", "Zl", "Zp") and chr(c) not in "\u200c\u200d"
]


@settings(PROPERTY, max_examples=600)
@given(
    head=st.text(st.characters(categories=["L", "M", "N", "P", "S"]), min_size=1, max_size=20),
    bad=st.sampled_from(REFUSED_CHARS),
    tail=st.text(st.characters(categories=["L", "M", "N", "P", "S"]), min_size=1, max_size=20),
)
@example(head="Sita", bad="\u2028", tail="Sharma")
@example(head="Sita", bad="\u2029", tail="Sharma")
@example(head="Sita", bad="\u0085", tail="Sharma")
@example(head="Sita", bad="\u202e", tail="Sharma")
def test_every_separator_and_control_character_is_refused_in_text(head: str, bad: str, tail: str) -> None:
    """Every character of Unicode categories Cc, Cf, Zl and Zp (but ZWJ/ZWNJ) inside a field: refused."""
    tried("text: a refused character inside (validate.text)")
    with pytest.raises(InvalidInput, match="control character"):
        validate.text(head + bad + tail, "name")


@settings(PROPERTY, max_examples=16)
@given(bad=st.sampled_from(["\u2028", "\u2029", "\u0085", "\u000b", "\u000c", "\u001e", "\u202e", "\ufeff"]))
def test_separators_are_refused_by_every_command_that_stores_text(cli: Cli, isolated: Path, bad: str) -> None:
    tried("text: refused characters through the commands", 4)
    name = f"Sita{bad}Sharma"
    refused(cli("create", "--amount", "100", "--name", name))
    refused(cli("create", "--amount", "100", "--name", "Fee", "--customer-name", name))
    refused(cli("payers", "add", "S-1", "--name", name))
    (isolated / "p.jsonl").write_text(json.dumps({"reference": "S-2", "name": name}) + "\n")
    refused(cli("payers", "import", "p.jsonl"))
    nothing_stored(cli)


def test_devanagari_joiners_are_kept(cli: Cli) -> None:
    name = "श्\u200dरी र\u200cाम"
    assert cli("create", "--amount", "100", "--name", name, "--order-id", "N-1").exit_code == 0
    assert cli("show", "N-1", "--format", "json").json()["name"] == name


# --- 6. rows are bounded; bad bytes are named on their line -----------------------------------------------


def test_a_file_without_line_breaks_is_refused_with_bounded_memory(isolated: Path) -> None:
    """`khalti import /dev/zero` used to read until memory ran out. Now: exit 3 at once, line 1 named.
    Run as a real process with its address space capped at 400 MB."""
    for args in (["import", "/dev/zero"], ["payers", "import", "/dev/zero"]):
        tried("long lines: /dev/zero")
        code = (
            "import resource, sys; resource.setrlimit(resource.RLIMIT_AS, (400 << 20, 400 << 20)); "
            "from khalti_cli.cli.app import main; sys.argv = ['khalti', *sys.argv[1:]]; main()"
        )
        proc = subprocess.run(
            [sys.executable, "-c", code, *args], capture_output=True, text=True, timeout=60, check=False
        )
        assert proc.returncode == 3, proc.stderr
        assert "Line 1 is longer than 65,536 characters" in proc.stderr
    assert khalti_exe()


@settings(PROPERTY, max_examples=16)
@given(
    fmt=st.sampled_from(["csv", "jsonl"]),
    command=st.sampled_from(["import", "payers import"]),
    good=st.integers(0, 300),
    extra=st.integers(1, 200_000),
    ending=st.sampled_from(["\n", "\r\n", ""]),
)
def test_a_line_longer_than_the_cap_is_named(
    cli: Cli, isolated: Path, fmt: str, command: str, good: int, extra: int, ending: str
) -> None:
    tried("long lines: generated files")
    payers = command == "payers import"
    header = "reference,name\n" if payers else "amount,name\n"
    row = (lambda i: f"R-{i},Name\n") if payers else (lambda i: f"10,Fee {i}\n")
    if fmt == "jsonl":
        header = ""
        row = (
            (lambda i: json.dumps({"reference": f"R-{i}", "name": "N"}) + "\n")
            if payers
            else (lambda i: json.dumps({"amount": "10", "name": f"Fee {i}"}) + "\n")
        )
    long_line = "x" * (65_536 + extra) + ending
    text = header + "".join(row(i) for i in range(good)) + long_line + row(good + 1)
    path = isolated / f"big.{fmt}"
    path.write_text(text)
    run = cli(*command.split(), str(path))
    refused(run)
    line = good + 1 + (1 if fmt == "csv" else 0)
    assert f"Line {line} is longer than 65,536 characters" in run.stderr, run.stderr
    nothing_stored(cli)


def test_a_csv_row_of_many_short_quoted_lines_is_capped_too(cli: Cli, isolated: Path) -> None:
    tried("long lines: a quoted multi-line CSV row")
    cell = "\n".join(["y" * 60] * 2000)
    (isolated / "q.csv").write_text(f'amount,name\n10,Fee\n10,"{cell}"\n')
    run = cli("import", "q.csv")
    refused(run)
    assert "The row that starts on line 3 (at line" in run.stderr, run.stderr


@settings(PROPERTY, max_examples=20)
@given(
    before=st.integers(0, 3000),
    bad=st.sampled_from([b"caf\xe9", b"\xff\xfe", b"na\xefve", b"\x80", b"\xe0\xa4"]),
    crlf=st.booleans(),
)
@example(before=0, bad=b"caf\xe9", crlf=False)
def test_bytes_that_are_not_utf8_are_named_on_their_line(
    cli: Cli, isolated: Path, before: int, bad: bytes, crlf: bool
) -> None:
    """A Latin-1 CSV used to be reported "after line 0" (the decoder reads 8 KB ahead): now its own line."""
    tried("not UTF-8: generated files")
    nl = b"\r\n" if crlf else b"\n"
    rows = b"".join(b"10,Fee %d" % i + nl for i in range(before))
    (isolated / "latin.csv").write_bytes(b"amount,name" + nl + rows + b"10," + bad + nl + b"10,Fee" + nl)
    run = cli("import", "latin.csv")
    refused(run)
    assert f"Line {before + 2} is not UTF-8 text" in run.stderr, run.stderr
    nothing_stored(cli)


# --- 7. dates khalti cannot compute with ------------------------------------------------------------------


@st.composite
def dates(draw: st.DrawFn) -> str:
    day = draw(st.one_of(st.dates(), st.sampled_from([date.min, date.max, date.max - timedelta(days=1)])))
    if draw(st.booleans()):
        # a bare day of year 2060 or later is a BS date (contract, "The Nepali school year"); `ad:` forces
        # Gregorian, so the Gregorian extremes (and their overflow) stay covered
        return draw(st.sampled_from(["", "ad:"])) + day.isoformat()
    offset = draw(st.sampled_from(["", "Z", "+05:45", "-12:00", "+14:00"]))
    return f"{day.isoformat()}T{draw(st.sampled_from(['00:00:00', '23:59:59']))}{offset}"


OVERFLOW = "outside the dates khalti can work with"
BS_REFUSALS = ("outside the Nepali calendar data", "; there is no day ")


def refusals(value: str) -> tuple[str, ...]:
    """The sentences a refusal of `value` may give: a bare day of year 2060 or later is read as BS (refused
    outside the calendar data, or past the BS month's last day); anything else is Gregorian (refused only
    when the moment overflows)."""
    if ":" not in value and "T" not in value and int(value[:4]) >= 2060:
        return BS_REFUSALS
    return (OVERFLOW,)


@settings(PROPERTY, max_examples=500)
@given(value=dates(), end=st.booleans())
@example(value="9999-12-31", end=True)
@example(value="ad:9999-12-31", end=True)
@example(value="0001-01-01", end=False)
@example(value="ad:0001-01-01", end=False)
def test_parse_date_never_overflows(value: str, end: bool) -> None:
    """Every date from 0001-01-01 to 9999-12-31 (a day, `ad:` forced or not, or a time with any offset): a UTC
    moment, or InvalidInput (exit 3) with the sentence for it (a BS day outside the calendar data, or a
    Gregorian moment past the dates khalti can work with), never OverflowError."""
    import typer

    from khalti_cli.cli.options import parse_date

    tried("dates: parse_date")
    try:
        out = parse_date(value, "--until" if end else "--since", end=end)
    except InvalidInput as exc:
        assert any(sentence in str(exc) for sentence in refusals(value)), (value, str(exc))
    except typer.BadParameter:
        pytest.fail(f"{value!r} is a date")
    else:
        assert out is not None and out.endswith("+00:00")


@settings(PROPERTY, max_examples=12)
@given(value=dates(), command=st.sampled_from(["list", "report"]), option=st.sampled_from(["--since", "--until"]))
@example(value="9999-12-31", command="list", option="--until")
@example(value="9999-12-31", command="report", option="--until")
@example(value="ad:9999-12-31", command="list", option="--until")
@example(value="ad:9999-12-31", command="report", option="--until")
def test_date_options_never_exit_1(cli: Cli, value: str, command: str, option: str) -> None:
    tried("dates: list and report")
    run = cli(command, option, value)
    assert run.exit_code in (0, 3), (value, run.exit_code, run.stderr)
    if value in ("9999-12-31", "ad:9999-12-31") and option == "--until":
        # BS year 9999 has no calendar data; Gregorian 9999-12-31 has no day after it (--until is inclusive)
        refused(run)
        assert any(sentence in run.stderr for sentence in refusals(value)), (value, run.stderr)


def test_seeded_random_dates_through_the_installed_program(run_khalti: object) -> None:
    """A few extreme dates through the real program (the contract as users see it)."""
    rng = random.Random(8)
    extremes = [
        "9999-12-31",
        "ad:9999-12-31",
        "0001-01-01",
        "ad:0001-01-01",
        "9999-12-31T23:59:59-12:00",
        "0001-01-01T00:00:00+14:00",
    ]
    for value in [*extremes, *(f"{rng.randint(1, 9999):04d}-01-01" for _ in range(4))]:
        tried("dates: installed program")
        run = run_khalti("list", "--until", value)  # type: ignore[operator]
        assert run.exit_code in (0, 3) and "Traceback" not in run.stderr, (value, run.stderr)


def test_figures(capsys: pytest.CaptureFixture[str]) -> None:
    """Prints how many cases this file tried (run the whole file with -n 0; -s shows it)."""
    with capsys.disabled():
        print(tried.line())
