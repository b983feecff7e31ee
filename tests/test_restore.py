"""`khalti restore`: a backup round-trips row for row; a bad backup is refused and nothing changes; restore
is refused while reconcile holds its lock or another command writes; the replaced database is kept (0600).

    python -m pytest -q -n 0 tests/test_restore.py
"""

from __future__ import annotations

import hashlib
import os
import sqlite3
import stat
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
from conftest import Cli, fault, khalti_exe
from store_checks import check_invariants, completed_payment

from khalti_cli.lock import lock_path
from khalti_cli.sandbox import SandboxServer
from khalti_cli.store.db import SCHEMA_VERSION


def every_row(db: Path) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table, in rowid order: what a round trip must give back exactly."""
    conn = sqlite3.connect(str(db))
    try:
        tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table' ORDER BY name")]
        rows = {t: conn.execute(f'SELECT * FROM "{t}" ORDER BY rowid').fetchall() for t in tables}
        rows["user_version"] = [conn.execute("PRAGMA user_version").fetchone()]
    finally:
        conn.close()
    return rows


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def office(cli: Cli, configured: SandboxServer, isolated: Path) -> Path:
    """A database with payments in many states, payers, notes and corrections."""
    assert cli("payers", "add", "S-1", "--name", "सीता शर्मा").exit_code == 0
    completed_payment(cli, configured, "R-1")
    for oid in ("R-2", "R-3", "R-4"):
        assert cli("create", "--amount", "1000", "--name", "Fee", "--order-id", oid, "--payer", "S-1").exit_code == 0
    assert cli("initiate", "R-2").exit_code == 0
    assert cli("void", "R-3", "--reason", "waived", "--yes").exit_code == 0
    assert cli("settle", "R-4", "--method", "bank", "--reference", "V-9", "--yes").exit_code == 0
    assert cli("note", "R-1", "parent thanked the office").exit_code == 0
    return isolated / "khalti.db"


def test_round_trip_is_identical(cli: Cli, office: Path, isolated: Path) -> None:
    backup = isolated / "backup.db"
    assert cli("backup", str(backup)).exit_code == 0
    taken = every_row(office)
    # Work after the backup: a note, a void, a new payment.
    assert cli("note", "R-2", "later").exit_code == 0
    assert cli("void", "R-2", "--reason", "mistake", "--yes").exit_code == 0
    assert cli("create", "--amount", "20", "--name", "Late", "--order-id", "R-9").exit_code == 0
    current = every_row(office)
    refused = cli("restore", str(backup))
    assert refused.exit_code == 3 and "--force" in refused.stderr  # it would undo newer work
    assert every_row(office) == current
    run = cli("restore", str(backup), "--force")
    assert run.exit_code == 0, run.stderr
    assert every_row(office) == taken  # every record, link and event (and payer) exactly as backed up
    assert "Restored 4 payment(s)" in run.stderr and "newest event" in run.stderr
    kept = Path(run.stdout.strip())
    assert kept.name.startswith("khalti.db.replaced-") and kept.parent == office.parent
    assert stat.S_IMODE(kept.stat().st_mode) == 0o600
    assert every_row(kept) == current  # the replaced database, whole
    check_invariants(office)
    # The restored database works on: khalti reads and writes it as before.
    assert cli("note", "R-1", "after restore").exit_code == 0
    assert cli("show", "R-9").exit_code == 3


def test_restore_into_a_new_database(cli: Cli, office: Path, isolated: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    backup = isolated / "ब्याकअप #1?%20.db"  # characters that mean something in an SQLite URI
    assert cli("backup", str(backup)).exit_code == 0
    fresh = isolated / "elsewhere" / "new.db"
    monkeypatch.setenv("KHALTI_DB", str(fresh))
    run = cli("restore", str(backup))
    assert run.exit_code == 0, run.stderr
    assert run.stdout == ""  # nothing was replaced
    assert every_row(fresh) == every_row(backup)
    assert stat.S_IMODE(fresh.stat().st_mode) == 0o600


def test_an_older_schema_is_brought_up_to_date(cli: Cli, office: Path, isolated: Path) -> None:
    backup = isolated / "old.db"
    assert cli("backup", str(backup)).exit_code == 0
    conn = sqlite3.connect(str(backup))
    with conn:  # as khalti 0.1 (schema 2) wrote it
        conn.execute("ALTER TABLE events DROP COLUMN actor")
        for column in ("decision", "accepted", "settle_method", "settle_reference", "settle_date"):
            conn.execute(f"ALTER TABLE payments DROP COLUMN {column}")
        conn.execute("DELETE FROM _sqlite_migrations WHERE name = 'm003_corrections'")
        conn.execute("UPDATE payments SET status = 'created' WHERE status IN ('voided', 'paid_offline')")
        conn.execute("PRAGMA user_version = 2")
    conn.close()
    run = cli("restore", str(backup), "--force")
    assert run.exit_code == 0, run.stderr
    rows = every_row(office)
    assert rows["user_version"] == [(SCHEMA_VERSION,)]
    assert len(rows["payments"]) == 4
    record = cli("show", "R-1", "--format", "json").json()
    assert record["decision"] is None and {e["actor"] for e in record["history"]} == {None}


def _corrupt(path: Path) -> None:
    data = bytearray(path.read_bytes())
    for offset in range(4096, len(data), 4096):  # every b-tree page's header
        data[offset : offset + 12] = b"\xff" * 12
    path.write_bytes(bytes(data))


@pytest.mark.parametrize("kind", ["text", "foreign", "newer", "damaged", "missing"])
def test_a_bad_backup_is_refused_and_nothing_changes(cli: Cli, office: Path, isolated: Path, kind: str) -> None:
    bad = isolated / "bad.db"
    if kind == "text":
        bad.write_text("order_id,amount\nA,10\n")
    elif kind == "foreign":
        conn = sqlite3.connect(str(bad))
        conn.execute("CREATE TABLE recipes (id INTEGER PRIMARY KEY, name TEXT)")
        conn.execute("PRAGMA user_version = 7")
        conn.commit()
        conn.close()
    elif kind in ("newer", "damaged"):
        assert cli("backup", str(bad)).exit_code == 0
        if kind == "newer":
            conn = sqlite3.connect(str(bad))
            conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
            conn.commit()
            conn.close()
        else:
            _corrupt(bad)
    conn = sqlite3.connect(str(office))
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    before = digest(office)
    run = cli("restore", str(bad), "--force")
    assert run.exit_code == 3, (kind, run.stderr)
    assert run.stderr.startswith("Error: ") and "Traceback" not in run.stderr
    assert digest(office) == before
    assert not list(isolated.glob("khalti.db.replaced-*"))


def test_refused_while_reconcile_runs(cli: Cli, configured: SandboxServer, office: Path, isolated: Path) -> None:
    backup = isolated / "backup.db"
    assert cli("backup", str(backup)).exit_code == 0
    assert cli("note", "R-1", "newer").exit_code == 0
    current = every_row(office)
    fault(configured, {"delay_ms": 2500, "count": 5, "path": "lookup"})  # a slow Khalti: reconcile holds its lock
    slow = subprocess.Popen(
        [*khalti_exe(), "reconcile"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=dict(os.environ), text=True
    )
    lock = lock_path(office)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and not (lock.exists() and lock.read_text().startswith("pid")):
        time.sleep(0.02)
    try:
        run = cli("restore", str(backup), "--force")
        assert slow.poll() is None, "reconcile finished before restore was tried"
    finally:
        _, err = slow.communicate(timeout=60)
    assert run.exit_code == 75, run.stderr
    assert "reconcile" in run.stderr.lower() and "restore did nothing" in run.stderr.lower()
    assert slow.returncode == 0, err
    after = every_row(office)
    assert len(after["payments"]) == len(current["payments"])
    assert not list(isolated.glob("khalti.db.replaced-*"))
    assert cli("restore", str(backup), "--force").exit_code == 0  # once reconcile is done


def test_refused_while_another_command_writes(cli: Cli, office: Path, isolated: Path) -> None:
    backup = isolated / "backup.db"
    assert cli("backup", str(backup)).exit_code == 0
    writer = sqlite3.connect(str(office), isolation_level=None)
    writer.execute("BEGIN IMMEDIATE")
    writer.execute("UPDATE payments SET name = name")
    try:
        run = cli("restore", str(backup), "--force")
    finally:
        writer.execute("COMMIT")
        writer.close()
    assert run.exit_code == 75, run.stderr
    assert "writing" in run.stderr
    assert not list(isolated.glob("khalti.db.replaced-*"))


def test_a_damaged_database_is_replaced_only_with_force(cli: Cli, office: Path, isolated: Path) -> None:
    backup = isolated / "backup.db"
    assert cli("backup", str(backup)).exit_code == 0
    conn = sqlite3.connect(str(office))
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    office.write_bytes(b"garbage" * 1000)
    refused = cli("restore", str(backup))
    assert refused.exit_code == 4 and "--force" in refused.stderr
    assert office.read_bytes() == b"garbage" * 1000
    run = cli("restore", str(backup), "--force")
    assert run.exit_code == 0, run.stderr
    kept = Path(run.stdout.strip())
    assert kept.read_bytes() == b"garbage" * 1000 and stat.S_IMODE(kept.stat().st_mode) == 0o600
    assert every_row(office) == every_row(backup)
