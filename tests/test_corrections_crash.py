"""SIGKILL at seeded moments of `void`, `settle`, `resolve`, `edit` and `restore` (the installed program, as a
subprocess). After every kill: PRAGMA integrity_check and the status chain hold (check_invariants), and the
correction is all there or not at all: the database is either exactly as before or exactly as after.

    python -m pytest -q -n 0 tests/test_corrections_crash.py
"""

from __future__ import annotations

import os
import random
import shutil
import signal
import sqlite3
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from conftest import Cli, control, khalti_exe
from store_checks import check_invariants
from test_restore import every_row

from khalti_cli.sandbox import SandboxServer

pytestmark = pytest.mark.slow

TRIALS = 8
SEED = 20261128
PARALLEL = 3
VOIDED = [f"V-{i}" for i in range(30)]

COMMANDS: dict[str, list[str]] = {
    "void": ["void", *VOIDED, "--reason", "बिदा: the class was merged", "--yes"],
    "settle": ["settle", "S-1", "--method", "cheque", "--reference", "CHQ 004512", "--yes"],
    "resolve": ["resolve", "U-1", "--as", "completed", "--reason", "accepted by the principal", "--yes"],
    "edit": ["edit", "E-1", "--amount", "1750", "--name", "Tuition, Poush", "--customer-name", "गीता"],
    "restore": ["restore", "BACKUP", "--force"],
}


def checkpointed(db: Path) -> None:
    conn = sqlite3.connect(str(db))
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()


def build(cli: Cli, server: SandboxServer, tmp: Path) -> tuple[Path, Path]:
    """A template database with a payment ready for every correction, and a backup of an earlier moment."""
    db = tmp / "khalti.db"
    ok = [
        cli("create", "--amount", "1500", "--name", "Tuition", "--order-id", oid).exit_code
        for oid in (*VOIDED, "S-1", "E-1", "U-1")
    ]
    assert set(ok) == {0}
    backup = tmp / "backup.db"
    assert cli("backup", str(backup)).exit_code == 0
    started = cli("initiate", "U-1")
    pidx = started.stdout.strip().split("pidx=")[1]
    control(server, pidx, "complete", {"total_amount": 100000})
    assert cli("lookup", "U-1").exit_code == 5  # an underpayment, in review
    assert cli("note", "S-1", "after the backup").exit_code == 0
    checkpointed(db)
    return db, backup


def opened(pid: int, db: Path) -> bool:
    """Has the process opened the database yet (its work, not Python's start-up, has begun)?"""
    try:
        return any(os.readlink(f"/proc/{pid}/fd/{fd}").startswith(str(db)) for fd in os.listdir(f"/proc/{pid}/fd"))
    except OSError:
        return False


def run_and_kill(db: Path, args: list[str], delay: float) -> tuple[bool, str, float]:
    """Run the command; `delay` seconds after it opened the database, SIGKILL it. Returns (killed, stderr,
    seconds from opening the database to the end)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("KHALTI_")}
    env["KHALTI_DB"] = str(db)
    proc = subprocess.Popen([*khalti_exe(), *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, text=True)
    deadline = time.monotonic() + 60
    while proc.poll() is None and not opened(proc.pid, db) and time.monotonic() < deadline:
        time.sleep(0.002)
    started = time.monotonic()
    try:
        proc.wait(timeout=delay)
        killed = False
    except subprocess.TimeoutExpired:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        killed = True
    assert proc.stderr is not None
    return killed, proc.stderr.read(), time.monotonic() - started


def full_run_time(db: Path, args: list[str]) -> float:
    """How long the command works once it has opened the database (the kill window)."""
    killed, stderr, seconds = run_and_kill(db, args, 60)
    assert not killed and "Traceback" not in stderr, stderr
    return seconds


@pytest.mark.parametrize("command", list(COMMANDS))
def test_killed_correction_is_all_or_nothing(cli: Cli, configured: SandboxServer, isolated: Path, command: str) -> None:
    template, backup = build(cli, configured, isolated)
    args = [str(backup) if a == "BACKUP" else a for a in COMMANDS[command]]
    before = every_row(template)
    finished = isolated / "finished.db"
    shutil.copyfile(template, finished)
    window = full_run_time(finished, args)
    after = every_row(finished)
    assert after != before

    rng = random.Random(f"{SEED}-{command}")
    delays = [rng.uniform(0, window * 1.1) for _ in range(TRIALS)]

    def trial(i: int) -> tuple[bool, str, Path]:
        db = isolated / f"trial-{i}" / "khalti.db"
        db.parent.mkdir()
        shutil.copyfile(template, db)
        os.chmod(db, 0o600)
        killed, stderr, _ = run_and_kill(db, args, delays[i])
        return killed, stderr, db

    with ThreadPoolExecutor(PARALLEL) as pool:
        results = list(pool.map(trial, range(TRIALS)))
    outcomes: list[str] = []
    for killed, stderr, db in results:
        assert "Traceback" not in stderr
        check_invariants(db)
        rows = every_row(db)
        if command == "restore":
            assert rows == before or rows == every_row(backup) or _same_but_times(rows, after), command
        else:
            assert _same_but_times(rows, before) or _same_but_times(rows, after), command
        outcomes.append("after" if _same_but_times(rows, after) or rows == every_row(backup) else "before")
        if not killed:
            assert outcomes[-1] == "after"
    killed_count = sum(1 for k, _, _ in results if k)
    print(f"{command}: window {window:.2f}s, killed {killed_count}/{TRIALS}, ended {outcomes}")
    assert len(outcomes) == TRIALS


def _same_but_times(a: dict[str, list[tuple[Any, ...]]], b: dict[str, list[tuple[Any, ...]]]) -> bool:
    """The same rows, ignoring timestamps the command writes at its own moment."""
    if a.keys() != b.keys():
        return False
    for table in a:
        if len(a[table]) != len(b[table]):
            return False
        for x, y in zip(a[table], b[table], strict=True):
            if x != y and not _only_times_differ(x, y):
                return False
    return True


def _only_times_differ(x: tuple[Any, ...], y: tuple[Any, ...]) -> bool:
    differing = [(p, q) for p, q in zip(x, y, strict=True) if p != q]
    return all(
        isinstance(p, str) and isinstance(q, str) and _looks_like_time(p) and _looks_like_time(q) for p, q in differing
    )


def _looks_like_time(text: str) -> bool:
    return len(text) >= 10 and text[4] == "-" and text[7] == "-" and text[:4].isdigit()
