"""Hostile input: property tests on amounts, order ids, names and command arguments through the CLI, and
damaged, foreign, read-only, full and too-new database files. Every input is either accepted and comes
back exactly (after the documented trimming and NFC normalisation of text) or refused with exit 3 and a
message; never a traceback or exit 1. A bad database file gives a clear error and is left byte-for-byte
as it was. Files holding customer data are private (0600).

    python -m pytest -q -n 0 -s tests/test_hostile.py   # -n 0 -s: one process, so the printed counts show
"""

from __future__ import annotations

import contextlib
import csv
import hashlib
import io
import os
import re
import resource
import shutil
import signal
import sqlite3
import stat
import subprocess
import tempfile
import unicodedata
from collections.abc import Iterator
from itertools import count
from pathlib import Path
from typing import Any

import pytest
from conftest import TEST_KEY, Cli, Run, khalti_exe
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from requires import require_binary, require_capability
from store_checks import assert_no_key, db_files, events, snapshot

from khalti_cli.sandbox import SandboxServer

PROPERTY = settings(
    max_examples=80, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
TRIED: dict[str, int] = {}  # inputs tried per property, for the README's figures
_ids = count()


def tried(name: str) -> None:
    TRIED[name] = TRIED.get(name, 0) + 1


def refused_cleanly(run: Run) -> bool:
    """Exit 3 with a one-line-ish message, no traceback."""
    return run.exit_code == 3 and run.stderr.startswith("Error: ") and "Traceback" not in run.stderr


def never_a_bug(run: Run) -> None:
    assert run.exit_code != 1, run.stderr
    assert "Traceback" not in run.stderr and "unexpected problem" not in run.stderr, run.stderr
    if run.exit_code != 0:
        assert run.stderr.strip(), "a failure must say why"


def new_id() -> str:
    return f"H-{next(_ids)}"


def stored_payments() -> int:
    """How many payments the database in the current directory holds (0 before it exists)."""
    db = Path.cwd() / "khalti.db"
    if not db.exists():
        return 0
    with contextlib.closing(sqlite3.connect(str(db))) as conn:
        return int(conn.execute("SELECT count(*) FROM payments").fetchone()[0])


# --- amounts ----------------------------------------------------------------------------------------------

DEVANAGARI = str.maketrans("0123456789", "०१२३४५६७८९")


def grouped(rupees: int, style: str) -> str:
    digits = str(rupees)
    if style == "western":
        return f"{rupees:,}"
    if style == "nepali" and len(digits) > 3:
        head, tail = digits[:-3], digits[-3:]
        pairs = []
        while len(head) > 2:
            head, pairs = head[:-2], [head[-2:], *pairs]
        return ",".join([head, *pairs, tail])
    return digits


@st.composite
def amounts(draw: Any) -> tuple[str, int | None]:
    """(text as typed, paisa it means or None when it must be refused): an oracle independent of money.py."""
    rupees = draw(st.one_of(st.integers(0, 20), st.integers(0, 10**6), st.integers(0, 10**15)))
    style = draw(st.sampled_from(["plain", "western", "nepali"]))
    decimals = draw(st.one_of(st.none(), st.text("0123456789", max_size=4)))
    decoration = draw(st.sampled_from(["", "", "", "spaces", "devanagari", "+", "-", "e2", "Rs ", "nan"]))
    text = grouped(rupees, style) + ("" if decimals is None else "." + decimals)
    valid = decimals is None or len(decimals) <= 2
    paisa = rupees * 100 + (int((decimals or "").ljust(2, "0")) if valid else 0)
    if decoration == "spaces":
        text = f"  {text} "
    elif decoration == "devanagari":
        text = text.translate(DEVANAGARI)
    elif decoration in ("+", "-", "Rs "):
        text, valid = decoration + text, False
    elif decoration == "e2":
        text, valid = text + "e2", False
    elif decoration == "nan":
        text, valid = "nan", False
    valid = valid and 1000 <= paisa <= 10**13
    return text, paisa if valid else None


@PROPERTY
@given(case=amounts())
@example(case=("1,500.50", 150050))
@example(case=("15,00,000", 150000000))
@example(case=("१५००", 150000))
@example(case=("10", 1000))
@example(case=("9.99", None))
@example(case=("1500.505", None))
@example(case=("", None))
@example(case=("inf", None))
@example(case=("1e3", None))
@example(case=("1,50,0", None))
@example(case=("0x10", None))
@example(case=("١٥٠٠", None))  # Arabic-Indic digits are not rupees
def test_amounts_round_trip_or_are_refused(cli: Cli, case: tuple[str, int | None]) -> None:
    text, paisa = case
    tried("amounts")
    order_id = new_id()
    run = cli("create", "--amount", text, "--name", "Fee", "--order-id", order_id)
    never_a_bug(run)
    if paisa is None:
        assert refused_cleanly(run) and "amount" in run.stderr.lower(), (text, run.stderr)
        assert cli("show", order_id).exit_code == 3  # nothing was stored
        return
    assert run.exit_code == 0, (text, run.stderr)
    shown = cli("show", order_id, "--format", "json").json()
    assert shown["amount_paisa"] == paisa
    assert shown["amount"] == f"{paisa // 100}.{paisa % 100:02d}"


@PROPERTY
@given(text=st.text(max_size=40))
def test_any_amount_text_is_a_number_or_refused(cli: Cli, text: str) -> None:
    tried("amounts")
    order_id = new_id()
    run = cli("create", "--amount", text, "--name", "Fee", "--order-id", order_id)
    never_a_bug(run)
    if run.exit_code == 0:
        shown = cli("show", order_id, "--format", "json").json()
        assert isinstance(shown["amount_paisa"], int) and 1000 <= shown["amount_paisa"] <= 10**13
        ascii_digits = text.strip().translate(str.maketrans("०१२३४५६७८९", "0123456789")).replace(",", "")
        rupees, _, frac = ascii_digits.partition(".")
        assert shown["amount_paisa"] == int(rupees) * 100 + int(frac.ljust(2, "0"))
    else:
        assert refused_cleanly(run), run.stderr


# --- order ids --------------------------------------------------------------------------------------------


@PROPERTY
@given(order_id=st.one_of(st.from_regex(r"\A[A-Za-z0-9][A-Za-z0-9._:/#-]{0,63}\Z"), st.text(max_size=80)))
@example(order_id="../../etc/passwd")
@example(order_id="A" * 64)
@example(order_id="A" * 65)
@example(order_id='=HYPERLINK("x")')
@example(order_id="-rf")
@example(order_id="Robert'); DROP TABLE payments;--")
def test_order_ids_round_trip_or_are_refused(cli: Cli, order_id: str) -> None:
    tried("order ids")
    before = stored_payments()
    run = cli("create", "--amount", "1000", "--name", "Fee", "--order-id", order_id)
    never_a_bug(run)
    wanted = order_id.strip()
    if run.exit_code != 0:
        assert refused_cleanly(run), run.stderr
        assert stored_payments() == before  # nothing stored
        return
    if not wanted:  # no id given: khalti made one up
        assert run.stdout.startswith("KH-")
        return
    assert run.stdout == wanted + "\n"
    shown = cli("show", wanted, "--format", "json")
    assert shown.exit_code == 0 and shown.json()["order_id"] == wanted
    again = cli("create", "--amount", "2000", "--name", "Other", "--order-id", order_id)
    assert refused_cleanly(again) and "already exists" in again.stderr
    assert cli("show", wanted, "--format", "json").json()["amount_paisa"] == 100000  # not overwritten


# --- names and other text -----------------------------------------------------------------------------------

NEPALI = "कखगघङचछजझञटठडढणतथदधनपफबभमयरलवशषसहािीुूृेैोौंःँ्०१२३४५६७८९।क्षत्रज्ञ"
PUNCTUATION = "[](){}<>,;:'\"`\\/|!?@#$%^&*=+-_~. "
EMOJI = ["😀", "👍🏽", "👨\u200d👩\u200d👧", "🇳🇵", "❤️", "\u200c", "\u200d"]
CONTROL = list("\x00\x01\x07\x08\t\n\r\x1b\x7f\x85\u200b\u200e\u202e\u2066\ufeff")
SURROGATES = ["\udcff", "\ud800"]  # what undecodable bytes in argv become
pieces = st.sampled_from([*NEPALI, *PUNCTUATION, *EMOJI, *CONTROL, *SURROGATES]) | st.characters()
names = st.one_of(
    st.lists(pieces, max_size=60).map("".join),
    st.lists(st.sampled_from([*NEPALI, *EMOJI, "[b]", "[/]", ", ", '"', "'"]), max_size=60).map("".join),
    st.builds(lambda piece, n: piece * n, st.sampled_from(["क", "a", "😀", "[x]"]), st.integers(150, 50_000)),
)


def is_acceptable(text: str, limit: int) -> bool:
    value = unicodedata.normalize("NFC", text.strip())
    bad = any(unicodedata.category(c) in ("Cc", "Cf", "Cs") and c not in "\u200c\u200d" for c in value)
    return bool(value) and not bad and len(value) <= limit


@PROPERTY
@given(name=names)
@example(name="कक्षा ५ को शुल्क, मंसिर")
@example(name="[bold red]Grade 5[/] fee")
@example(name='"Tuition", Grade 5; =1+2')
@example(name="👨\u200d👩\u200d👧 family fee 🇳🇵")
@example(name="line\nbreak")
@example(name="right-to-left \u202e override")
@example(name="क" * 200)
@example(name="क" * 201)
@example(name="  padded  ")
@example(name="a\udcffb")
def test_names_round_trip_or_are_refused(cli: Cli, name: str) -> None:
    tried("names")
    order_id = new_id()
    run = cli(
        "create",
        "--amount",
        "1000",
        "--name",
        name,
        "--order-id",
        order_id,
        "--customer-name",
        name,
        "--reference",
        name[:100],
    )
    never_a_bug(run)
    if not (is_acceptable(name, 200) and is_acceptable(name[:100], 100)):
        assert refused_cleanly(run), (name[:80], run.stderr)
        assert cli("show", order_id).exit_code == 3  # nothing stored
        return
    assert run.exit_code == 0, (name[:80], run.stderr)
    shown = cli("show", order_id, "--format", "json").json()
    assert shown["name"] == shown["customer_name"] == unicodedata.normalize("NFC", name.strip())
    assert shown["reference"] == unicodedata.normalize("NFC", name[:100].strip())
    listed = cli("list", "--reference", shown["reference"], "--format", "jsonl")
    assert listed.jsonl()[0]["name"] == shown["name"]
    # Every character survives rendering: rich markup is not interpreted, csv quoting reads back exactly.
    table = cli("show", order_id, "--format", "table", env={"COLUMNS": "1000"})  # wide: no folding
    assert table.exit_code == 0 and shown["name"] in table.stdout, (shown["name"][:80], table.stdout[:400])
    sheet = cli("show", order_id, "--format", "csv")
    assert sheet.exit_code == 0
    header, row = list(csv.reader(io.StringIO(sheet.stdout, newline="")))
    as_text = "'" + shown["name"] if shown["name"].startswith(("=", "+", "-", "@")) else shown["name"]
    assert row[header.index("name")] == row[header.index("customer_name")] == as_text


# --- any command, any argument ----------------------------------------------------------------------------

# Every value here meets every template below (a full cross product, not a sample of pairs).
HOSTILE_VALUES = [
    "",
    "-",
    "--",
    "-1",
    "0",
    "99999999999999999999",
    "9223372036854775808",  # 2**63: one past SQLite's largest integer
    "-9223372036854775809",
    "1000000001",
    "1e309",
    "nan",
    "2026-13-45",
    "now",
    "../x",
    "/dev/null",
    "%s%n",
    "{}",
    "[]",
    "a\udcffb",
    "😀",
    "क",
    "--help",
    "-v",
]
TEMPLATES = [
    ["show", "{}"],
    ["history", "{}"],
    ["lookup", "{}"],
    ["initiate", "{}"],
    ["refund", "{}", "--yes"],
    ["refund", "EXISTS", "--amount", "{}", "--yes"],
    ["refund", "EXISTS", "--mobile", "{}", "--yes"],
    ["list", "--status", "{}"],
    ["list", "--since", "{}"],
    ["list", "--until", "{}"],
    ["list", "--limit", "{}"],
    ["list", "--reference", "{}"],
    ["list", "--columns", "{}"],
    ["list", "--format", "{}"],
    ["show", "EXISTS", "--format", "{}"],
    ["reconcile", "--older-than", "{}"],
    ["reconcile", "--limit", "{}"],
    ["reconcile", "--max-time", "{}"],
    ["reconcile", "--concurrency", "{}"],
    ["reconcile", "--rate", "{}"],
    ["initiate", "NOPE", "--wait", "--wait-timeout", "{}"],  # an unknown id: an in-range value exits 3
    ["initiate", "NOPE", "--wait", "--interval", "{}"],
    ["import", "-", "--initiate", "--concurrency", "{}"],
    ["create", "--amount", "1000", "--name", "x", "--customer-email", "{}"],
    ["create", "--amount", "1000", "--name", "x", "--customer-phone", "{}"],
    ["--env", "{}", "list"],
    ["import", "{}"],
    ["{}"],
    ["list", "{}"],
]
STORED_AS = {"--customer-email": "customer_email", "--customer-phone": "customer_phone"}


def whole_database(db: Path) -> dict[str, Any]:
    """Every row of payments, links and events."""
    snap: dict[str, Any] = snapshot(db)
    snap["events"] = events(db)
    return snap


def check_command_line(
    cli: Cli, db: Path, template: list[str], value: str, before: dict[str, Any] | None = None
) -> dict[str, Any]:
    """One hostile command line: never a bug; a refusal (exit 2, 3 or 4) says why and changes nothing; a
    success stores the value exactly (trimmed, NFC) or, for commands that only read, changes nothing.
    `before`: the database as the previous check left it (read again if not given). Returns it as it is now."""
    tried("command arguments")
    if before is None:
        before = whole_database(db) if db.exists() else {"payments": {}}
    if "EXISTS" not in before["payments"]:
        assert cli("create", "--amount", "1000", "--name", "Fee", "--order-id", "EXISTS").exit_code == 0
        before = whole_database(db)
    args = [value if part == "{}" else part for part in template]
    run = cli(*args)
    never_a_bug(run)
    assert run.exit_code in (0, 2, 3, 4), (args, run.exit_code, run.stderr)
    if run.exit_code != 0:
        assert re.search(r"Error: \S", run.stderr), (args, run.stderr)  # a sentence saying what is wrong
    assert_no_key(run.stdout, run.stderr)
    after = whole_database(db)
    field = next((STORED_AS[part] for part in template if part in STORED_AS), None)
    if field is None or run.exit_code != 0:
        assert after == before, args  # nothing stored, nothing changed: whole rows compared
        return after
    (new,) = set(after["payments"]) - set(before["payments"])
    stripped = value.strip()
    assert after["payments"][new][field] == (unicodedata.normalize("NFC", stripped) if stripped else None), args
    assert {k: v for k, v in after["payments"].items() if k != new} == before["payments"]
    return after


@pytest.mark.parametrize("template", TEMPLATES, ids=" ".join)
def test_every_hostile_value_in_every_template(
    cli: Cli, configured: SandboxServer, isolated: Path, template: list[str]
) -> None:
    now = None
    for value in HOSTILE_VALUES:
        now = check_command_line(cli, isolated / "khalti.db", template, value, now)


@settings(PROPERTY, max_examples=60)
@given(template=st.sampled_from(TEMPLATES), value=st.text(max_size=30).filter(lambda v: "\x00" not in v))
def test_any_text_in_any_template(cli: Cli, configured: SandboxServer, template: list[str], value: str) -> None:
    """Random text in random templates (no program's argv can hold a NUL byte)."""
    check_command_line(cli, Path.cwd() / "khalti.db", template, value)


def integer_options() -> list[tuple[list[str], Any, list[str]]]:
    """(command path, the click option, arguments that fill the command's other required parameters) for
    every integer option of every command."""
    import typer.main
    from typer import _click as click  # typer vendors Click

    from khalti_cli.cli.app import app

    found: list[tuple[list[str], Any, list[str]]] = []

    def walk(command: Any, path: list[str]) -> None:
        for param in command.params:
            if isinstance(param.type, click.types.IntParamType) and not getattr(param, "count", False):
                filled: list[str] = []
                for other in command.params:
                    if other is not param and other.required:
                        filled += [other.opts[0], "x"] if other.param_type_name == "option" else ["x"]
                found.append((path, param, filled))
        for name, sub in getattr(command, "commands", {}).items():
            walk(sub, [*path, name])

    walk(typer.main.get_command(app), [])
    return found


def test_every_integer_option_has_a_range() -> None:
    """So an out-of-range number is a usage error, never an overflow deeper down (SQLite, timedelta)."""
    options = integer_options()
    assert len(options) >= 8
    for path, param, _ in options:
        assert param.type.min is not None and param.type.max is not None, (path, param.opts)
        assert param.type.max < 2**63, (path, param.opts)


@pytest.mark.parametrize("how", ["below", "above", "2**63", "10**20", "-(2**63)-1"])
def test_every_integer_option_refuses_out_of_range(cli: Cli, isolated: Path, how: str) -> None:
    for path, param, filled in integer_options():
        value = {
            "below": param.type.min - 1,
            "above": param.type.max + 1,
            "2**63": 2**63,
            "10**20": 10**20,
            "-(2**63)-1": -(2**63) - 1,
        }[how]
        tried("command arguments")
        run = cli(*path, param.opts[0], str(value), *filled)
        assert run.exit_code == 2, (path, param.opts, value, run.stderr)
        assert "is not in the range" in run.stderr and param.opts[0] in run.stderr, run.stderr
    assert not (isolated / "khalti.db").exists()  # refused before anything was opened


def test_invalid_utf8_arguments_and_input_from_a_real_shell(run_khalti: Any, isolated: Path) -> None:
    """Bytes that are not UTF-8 (a mis-set terminal) arrive as lone surrogates: refused, not a crash."""
    for args in (["create", "--amount", "1000", "--name", "fee\udcff"], ["list", "--reference", "\udcff"]):
        proc = subprocess.run([*khalti_exe(), *args], capture_output=True, env=dict(os.environ))
        assert proc.returncode == 3, proc.stderr
        assert b"UTF-8" in proc.stderr and b"Traceback" not in proc.stderr
    proc = subprocess.run([*khalti_exe(), "lookup", "-"], input=b"A\xff\n", capture_output=True)
    assert proc.returncode == 3 and b"Traceback" not in proc.stderr
    bad = isolated / "bad.jsonl"
    bad.write_text('{"amount": "1000", "name": "A\\udcffB"}\n')
    run = run_khalti("import", str(bad))
    assert run.exit_code == 3 and "line 1" in run.stderr
    assert run_khalti("list", "--format", "json").stdout.strip() == "[]"


# --- database files -----------------------------------------------------------------------------------------

COMMANDS = [
    ["list"],
    ["show", "A1"],
    ["history", "A1"],
    ["create", "--amount", "1000", "--name", "B"],
    ["reconcile"],
    ["lookup", "A1"],
    ["initiate", "A1"],
    ["refund", "A1", "--yes"],
    ["import", "fees.csv"],
    ["backup", "copy.db"],
]


def digest(paths: list[Path]) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in paths if p.is_file()}


@pytest.fixture
def good_db(cli: Cli, isolated: Path, configured: SandboxServer) -> Path:
    assert cli("create", "--amount", "1000", "--name", "A", "--order-id", "A1").exit_code == 0
    (isolated / "fees.csv").write_text("amount,name\n1000,Fee\n")
    db = isolated / "khalti.db"
    with contextlib.closing(sqlite3.connect(str(db))) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return db


def damage(db: Path, how: str) -> None:
    data = bytearray(db.read_bytes())
    if how == "garbage-pages":
        data[100:4096] = b"\xff" * (4096 - 100)  # the schema page
    elif how == "truncated":
        data = data[: len(data) // 3]
    elif how == "zeroed-header":
        data[:100] = bytes(100)
    elif how == "text-file":
        data = bytearray(b"order_id,amount\nA1,1000\n" * 50)
    elif how == "other-program":
        db.unlink()
        with contextlib.closing(sqlite3.connect(str(db))) as conn:
            conn.execute("CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT)")
            conn.execute("INSERT INTO customers (name) VALUES ('someone')")
            conn.commit()
        return
    elif how == "newer-schema":
        with contextlib.closing(sqlite3.connect(str(db))) as conn:
            conn.execute("PRAGMA user_version = 99")
            conn.commit()
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        return
    db.write_bytes(bytes(data))


@pytest.mark.parametrize(
    "how", ["garbage-pages", "truncated", "zeroed-header", "text-file", "other-program", "newer-schema"]
)
def test_a_bad_database_file_is_refused_and_left_alone(cli: Cli, good_db: Path, isolated: Path, how: str) -> None:
    damage(good_db, how)
    before = digest([good_db])
    for args in COMMANDS:
        tried("bad database files")
        run = cli(*args)
        never_a_bug(run)
        if args[0] == "backup" and how in ("other-program", "newer-schema"):
            assert run.exit_code == 0  # a sound SQLite file is copied as it is; the original is untouched
            (isolated / "copy.db").unlink()
        else:
            assert run.exit_code == 4, (how, args, run.exit_code, run.stderr)
            assert str(good_db) in run.stderr or "khalti database" in run.stderr, run.stderr
        if how == "newer-schema" and args[0] != "backup":
            assert "newer version of khalti" in run.stderr
        assert digest([good_db]) == before, (how, args)  # the file itself: byte for byte
        wal = good_db.with_name(good_db.name + "-wal")
        assert not wal.exists() or wal.stat().st_size == 0  # (backup's read-only open may leave an empty one)
        assert not (isolated / "copy.db").exists()


@contextlib.contextmanager
def mounted_tmpfs(where: Path, size: str) -> Iterator[bool]:
    """A small tmpfs (we are root in CI); yields False where mounting is not allowed."""
    where.mkdir()
    ok = (
        subprocess.run(
            ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(where)], capture_output=True
        ).returncode
        == 0
        if shutil.which("mount")
        else False
    )
    try:
        yield ok
    finally:
        if ok:
            subprocess.run(["umount", "-l", str(where)], check=False)


def run_limited(args: list[str], env: dict[str, str], fsize: int | None = None) -> Run:
    def limit() -> None:  # pragma: no cover - runs in the child
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # writes past the limit fail with EFBIG instead
        assert fsize is not None
        resource.setrlimit(resource.RLIMIT_FSIZE, (fsize, fsize))

    proc = subprocess.run(
        [*khalti_exe(), *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        preexec_fn=limit if fsize is not None else None,
    )
    return Run(proc.returncode, proc.stdout, proc.stderr)


def big_file(path: Path) -> Path:
    path.write_text("amount,name\n" + "".join(f"1000,{'School fee ' * 15}{i}\n" for i in range(3000)))
    return path


def test_full_disk_on_a_tiny_tmpfs(cli: Cli, good_db: Path, isolated: Path) -> None:
    with mounted_tmpfs(isolated / "tiny", "200k") as ok:
        # Skips locally where mounting is not allowed (fails under CI=true); the fallback
        # test_full_disk_by_file_size_limit proves the same commands without mounting.
        require_capability(ok, "mounting a tmpfs (root in CI)")
        db = isolated / "tiny" / "khalti.db"
        shutil.copyfile(good_db, db)
        filler = isolated / "tiny" / "filler"
        free = shutil.disk_usage(db.parent).free
        filler.write_bytes(b"\0" * max(0, free - 8192))  # leave two pages
        before = digest([db])
        env = {**os.environ, "KHALTI_DB": str(db)}
        for args in (
            ["import", str(big_file(isolated / "big.csv"))],
            ["create", "--amount", "1000", "--name", "B" * 150],
        ):
            tried("full disk")
            run = run_limited(args, env)
            never_a_bug(run)
            assert run.exit_code == 4, run.stderr
            assert "disk is full" in run.stderr
            assert digest([db]) == before
        filler.unlink()
        listed = run_limited(["list", "--format", "json"], env)
        assert [r["order_id"] for r in Run(0, listed.stdout, "").json()] == ["A1"]


def test_full_disk_by_file_size_limit(good_db: Path, isolated: Path) -> None:
    """Without mounting: RLIMIT_FSIZE makes every write past the limit fail as a full disk does."""
    before = digest([good_db])
    env = {**os.environ, "KHALTI_DB": str(good_db)}
    for args in (
        ["import", str(big_file(isolated / "big.csv"))],
        ["create", "--amount", "1000", "--name", "B" * 150],
    ):
        tried("full disk")
        run = run_limited(args, env, fsize=8192)  # the WAL cannot grow past two pages
        never_a_bug(run)
        assert run.exit_code == 4 and "disk is full" in run.stderr, (args, run.stderr)
        assert digest([good_db]) == before
    listed = run_limited(["list", "--format", "json"], env)
    assert [r["order_id"] for r in Run(0, listed.stdout, "").json()] == ["A1"]


def test_read_only_database(cli: Cli, good_db: Path, isolated: Path) -> None:
    with mounted_tmpfs(isolated / "ro", "1m") as ok:
        # Skips locally where mounting is not allowed (fails under CI=true); the fallback
        # test_read_only_database_by_file_modes proves the same without mounting.
        require_capability(ok, "mounting a tmpfs (root in CI)")
        shutil.copyfile(good_db, isolated / "ro" / "khalti.db")
        assert subprocess.run(["mount", "-o", "remount,ro", str(isolated / "ro")]).returncode == 0
        db = isolated / "ro" / "khalti.db"
        before = digest([db])
        for args in (["list"], ["create", "--amount", "1000", "--name", "B"], ["reconcile"]):
            tried("read-only database")
            run = cli(*args, env={"KHALTI_DB": str(db)})
            never_a_bug(run)
            assert run.exit_code == 4, run.stderr
            assert str(db) in run.stderr and "writable" in run.stderr
        assert digest([db]) == before


def as_nobody() -> list[str]:
    """A command prefix that drops root (which ignores file modes) for the user `nobody` (65534)."""
    if os.geteuid() != 0:
        return []
    return [require_binary("setpriv", "util-linux"), "--reuid=65534", "--regid=65534", "--clear-groups"]


def test_read_only_database_by_file_modes(good_db: Path) -> None:
    """Without mounting: the database in a directory nobody may write, with a read-only file mode, opened by
    a program that is not root (root ignores file modes, so the program runs as `nobody`)."""
    folder = Path(tempfile.mkdtemp(prefix="khalti-ro-"))  # under /tmp: `nobody` can reach it
    try:
        db = folder / "khalti.db"
        shutil.copyfile(good_db, db)
        db.chmod(0o444)
        folder.chmod(0o555)
        before = digest([db])
        env = {k: v for k, v in os.environ.items() if not k.startswith("KHALTI_")}
        env.update(KHALTI_DB=str(db), HOME=str(folder))
        for args in (["list"], ["create", "--amount", "1000", "--name", "B"], ["reconcile"]):
            tried("read-only database")
            proc = subprocess.run(
                [*as_nobody(), *khalti_exe(), *args], capture_output=True, text=True, env=env, cwd=folder
            )
            run = Run(proc.returncode, proc.stdout, proc.stderr)
            never_a_bug(run)
            assert run.exit_code == 4, (args, run.stderr)
            assert str(db) in run.stderr and "read-only" in run.stderr, run.stderr
        assert digest([db]) == before
        assert sorted(p.name for p in folder.iterdir()) == ["khalti.db"]  # no WAL, no lock file left
    finally:
        folder.chmod(0o755)
        shutil.rmtree(folder)


# --- private files --------------------------------------------------------------------------------------------


def test_files_with_customer_data_are_private(cli: Cli, configured: SandboxServer, isolated: Path) -> None:
    old = os.umask(0o022)  # a typical umask: new files would be world-readable
    try:
        assert (
            cli(
                "create",
                "--amount",
                "1000",
                "--name",
                "Fee",
                "--order-id",
                "P1",
                "--customer-name",
                "Sita",
                "--initiate",
            ).exit_code
            == 0
        )
        assert cli("reconcile").exit_code == 0  # leaves the reconcile lock file behind
        assert cli("backup", str(isolated / "backup.db")).exit_code == 0
        db = isolated / "khalti.db"
        private = [*db_files(db), isolated / "backup.db"]
        assert any(p.name.endswith(".reconcile.lock") for p in private)
        for path in private:
            assert stat.S_IMODE(path.stat().st_mode) & 0o077 == 0, (path, oct(path.stat().st_mode))
        assert_no_key(files=tuple(private))
    finally:
        os.umask(old)


def test_a_readable_env_file_with_the_key_warns(cli: Cli, isolated: Path) -> None:
    env_file = isolated / ".env"
    env_file.write_text(f"KHALTI_SECRET_KEY={TEST_KEY}\n")
    for mode, warned in ((0o600, False), (0o640, True), (0o604, True)):
        env_file.chmod(mode)
        run = cli("list")
        assert run.exit_code == 0
        assert ("chmod 600" in run.stderr) is warned, (oct(mode), run.stderr)
        assert_no_key(run.stdout, run.stderr)


def test_figures(capsys: pytest.CaptureFixture[str]) -> None:
    """Prints how many hostile inputs this file tried (run the whole file; -s shows it)."""
    with capsys.disabled():
        print("\nhostile inputs tried: " + ", ".join(f"{k} {v}" for k, v in sorted(TRIED.items())))
