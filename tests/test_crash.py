"""SIGKILL at seeded random moments of `khalti import --initiate`, `khalti initiate` and `khalti reconcile`
(the installed program, as a subprocess, against a sandbox with latency), and SIGKILL aimed at the import's
own transaction. After every kill: the database passes PRAGMA integrity_check, no status change is
half-written (check_invariants), every payment URL the killed run printed is stored, an import left all its
rows or none, and the next run converges to the sandbox's truth. Each test prints where its kills landed:

    python -m pytest -q -n 0 -s tests/test_crash.py
"""

from __future__ import annotations

import os
import random
import re
import shutil
import signal
import sqlite3
import subprocess
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from conftest import TEST_KEY, Cli, control, khalti_exe
from store_checks import assert_no_key, backdate, check_invariants, db_files, snapshot

from khalti_cli.sandbox import SandboxServer, start_sandbox

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]  # 20 subprocesses a test: room on a busy machine

TRIALS = 20
SEED = 20261127
PARALLEL = 3  # trials killed at once (each has its own database)


@pytest.fixture(scope="module")
def server() -> Iterator[SandboxServer]:
    sandbox = start_sandbox(key=TEST_KEY, latency_ms=5)
    try:
        yield sandbox
    finally:
        sandbox.shutdown()


def env_for(server: SandboxServer, db: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KHALTI_")}
    env.update(
        KHALTI_BASE_URL=server.url,
        KHALTI_SECRET_KEY=TEST_KEY,
        KHALTI_WEBSITE_URL="https://school.example.edu.np",
        KHALTI_DB=str(db),
        KHALTI_TIMEOUT="5",
    )
    return env


@dataclass
class Killed:
    trial: int
    db: Path
    delay: float
    killed: bool  # False: the run finished before its kill time
    code: int | None
    stdout: str
    stderr: str
    progress: float = 0.0  # share of the work stored when it was killed (set by each test)

    def printed_urls(self) -> set[str]:
        """The payment URLs on the complete lines the killed run wrote to stdout."""
        lines = [line for line in self.stdout.splitlines(keepends=True) if line.endswith("\n")]
        return set(re.findall(r"http://\S+?pidx=\w+", "".join(lines)))


class Counter:
    """Reads of the database of a running program (WAL: they never block it), on one connection kept open
    between reads; 0 while the database or its tables do not exist yet."""

    def __init__(self, db: Path, sql: str) -> None:
        self.db, self.sql = db, sql
        self.conn: sqlite3.Connection | None = None

    def __call__(self) -> int:
        try:
            if self.conn is None:
                if not self.db.exists():
                    return 0
                self.conn = sqlite3.connect(f"file:{self.db}?mode=ro", uri=True, timeout=1)
            return int(self.conn.execute(self.sql).fetchone()[0])
        except sqlite3.Error:
            self.close()  # e.g. no tables yet: open afresh next time
            return 0

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()
            self.conn = None


def run_and_kill(
    trial: int, db: Path, args: list[str], env: dict[str, str], stdin: str, progress: str, target: int, delay: float
) -> Killed:
    """Start the program; once it has stored `target` pieces of its work (the SQL `progress` counts them,
    read from outside while it runs), wait `delay` seconds more and SIGKILL it."""
    proc = subprocess.Popen(
        [*khalti_exe(), *args],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
        text=True,
    )
    assert proc.stdin is not None and proc.stdout is not None and proc.stderr is not None
    proc.stdin.write(stdin)
    proc.stdin.close()
    deadline = time.monotonic() + 60
    done = Counter(db, progress)
    try:
        while proc.poll() is None and done() < target and time.monotonic() < deadline:
            time.sleep(0.01)
    finally:
        done.close()
    try:
        code: int | None = proc.wait(timeout=delay)
        killed = False
    except subprocess.TimeoutExpired:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        code, killed = None, True
    return Killed(trial, db, delay, killed, code, proc.stdout.read(), proc.stderr.read())


def kill_trials(
    make: Callable[[int], tuple[Path, list[str], dict[str, str], str]], progress: str, work: int, window: float = 0.05
) -> list[Killed]:
    """TRIALS runs, each killed at a seeded random point of its work: after 1 to work-1 pieces of it are
    stored, plus 0 to `window` seconds (the kill then lands anywhere: mid-request, mid-transaction...)."""
    rng = random.Random(SEED)
    points = [(rng.randint(1, work - 1), rng.uniform(0, window)) for _ in range(TRIALS)]

    def one(trial: int) -> Killed:
        db, args, env, stdin = make(trial)
        target, delay = points[trial]
        return run_and_kill(trial, db, args, env, stdin, progress, target, delay)

    with ThreadPoolExecutor(PARALLEL) as pool:
        return list(pool.map(one, range(TRIALS)))


def in_process(cli: Cli, db: Path, server: SandboxServer, *args: str, stdin: str | None = None) -> Any:
    return cli(*args, input=stdin, env=env_for(server, db))


def template(tmp: Path, name: str) -> Path:
    """A database checkpointed into its main file, so a plain copy is the whole database."""
    db = tmp / name
    conn = sqlite3.connect(str(db))
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    return db


def copy_db(source: Path, target: Path, prefix: str | None = None) -> None:
    shutil.copyfile(source, target)
    os.chmod(target, 0o600)
    if prefix:  # order ids unique per trial, so the sandbox's payments can be told apart
        backdate(target, "UPDATE payments SET order_id = ? || order_id", [prefix])


def has_tables(db: Path) -> bool:
    """False for a database the killed run created but had not set up yet (an empty file)."""
    if not db.exists():
        return False
    conn = sqlite3.connect(str(db))
    try:
        names = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    finally:
        conn.close()
    assert names == set() or {"payments", "links", "events"} <= names, names
    return bool(names)


def after_kill(k: Killed) -> None:
    """What must hold right after any kill."""
    if not has_tables(k.db):
        return
    check_invariants(k.db)
    assert "Traceback" not in k.stderr
    assert_no_key(k.stdout, k.stderr, files=db_files(k.db))
    snap = snapshot(k.db)
    stored = {link["payment_url"]: link for link in snap["links"].values() if link["state"] == "open"}
    printed = k.printed_urls()
    assert printed <= set(stored), printed - set(stored)  # a URL someone may have been given is never lost
    by_id = {p["id"]: p for p in snap["payments"].values()}
    for url in printed:  # ... and it is its payment's live link
        assert by_id[stored[url]["payment_id"]]["payment_url"] == url


def end_grace(db: Path) -> None:
    """As if the grace period for initiates that got no answer had passed."""
    backdate(
        db, "UPDATE links SET created_at = '2000-01-01T00:00:00.000+00:00' WHERE state IN ('sending', 'unknown')", []
    )


def sandbox_pidx(server: SandboxServer, order_ids: set[str]) -> set[str]:
    return {p["pidx"] for p in server.state.all() if p["purchase_order_id"] in order_ids}


def converged_links(db: Path, server: SandboxServer, order_ids: set[str], in_flight: int) -> None:
    """Every payment has one open link that Khalti knows as Initiated; at most `in_flight` links were made at
    Khalti whose answer the killed run never stored (nobody saw their URL)."""
    snap = snapshot(db)
    assert set(snap["payments"]) == order_ids
    assert {p["status"] for p in snap["payments"].values()} == {"initiated"}
    stored = {link["pidx"] for link in snap["links"].values() if link["pidx"]}
    known = sandbox_pidx(server, order_ids)
    assert stored <= known
    assert len(known - stored) <= in_flight
    for link in snap["links"].values():
        assert link["state"] in ("open", "void")
    open_links = [link for link in snap["links"].values() if link["state"] == "open"]
    assert len(open_links) == len(order_ids)
    for link in open_links:
        payment = server.state.get(link["pidx"])
        assert payment is not None and payment["status"] == "Initiated"


def summary(kind: str, trials: list[Killed], *, prints: bool = True) -> None:
    killed = [k for k in trials if k.killed]
    middle = sum(0 < k.progress < 1 for k in killed)
    printed = sum(bool(k.printed_urls()) for k in killed)
    print(
        f"\n{kind}: {len(trials)} trials: {middle} killed part-way through the work, "
        f"{sum(k.progress == 0 for k in killed)} before any of it was stored, "
        f"{sum(k.progress == 1 for k in killed)} after all of it was, {len(trials) - len(killed)} finished"
        + (f"; {printed} killed after printing a URL (every one of them stored)" if prints else "")
    )
    assert middle >= TRIALS // 4, [(k.delay, k.code, k.progress) for k in trials]
    if prints:  # the printed-URL check must have something to check
        assert printed >= TRIALS // 4, [(k.delay, k.code, k.progress, k.stdout) for k in trials]


# --- khalti initiate of many ids ------------------------------------------------------------------------


def test_kill_initiate(cli: Cli, server: SandboxServer, tmp_path: Path) -> None:
    n = 12
    base = tmp_path / "base.db"
    rows = "amount,name,order_id\n" + "".join(f"{1000 + i},Tuition {i},I-{i:02d}\n" for i in range(n))
    assert in_process(cli, base, server, "import", "-", stdin=rows).exit_code == 0
    base = template(tmp_path, "base.db")

    def make(trial: int) -> tuple[Path, list[str], dict[str, str], str]:
        db = tmp_path / f"initiate-{trial}.db"
        copy_db(base, db, prefix=f"T{trial}-")
        ids = "".join(f"T{trial}-I-{i:02d}\n" for i in range(n))
        return db, ["initiate", "-"], env_for(server, db), ids

    # Killed after 1-11 of the 12 answers are stored, plus 0-50 ms.
    trials = kill_trials(make, "SELECT count(*) FROM links WHERE state = 'open'", n)
    for k in trials:
        after_kill(k)
        ids = {f"T{k.trial}-I-{i:02d}" for i in range(n)}
        k.progress = sum(p["status"] == "initiated" for p in snapshot(k.db)["payments"].values()) / n
        end_grace(k.db)
        assert in_process(cli, k.db, server, "reconcile").exit_code == 0
        left = [oid for oid, p in snapshot(k.db)["payments"].items() if p["status"] == "created"]
        if left:
            again = in_process(cli, k.db, server, "initiate", *left)
            assert again.exit_code == 0, again.stderr
        converged_links(k.db, server, ids, in_flight=1)
        check_invariants(k.db)
    summary("initiate", trials)


# --- khalti import --initiate -----------------------------------------------------------------------------


def test_kill_import(cli: Cli, server: SandboxServer, tmp_path: Path) -> None:
    n = 12

    def make(trial: int) -> tuple[Path, list[str], dict[str, str], str]:
        db = tmp_path / f"import-{trial}.db"
        rows = "amount,name,order_id,customer_name\n" + "".join(
            f'{1000 + i},Tuition {i},M{trial}-{i:02d},"Sharma, Sita {i}"\n' for i in range(n)
        )
        (tmp_path / f"fees-{trial}.csv").write_text(rows)
        return (
            db,
            ["import", str(tmp_path / f"fees-{trial}.csv"), "--initiate", "--concurrency", "3"],
            env_for(server, db),
            "",
        )

    # Killed after 1-11 of the 12 links are stored, plus 0-50 ms, while the others are being made (the kills
    # aimed at the import's own transaction are test_kill_inside_the_import_transaction's).
    trials = kill_trials(make, "SELECT count(*) FROM links WHERE state = 'open'", n)
    for k in trials:
        ids = {f"M{k.trial}-{i:02d}" for i in range(n)}
        after_kill(k)
        if has_tables(k.db):
            stored = set(snapshot(k.db)["payments"])
            assert stored in (set(), ids)  # all rows or none: never some
            made = sum(p["status"] == "initiated" for p in snapshot(k.db)["payments"].values())
            k.progress = (len(stored) + made) / (2 * n)
            end_grace(k.db)
            assert in_process(cli, k.db, server, "reconcile").exit_code == 0
        # The same command again makes what is missing.
        again = in_process(cli, k.db, server, "import", str(tmp_path / f"fees-{k.trial}.csv"), "--initiate")
        assert again.exit_code == 0, again.stderr
        # The killed import ran with --concurrency 3. importer.initiate_range writes the 'sending' rows of up to
        # `window` = 2 x concurrency requests ahead of the answers it has committed, and its one writer stores
        # the answers that arrived in a group commit: so up to 6 links can be made at Khalti whose answers were
        # received, queued or mid-commit but never stored (their rows stay 'sending', reconcile voids them;
        # nobody saw their URLs). 3 was the bound when each answer was committed as it came.
        converged_links(k.db, server, ids, in_flight=2 * 3)
        check_invariants(k.db)
    summary("import", trials)


# --- SIGKILL inside the import's transaction -----------------------------------------------------------

AIMED = 10  # kills aimed at the import transaction


def write_lock_held(probe: sqlite3.Connection) -> bool:
    """Is another connection inside a write transaction? (BEGIN IMMEDIATE fails at once while it is.)"""
    try:
        probe.execute("BEGIN IMMEDIATE")
    except sqlite3.OperationalError:
        return True
    probe.execute("ROLLBACK")
    return False


def kill_in_transaction(trial: int, db: Path, args: list[str], env: dict[str, str], linger: float) -> Killed:
    """Start the program on a database that already has its tables, and SIGKILL it `linger` seconds after
    another connection first sees its write transaction open (sooner if it ends): the only write
    transaction of a plain import is the one that stores its rows."""
    probe = sqlite3.connect(str(db), timeout=0, isolation_level=None)
    probe.execute("SELECT count(*) FROM payments").fetchone()  # the WAL index exists before the program opens it
    proc = subprocess.Popen([*khalti_exe(), *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, text=True)
    killed = False
    deadline = time.monotonic() + 60
    try:
        while proc.poll() is None and time.monotonic() < deadline:
            if write_lock_held(probe):
                seen = time.monotonic()
                while time.monotonic() - seen < linger and write_lock_held(probe):
                    pass
                proc.send_signal(signal.SIGKILL)
                killed = True
                break
    finally:
        probe.close()
    out, err = proc.communicate()
    return Killed(trial, db, 0.0, killed, None if killed else proc.returncode, out, err)


def test_kill_inside_the_import_transaction(cli: Cli, server: SandboxServer, tmp_path: Path) -> None:
    n = 100
    base = tmp_path / "tbase.db"
    assert (
        in_process(cli, base, server, "create", "--amount", "1000", "--name", "Seed", "--order-id", "SEED").exit_code
        == 0
    )
    base = template(tmp_path, "tbase.db")

    def one(trial: int) -> Killed:
        db = tmp_path / f"tx-{trial}.db"
        copy_db(base, db)
        rows = "amount,name,order_id,customer_name\n" + "".join(
            f'{1000 + i},Tuition {i},X{trial}-{i:03d},"Sharma, Sita {i}"\n' for i in range(n)
        )
        (tmp_path / f"tx-{trial}.csv").write_text(rows)
        args = ["import", str(tmp_path / f"tx-{trial}.csv")]
        return kill_in_transaction(trial, db, args, env_for(server, db), lingers[trial])

    rng = random.Random(SEED)
    lingers = [rng.uniform(0, 0.003) for _ in range(AIMED)]  # a 100-row transaction lasts some ms
    with ThreadPoolExecutor(PARALLEL) as pool:
        trials = list(pool.map(one, range(AIMED)))
    inside = 0
    for k in trials:
        after_kill(k)
        ids = {f"X{k.trial}-{i:03d}" for i in range(n)}
        stored = set(snapshot(k.db)["payments"]) - {"SEED"}
        assert stored in (set(), ids)  # all rows or none: never some
        if k.killed and not stored:
            inside += 1  # killed while its transaction was open: rolled back, not one row of it stored
        again = in_process(cli, k.db, server, "import", str(tmp_path / f"tx-{k.trial}.csv"))
        assert again.exit_code == 0, again.stderr
        assert set(snapshot(k.db)["payments"]) == ids | {"SEED"}
        check_invariants(k.db)
    print(
        f"\nimport transaction: {AIMED} kills aimed at it, {inside} landed inside it (no row of it stored), "
        f"{sum(k.killed for k in trials) - inside} just after its commit (every row stored), "
        f"{sum(not k.killed for k in trials)} finished first"
    )
    assert inside >= AIMED // 3, [(k.killed, k.code, k.stderr) for k in trials]


# --- khalti reconcile -------------------------------------------------------------------------------------

TRUTH = ("completed", "canceled", "pending", "review", "initiated")


def test_kill_reconcile(cli: Cli, server: SandboxServer, tmp_path: Path) -> None:
    n = 40
    base = tmp_path / "rbase.db"
    rows = "amount,name,order_id\n" + "".join(f"1000,Tuition {i},R-{i:02d}\n" for i in range(n))
    assert in_process(cli, base, server, "import", "-", "--initiate", stdin=rows).exit_code == 0
    expected: dict[str, str] = {}
    for order_id, payment in snapshot(base)["payments"].items():
        i = int(order_id.split("-")[1])
        want = TRUTH[i % len(TRUTH)]
        pidx = payment["pidx"]
        if want == "completed":
            control(server, pidx, "complete")
        elif want == "canceled":
            control(server, pidx, "cancel")
        elif want == "pending":
            control(server, pidx, "pending")
        elif want == "review":
            control(server, pidx, "complete", {"total_amount": 900})
        expected[order_id] = want
    base = template(tmp_path, "rbase.db")

    def make(trial: int) -> tuple[Path, list[str], dict[str, str], str]:
        db = tmp_path / f"reconcile-{trial}.db"
        copy_db(base, db)
        return db, ["reconcile", "--concurrency", "2"], env_for(server, db), ""

    # Killed after 1-39 of the 40 answers are stored, plus 0-50 ms.
    trials = kill_trials(make, "SELECT count(*) FROM events WHERE kind = 'lookup'", n)
    for k in trials:
        after_kill(k)
        statuses = {oid: p["status"] for oid, p in snapshot(k.db)["payments"].items()}
        to_change = [oid for oid, want in expected.items() if want != "initiated"]
        k.progress = sum(statuses[oid] != "initiated" for oid in to_change) / len(to_change)
        # Each payment is either as it was or already at the truth: nothing in between, nothing else.
        assert all(statuses[oid] in ("initiated", want) for oid, want in expected.items())
        rerun = in_process(cli, k.db, server, "reconcile")
        assert rerun.exit_code in (0, 5), rerun.stderr
        assert {oid: p["status"] for oid, p in snapshot(k.db)["payments"].items()} == expected
        settled = in_process(cli, k.db, server, "reconcile", "--format", "json")
        assert settled.exit_code == 0 and settled.json()["changed"] == 0
        check_invariants(k.db)
    summary("reconcile", trials, prints=False)
