"""`khalti backup FILE`: a consistent copy (mode 0600) taken while a reconcile writes; never overwrites
without --force."""

from __future__ import annotations

import os
import sqlite3
import stat
import subprocess
import time
from pathlib import Path

from conftest import Cli, control, fault, khalti_exe
from store_checks import check_invariants

from khalti_cli.lock import lock_path
from khalti_cli.sandbox import SandboxServer


def integrity(path: Path) -> tuple[str, int]:
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        verdict = conn.execute("PRAGMA integrity_check").fetchone()[0]
        payments = conn.execute("SELECT COUNT(*) FROM payments").fetchone()[0]
    finally:
        conn.close()
    return verdict, payments


def test_backup_while_reconcile_runs(cli: Cli, configured: SandboxServer, isolated: Path) -> None:
    rows = "".join(f"R-{i},{1000 + i},Tuition\n" for i in range(30))
    (isolated / "fees.csv").write_text("order_id,amount,name\n" + rows, encoding="utf-8")
    made = cli("import", "fees.csv", "--initiate", "--format", "jsonl")
    assert made.exit_code == 0, made.stderr
    for record in made.jsonl()[::2]:
        control(configured, record["pidx"], "complete")
    # Each lookup answers after 150 ms, two at a time: the reconcile writes for about two seconds.
    fault(configured, {"delay_ms": 150, "count": 30, "path": "lookup"})
    reconcile = subprocess.Popen(
        [*khalti_exe(), "reconcile", "--concurrency", "2"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=dict(os.environ),
    )
    try:
        lock = lock_path(isolated / "khalti.db")
        deadline = time.monotonic() + 20
        while not (lock.exists() and lock.read_text()) and time.monotonic() < deadline:
            time.sleep(0.02)
        time.sleep(0.4)  # some answers are stored by now, most are not
        assert reconcile.poll() is None, "reconcile finished before the backup started"
        run = cli("backup", "copy.db")
        still_running = reconcile.poll() is None
    finally:
        out, err = reconcile.communicate(timeout=60)
    assert run.exit_code == 0, run.stderr
    assert still_running, "the backup should have been taken while reconcile ran"
    assert reconcile.returncode == 0, err
    assert run.stdout == "copy.db\n" and "Backed up 30 payment(s)" in run.stderr
    copy = isolated / "copy.db"
    assert stat.S_IMODE(copy.stat().st_mode) == 0o600
    assert integrity(copy) == ("ok", 30)
    check_invariants(copy)  # one moment of the database: no status change half-written
    assert not any(p.name.startswith(".copy.db") for p in isolated.iterdir())  # no temporary file left
    # The copy is a working khalti database.
    listed = cli("--db", str(copy), "list", "--format", "json").json()
    assert len(listed) == 30
    assert "checked 30" in out


def test_backup_refuses_to_overwrite_without_force(cli: Cli, isolated: Path) -> None:
    assert cli("create", "--amount", "1500", "--name", "Tuition", "--order-id", "B-1").exit_code == 0
    target = isolated / "b.db"
    target.write_text("precious")
    run = cli("backup", str(target))
    assert run.exit_code == 3 and "already exists" in run.stderr and "--force" in run.stderr
    assert target.read_text() == "precious"
    run = cli("backup", str(target), "--force")
    assert run.exit_code == 0, run.stderr
    assert integrity(target) == ("ok", 1)
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    assert cli("backup", str(isolated / "no-such-folder" / "b.db")).exit_code == 3
    assert cli("backup", str(isolated)).exit_code == 3  # a folder
    assert cli("backup", str(isolated / "khalti.db"), "--force").exit_code == 3  # the database itself


def test_backup_without_a_database(cli: Cli, isolated: Path) -> None:
    run = cli("backup", "b.db")
    assert run.exit_code == 3 and "no database" in run.stderr
    assert not (isolated / "b.db").exists() and not (isolated / "khalti.db").exists()
