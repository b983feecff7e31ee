"""Several `khalti` processes on one database at once: creating (some with --initiate), importing (with
--initiate), initiating, reconciling and reading, while payers pay in the sandbox. No `database is locked`
reaches anyone, every exit code is the contract's, and no row is lost or doubled.

    python -m pytest -q -n 0 -s tests/test_concurrency.py   # -n 0 -s: one process, so the printed counts show
"""

from __future__ import annotations

import os
import random
import subprocess
import threading
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from conftest import TEST_KEY, Cli, Run, khalti_exe
from store_checks import assert_no_key, check_invariants, db_files, snapshot

from khalti_cli.sandbox import SandboxServer, start_sandbox

WORKERS = 4
SEED = 7


@pytest.fixture
def server() -> Iterator[SandboxServer]:
    sandbox = start_sandbox(key=TEST_KEY, latency_ms=5)
    try:
        yield sandbox
    finally:
        sandbox.shutdown()


def worker(n: int, db: Path, server: SandboxServer, tmp: Path) -> list[tuple[list[str], Run]]:
    """One person's (or cron job's) session: each command a separate process."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("KHALTI_")}
    env.update(
        KHALTI_BASE_URL=server.url,
        KHALTI_SECRET_KEY=TEST_KEY,
        KHALTI_DB=str(db),
        KHALTI_WEBSITE_URL="https://school.example.edu.np",
        KHALTI_TIMEOUT="10",
    )
    rows = "amount,name,order_id,customer_name\n" + "".join(
        f"{1000 + i}.50,Tuition {i},W{n}-IMP-{i:02d},Student {n}-{i}\n" for i in range(15)
    )
    csv_file = tmp / f"fees-{n}.csv"
    csv_file.write_text(rows)
    commands: list[list[str]] = [
        ["create", "--amount", "1500", "--name", f"Bus fee {n}", "--order-id", f"W{n}-C-1"],
        ["import", str(csv_file), "--initiate", "--concurrency", "4"],
        ["create", "--amount", "2000", "--name", f"Exam fee {n}", "--order-id", f"W{n}-C-2", "--initiate"],
        ["reconcile", "--concurrency", "4"],
        ["create", "--amount", "2500", "--name", f"Library {n}"],  # order id made up by khalti
        ["initiate", f"W{n}-C-1"],
        ["list", "--format", "jsonl"],
        ["reconcile"],
        ["lookup", f"W{n}-C-2"],
    ]
    rng = random.Random(SEED + n)
    runs = []
    for args in commands:
        time.sleep(rng.uniform(0, 0.05))
        proc = subprocess.run([*khalti_exe(), *args], capture_output=True, text=True, env=env, timeout=120)
        runs.append((args, Run(proc.returncode, proc.stdout, proc.stderr)))
    return runs


def test_many_processes_one_database(cli: Cli, server: SandboxServer, tmp_path: Path) -> None:
    db = tmp_path / "shared.db"
    stop = threading.Event()

    def payer() -> None:
        """Pays every other link as soon as it exists, so reconciles have changes to write."""
        rng = random.Random(SEED)
        while not stop.is_set():
            for payment in server.state.all():
                if payment["status"] == "Initiated" and rng.random() < 0.5:
                    server.state.complete(payment["pidx"])
            time.sleep(0.05)

    paying = threading.Thread(target=payer, daemon=True)
    paying.start()
    with ThreadPoolExecutor(WORKERS) as pool:
        sessions = list(pool.map(lambda n: worker(n, db, server, tmp_path), range(WORKERS)))
    stop.set()
    paying.join()

    every = [(args, run) for session in sessions for args, run in session]
    for args, run in every:
        assert "locked" not in run.stderr.lower() and "Traceback" not in run.stderr, (args, run.stderr)
        if args[0] == "reconcile" and run.exit_code == 75:
            assert "Another reconcile is running" in run.stderr  # the contract's busy lock, said plainly
            continue
        assert run.exit_code == 0, (args, run.stderr)
        assert_no_key(run.stdout, run.stderr)

    # Nothing lost, nothing doubled.
    made_up = [
        run.stdout.strip()
        for session in sessions
        for args, run in session
        if args[0] == "create" and "--order-id" not in args
    ]
    expected = {f"W{n}-{kind}" for n in range(WORKERS) for kind in ("C-1", "C-2")}
    expected |= {f"W{n}-IMP-{i:02d}" for n in range(WORKERS) for i in range(15)}
    expected |= set(made_up)
    payments = snapshot(db)["payments"]
    assert set(payments) == expected
    assert len(payments) == WORKERS * 18
    for n in range(WORKERS):
        for i in range(15):
            row = payments[f"W{n}-IMP-{i:02d}"]
            assert (row["amount_paisa"], row["customer_name"]) == ((1000 + i) * 100 + 50, f"Student {n}-{i}")
    # Every link Khalti made is stored once, and every stored link is one Khalti made.
    links = [link for link in snapshot(db)["links"].values() if link["pidx"]]
    assert Counter(link["pidx"] for link in links).most_common(1)[0][1] == 1
    assert {link["pidx"] for link in links} == {p["pidx"] for p in server.state.all()}
    assert len(links) == WORKERS * 17  # every payment but the made-up one got exactly one link
    # One more reconcile, alone, brings every status to the sandbox's truth.
    final = cli("reconcile", env={"KHALTI_DB": str(db), "KHALTI_BASE_URL": server.url, "KHALTI_SECRET_KEY": TEST_KEY})
    assert final.exit_code == 0, final.stderr
    truth = {p["pidx"]: p["status"] for p in server.state.all()}
    for payment in snapshot(db)["payments"].values():
        if payment["pidx"]:
            assert payment["khalti_status"] == truth[payment["pidx"]]
    check_invariants(db)
    assert_no_key(files=db_files(db))
    print(
        f"\n{len(every)} commands in {WORKERS} concurrent sessions, {len(payments)} payments, "
        f"{len(links)} links, none lost or doubled"
    )
