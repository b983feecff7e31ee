"""Issue 8, files and paths: nothing a hostile file name, planted link or neighbour's database does may cost
a file. Each class is generated (hypothesis with derandomize=True, or a fixed list of every kind), beyond the
issue's own example:

- slip file names are injective (two order ids never share a file) and a clash is refused before writing;
- every file khalti creates (slips, backups, the reconcile lock) is never written through a planted link,
  device, folder or hard link, and keeps mode 0600;
- a database path is text, never a URI (`#`, `?`, `%`, spaces, Devanagari, `file:`);
- a database that is not khalti's is refused (exit 4) and left byte-for-byte as it was;
- `--db` must name a regular file or a new name in an existing folder; a symlink to the database shares
  its reconcile lock.

`python -m pytest -q -n 0 -s tests/test_hostile_files.py` prints how many cases each class tried.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import random
import sqlite3
import stat
import urllib.parse
from pathlib import Path
from typing import Any

import pytest
import zxingcpp
from conftest import Cli, Run
from generated_cases import PROPERTY, Tally
from hypothesis import example, given, settings
from hypothesis import strategies as st
from PIL import Image

from khalti_cli.files import record_file_name
from khalti_cli.lock import reconcile_lock
from khalti_cli.sandbox import SandboxServer
from khalti_cli.services import validate

tried = Tally("files and paths cases tried")  # cases tried per class, for the README's figures


def never_a_bug(run: Run) -> None:
    assert run.exit_code != 1, run.stderr
    assert "Traceback" not in run.stderr, run.stderr
    if run.exit_code != 0:
        assert run.stderr.startswith("Error: ") or "Error: " in run.stderr, run.stderr


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def decode_qr(path: Path) -> list[str]:
    with Image.open(path) as image:
        return [r.text for r in zxingcpp.read_barcodes(image.convert("L"))]


# --- 1. two payments, one slip ----------------------------------------------------------------------------

ORDER_CHARS = "AaBbSs019._:/#-"
order_ids = st.builds(
    lambda first, rest: first + rest,
    st.sampled_from("AaSs01"),
    st.text(alphabet=ORDER_CHARS, max_size=12),
)


@settings(PROPERTY, max_examples=600)
@given(one=order_ids, other=order_ids)
@example(one="S/1", other="S_1")
@example(one="S:1", other="S_1")
@example(one="S#1", other="S/1")
@example(one="S%2F1", other="S/1")
def test_record_file_names_never_clash(one: str, other: str) -> None:
    """Different order ids give different names; each name decodes back to its id, is one plain file name
    (no `/`, not hidden), and two names equal but for case come only from ids equal but for case."""
    tried("slip names: pairs of order ids")
    a, b = record_file_name(one, ".png"), record_file_name(other, ".png")
    assert (a == b) == (one == other)
    assert (a.casefold() == b.casefold()) == (one.casefold() == other.casefold())
    for oid, name in ((one, a), (other, b)):
        assert urllib.parse.unquote(name.removesuffix(".png"), errors="strict") == oid
        assert "/" not in name and not name.startswith(".") and len(name.encode()) < 255


@settings(PROPERTY, max_examples=500)
@given(text=st.text(min_size=1, max_size=40))
def test_record_file_names_of_any_text_decode_back(text: str) -> None:
    tried("slip names: any text")
    name = record_file_name(text, "")
    assert set(name) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._%")
    assert urllib.parse.unquote(name, errors="surrogatepass") == text
    assert not name.startswith(".")


def test_the_issue_example_each_family_gets_its_own_slip(cli: Cli, configured: SandboxServer, isolated: Path) -> None:
    """`S/1`, `S_1`, `S:1` and `S#1` used to write one file `S_1.png`; now four, each with its own link."""
    urls = {}
    for oid in ("S/1", "S_1", "S:1", "S#1"):
        run = cli("create", "--amount", "1500", "--name", "Tuition", "--order-id", oid, "--initiate")
        assert run.exit_code == 0, run.stderr
        urls[oid] = run.stdout.strip()
    run = cli("slips", *urls, "--out", "slips")
    assert run.exit_code == 0, run.stderr
    assert run.stdout.split() == ["slips/S%2F1.png", "slips/S_1.png", "slips/S%3A1.png", "slips/S%231.png"]
    for oid, path in zip(urls, run.stdout.split(), strict=True):
        assert decode_qr(isolated / path) == [urls[oid]]


def test_generated_ids_that_used_to_fold_together_each_get_their_own_slip(
    cli: Cli, configured: SandboxServer, isolated: Path
) -> None:
    """8 seeded ids, built so that the old `[^A-Za-z0-9._-] -> _` naming folds them into 2 names, go
    through `import --initiate --slips`: 8 files, each QR code decodes to its own payment's link."""
    rng = random.Random(8)
    ids: list[str] = []
    while len(ids) < 8:
        stem = f"F{len(ids) // 4}"
        oid = stem + "".join(rng.choice("_/:#") for _ in range(3)) + "1"
        if oid not in ids:
            ids.append(oid)
    (isolated / "fees.csv").write_text("order_id,amount,name\n" + "".join(f"{i},100,Fee\n" for i in ids))
    run = cli("import", "fees.csv", "--initiate", "--slips", "out", "--format", "jsonl")
    assert run.exit_code == 0, run.stderr
    urls = {r["order_id"]: r["payment_url"] for r in run.jsonl()}
    files = sorted(p.name for p in (isolated / "out").iterdir())
    assert len(files) == 8 and len(set(urls.values())) == 8
    for oid in ids:
        tried("slip names: generated ids through import --slips")
        assert decode_qr(isolated / "out" / record_file_name(oid, ".png")) == [urls[oid]]


def test_a_clash_is_refused_before_anything_is_written(cli: Cli, configured: SandboxServer, isolated: Path) -> None:
    """`a-1` and `A-1` would be one file on a disk that ignores case; an existing slip is not replaced
    without --force; import --slips with such ids imports nothing."""
    for oid in ("a-1", "A-1", "B-1"):
        assert cli("create", "--amount", "100", "--name", "Fee", "--order-id", oid, "--initiate").exit_code == 0
    run = cli("slips", "B-1", "a-1", "A-1", "--out", "slips")
    assert run.exit_code == 3 and "upper/lower case" in run.stderr, run.stderr
    assert not (isolated / "slips").exists()
    assert cli("slips", "B-1", "--out", "slips").exit_code == 0
    before = sha(isolated / "slips" / "B-1.png")
    run = cli("slips", "a-1", "B-1", "--out", "slips")
    assert run.exit_code == 3 and "already exists" in run.stderr and "--force" in run.stderr
    assert sorted(p.name for p in (isolated / "slips").iterdir()) == ["B-1.png"]  # a-1 was not written either
    assert sha(isolated / "slips" / "B-1.png") == before
    run = cli("slips", "a-1", "B-1", "--out", "slips", "--force")
    assert run.exit_code == 0, run.stderr
    (isolated / "fees.csv").write_text("order_id,amount,name\nK-x,100,Fee\nk-X,100,Fee\n")
    run = cli("import", "fees.csv", "--initiate", "--slips", "more")
    assert run.exit_code == 3 and "line 3, column order_id" in run.stderr, run.stderr
    assert cli("show", "K-x").exit_code == 3 and not (isolated / "more").exists()


# --- 2. files written through links -----------------------------------------------------------------------

PLANTS = ("symlink to a file", "dangling symlink", "symlink to a folder", "folder", "fifo", "hard link")


def plant(at: Path, kind: str, victim: Path) -> None:
    victim.write_bytes(b"precious")
    victim.chmod(0o644)
    if kind == "symlink to a file":
        at.symlink_to(victim)
    elif kind == "dangling symlink":
        at.symlink_to(victim.with_name("not-there"))
    elif kind == "symlink to a folder":
        at.symlink_to(victim.parent)
    elif kind == "folder":
        at.mkdir()
    elif kind == "fifo":
        os.mkfifo(at)
    else:
        os.link(victim, at)


@pytest.fixture
def two_slips(cli: Cli, configured: SandboxServer) -> list[str]:
    for oid in ("P/1", "P-2"):
        assert cli("create", "--amount", "100", "--name", "Fee", "--order-id", oid, "--initiate").exit_code == 0
    return ["P/1", "P-2"]


WRITERS = ("slips", "slips --force", "backup", "backup --force", "reconcile lock")


@pytest.mark.parametrize("writer", WRITERS)
@pytest.mark.parametrize("kind", PLANTS)
def test_nothing_is_written_through_what_a_neighbour_planted(
    cli: Cli, two_slips: list[str], isolated: Path, writer: str, kind: str
) -> None:
    """Every kind of planted name x every writer: refused (exit 3, or 4 for the lock) or, for a hard link
    with --force, replaced by a new file; the planted target keeps its bytes and mode."""
    tried("planted names x writers")
    outside = isolated / "outside"
    outside.mkdir()
    victim = outside / "victim.txt"
    if writer.startswith("slips"):
        (isolated / "slips").mkdir()
        at = isolated / "slips" / "P%2F1.png"
        args = ["slips", *two_slips, "--out", "slips"]
    elif writer.startswith("backup"):
        at = isolated / "b.db"
        args = ["backup", "b.db"]
    else:
        at = isolated / "khalti.db.reconcile.lock"
        args = ["reconcile"]
    if writer.endswith("--force"):
        args.append("--force")
    plant(at, kind, victim)
    run = cli(*args)
    never_a_bug(run)
    assert victim.read_bytes() == b"precious" and stat.S_IMODE(victim.stat().st_mode) == 0o644, (writer, kind)
    if writer.endswith("--force") and kind == "hard link":
        assert run.exit_code == 0, run.stderr  # the name is replaced by a new file; the other name keeps its file
        assert at.stat().st_ino != victim.stat().st_ino and stat.S_IMODE(at.stat().st_mode) == 0o600
    else:
        assert run.exit_code == (4 if writer == "reconcile lock" else 3), (writer, kind, run.stderr)
    if writer.startswith("slips") and run.exit_code != 0:
        assert not (isolated / "slips" / "P-2.png").exists()  # checked before the first slip was written


def test_files_are_0600_whatever_the_umask(cli: Cli, two_slips: list[str], isolated: Path) -> None:
    old = os.umask(0)
    try:
        assert cli("slips", *two_slips, "--out", "slips").exit_code == 0
        assert cli("backup", "b.db").exit_code == 0
        assert cli("reconcile").exit_code == 0
    finally:
        os.umask(old)
    made = [*sorted((isolated / "slips").iterdir()), isolated / "b.db", isolated / "khalti.db.reconcile.lock"]
    assert [stat.S_IMODE(p.stat().st_mode) for p in made] == [0o600] * 4
    assert not list(isolated.rglob(".*.tmp"))  # no temporary file left behind


# --- 4. database paths are text -------------------------------------------------------------------------

NAME_PARTS = ["fees", "#", "?", "%", "%41", " ", "&", "=", ";", "शुल्क", "mode=ro", "file:", "..", "+", "'", "#2026"]


@st.composite
def db_names(draw: st.DrawFn) -> str:
    parts = draw(st.lists(st.sampled_from(NAME_PARTS), min_size=1, max_size=5))
    name = "".join(parts).strip() + ".db"
    return name if name not in (".db", "..db") else "x" + name


@settings(PROPERTY, max_examples=25)
@given(name=db_names())
@example(name="fees#2026.db")
@example(name="x?y.db")
@example(name="file:a.db")
@example(name="%41.db")
def test_any_database_path_means_that_file(cli: Cli, isolated: Path, name: str) -> None:
    """Beside a database `fees` (and `x`, `A.db`, `a.db`) that must never be touched, a database with a
    generated name gets a payment, is listed, and backed up: the backup has exactly that payment, and no
    other file appears."""
    tried("database paths")
    work = isolated / f"case{tried['database paths']}"
    work.mkdir()
    decoys = [work / n for n in ("fees", "x", "A.db", "a.db", "file")]
    for decoy in decoys:
        decoy.write_bytes(b"decoy")
    db = work / name
    assert cli("--db", str(db), "create", "--amount", "100", "--name", "Fee", "--order-id", "ONE").exit_code == 0
    listed = cli("--db", str(db), "list", "--format", "jsonl")
    assert [r["order_id"] for r in listed.jsonl()] == ["ONE"], listed.stderr
    run = cli("--db", str(db), "backup", str(work / "copy.db"))
    assert run.exit_code == 0, run.stderr
    with contextlib.closing(sqlite3.connect(work / "copy.db")) as conn:
        assert conn.execute("SELECT order_id FROM payments").fetchall() == [("ONE",)]
    assert [d.read_bytes() for d in decoys] == [b"decoy"] * len(decoys)
    expected = {d.name for d in decoys} | {name, "copy.db"}
    assert {p.name for p in work.iterdir()} - {name + "-wal", name + "-shm"} == expected


# --- 5. another program's database ------------------------------------------------------------------------


@st.composite
def foreign_databases(draw: st.DrawFn) -> dict[str, Any]:
    return {
        "tables": draw(
            st.lists(st.sampled_from(["customers", "payments", "links", "events", "payers", "orders"]), max_size=3)
        ),
        "user_version": draw(st.sampled_from([0, 1, 2, 3, 99])),
        "application_id": draw(st.sampled_from([0, 0x4B48, 7])),
        "wal": draw(st.booleans()),
        "migrations": draw(st.sampled_from([None, "other", "khalti-without-m001"])),
    }


def make_foreign(path: Path, spec: dict[str, Any]) -> None:
    with contextlib.closing(sqlite3.connect(path)) as conn:
        for table in dict.fromkeys(spec["tables"]):
            conn.execute(f"CREATE TABLE {table} (id INTEGER PRIMARY KEY, order_id TEXT, name TEXT)")
            conn.execute(f"INSERT INTO {table} (order_id, name) VALUES ('X', 'someone')")
        if spec["migrations"]:
            conn.execute("CREATE TABLE _sqlite_migrations (id INTEGER PRIMARY KEY, migration_set, name, applied_at)")
            row = ("other", "m001_core") if spec["migrations"] == "other" else ("khalti", "m009")
            conn.execute("INSERT INTO _sqlite_migrations (migration_set, name) VALUES (?, ?)", row)
        conn.execute(f"PRAGMA user_version = {spec['user_version']}")
        conn.execute(f"PRAGMA application_id = {spec['application_id']}")
        conn.commit()
        if spec["wal"]:
            conn.execute("PRAGMA journal_mode = WAL")
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")


@settings(PROPERTY, max_examples=30)
@given(spec=foreign_databases())
@example(spec={"tables": ["customers"], "user_version": 1, "application_id": 0, "wal": False, "migrations": None})
def test_another_programs_database_is_never_changed(cli: Cli, isolated: Path, spec: dict[str, Any]) -> None:
    """A generated SQLite file that khalti did not make (any tables, user_version, application_id,
    journal mode, a foreign migrations table): every command that opens the database exits 4 and the file
    is byte-for-byte the same, WAL switch included. (An empty file with no marks is a new database.)"""
    if not spec["tables"] and not spec["migrations"] and not spec["user_version"] and not spec["application_id"]:
        spec = {**spec, "tables": ["customers"]}
    tried("foreign databases")
    db = isolated / f"other{tried['foreign databases']}.db"
    make_foreign(db, spec)
    before = sha(db)
    for args in (["list"], ["create", "--amount", "100", "--name", "Fee"], ["reconcile"], ["payers", "list"]):
        run = cli("--db", str(db), *args)
        never_a_bug(run)
        assert run.exit_code == 4 and "another program" in run.stderr, (spec, args, run.stderr)
        assert sha(db) == before, (spec, args)
    with contextlib.closing(sqlite3.connect(f"{db.as_uri()}?mode=ro", uri=True)) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == ("wal" if spec["wal"] else "delete")


def test_khaltis_own_databases_still_open(cli: Cli, isolated: Path) -> None:
    """A new path, an empty file and a database khalti made all open."""
    (isolated / "empty.db").write_bytes(b"")
    for name in ("new.db", "empty.db", "new.db"):
        run = cli("--db", str(isolated / name), "create", "--amount", "100", "--name", "Fee")
        assert run.exit_code == 0, (name, run.stderr)


# --- 6. --db must be a regular file or a new name; a symlink shares the lock ------------------------------


def bad_db_path(isolated: Path, kind: str) -> Path:
    if kind == "/dev/null":
        return Path("/dev/null")
    at = isolated / "bad.db"
    if kind == "folder":
        at.mkdir()
    elif kind == "dangling symlink":
        at.symlink_to(isolated / "nowhere" / "x.db")
    elif kind == "symlink loop":
        at.symlink_to(at)
    elif kind == "missing folder":
        at = isolated / "no-such-folder" / "khalti.db"
    elif kind == "symlink to /dev/null":
        at.symlink_to("/dev/null")
    return at


BAD_PATHS = ("/dev/null", "folder", "dangling symlink", "symlink loop", "missing folder", "symlink to /dev/null")


@pytest.mark.parametrize("kind", BAD_PATHS)
def test_db_must_be_a_regular_file_or_a_new_name(cli: Cli, isolated: Path, kind: str) -> None:
    tried("--db that is not a file")
    at = bad_db_path(isolated, kind)
    journal = Path("/dev/null-journal")
    existed = journal.exists()
    before = sorted(p.name for p in isolated.rglob("*"))
    try:
        for args in (["list"], ["create", "--amount", "100", "--name", "Fee"], ["reconcile"]):
            run = cli("--db", str(at), *args)
            never_a_bug(run)
            assert run.exit_code == 4, (kind, args, run.exit_code, run.stderr)
            assert sorted(p.name for p in isolated.rglob("*")) == before, kind  # nothing created
            assert journal.exists() == existed
    finally:
        if journal.exists() and not existed:  # what an old khalti left behind
            journal.unlink()


ALIASES = ("symlink", "chain of symlinks", "relative symlink", "symlinked folder", "path with ..")


@pytest.mark.parametrize("alias", ALIASES)
def test_every_name_of_the_database_shares_one_reconcile_lock(cli: Cli, isolated: Path, alias: str) -> None:
    """While a reconcile holds the database's lock, a reconcile through another name of the same file
    exits 75 (it used to take a lock of its own and run at once)."""
    tried("names of one database")
    db = isolated / "data" / "khalti.db"
    db.parent.mkdir()
    assert cli("--db", str(db), "create", "--amount", "100", "--name", "Fee").exit_code == 0
    if alias == "symlink":
        name = isolated / "alias.db"
        name.symlink_to(db)
    elif alias == "chain of symlinks":
        (isolated / "a1.db").symlink_to(db)
        (isolated / "a2.db").symlink_to(isolated / "a1.db")
        name = isolated / "a3.db"
        name.symlink_to(isolated / "a2.db")
    elif alias == "relative symlink":
        name = isolated / "rel.db"
        name.symlink_to(Path("data") / "khalti.db")
    elif alias == "symlinked folder":
        (isolated / "linked").symlink_to(db.parent)
        name = isolated / "linked" / "khalti.db"
    else:
        (isolated / "other").mkdir()
        name = isolated / "other" / ".." / "data" / "khalti.db"
    with reconcile_lock(db):
        run = cli("--db", str(name), "reconcile")
    assert run.exit_code == 75 and "Another reconcile is running" in run.stderr, (alias, run.stderr)
    assert cli("--db", str(name), "reconcile").exit_code == 0


# --- figures ----------------------------------------------------------------------------------------------


def test_order_ids_alphabet_is_what_the_names_encode() -> None:
    """The generated ids above are valid order ids (so the slips tests cover real payments)."""
    for oid in ("S/1", "S_1", "S:1", "S#1", "a.b-c_d:e/f#g"):
        assert validate.order_id(oid) == oid


def test_figures(capsys: pytest.CaptureFixture[str]) -> None:
    """Prints how many cases this file tried (run the whole file with -n 0; -s shows it)."""
    with capsys.disabled():
        print(tried.line())
