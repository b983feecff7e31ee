"""Reconcile for cron: right statuses through faults, no change when Khalti is down, one run at a time,
crash-safe, anomalies to review with exit 5."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
from conftest import TEST_KEY, Cli, control, fault, khalti_exe, run_on_terminal

from khalti_cli.sandbox import SandboxServer, start_sandbox

PLAN = ("complete", "cancel", None, "pending", "complete", "expire", None, "complete", "cancel", "complete")
EXPECTED = {
    "complete": "completed",
    "cancel": "canceled",
    None: "initiated",
    "pending": "pending",
    "expire": "expired",
}


def make_links(cli: Cli, server: SandboxServer, plan: tuple[str | None, ...] = PLAN) -> dict[str, str]:
    """One payment per plan entry, each initiated and then moved by the payer; order id -> expected."""
    expected = {}
    for i, action in enumerate(plan):
        oid = f"FEE-{i:03d}"
        assert cli("create", "--amount", f"{1000 + i}", "--name", f"Fee {i}", "--order-id", oid).exit_code == 0
        run = cli("initiate", oid)
        assert run.exit_code == 0, run.stderr
        pidx = run.stdout.strip().split("pidx=")[1]
        if action:
            control(server, pidx, action)
        expected[oid] = EXPECTED[action]
    return expected


def statuses(cli: Cli) -> dict[str, str]:
    return {r["order_id"]: r["status"] for r in cli("list", "--format", "json").json()}


def snapshot(db: Path) -> tuple[list[Any], list[Any]]:
    conn = sqlite3.connect(db)
    try:
        return (
            conn.execute("SELECT * FROM payments ORDER BY id").fetchall(),
            conn.execute("SELECT * FROM links ORDER BY id").fetchall(),
        )
    finally:
        conn.close()


def test_statuses_right_after_faults(cli: Cli, configured: SandboxServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KHALTI_TIMEOUT", "1")
    expected = make_links(cli, configured)
    for spec in (
        {"status": 503, "count": 3},
        {"status": 429, "retry_after": 1, "count": 2},
        {"drop": True, "count": 2},
        {"delay_ms": 1500, "count": 1},
        {"status": 500, "count": 1},
    ):
        fault(configured, {**spec, "path": "lookup"})
    run = cli("reconcile", "--concurrency", "4", "--format", "json")
    assert run.exit_code == 0, run.stderr
    summary = run.json()
    assert summary["checked"] == len(expected) and summary["errors"] == 0
    assert statuses(cli) == expected
    assert summary["by_status"] == {s: list(expected.values()).count(s) for s in set(expected.values())}


def test_gateway_down_changes_nothing_and_exits_75(
    cli: Cli, configured: SandboxServer, isolated: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_links(cli, configured)
    before = snapshot(isolated / "khalti.db")
    fault(configured, {"status": 503, "count": 1000})
    run = cli("-q", "reconcile", "--concurrency", "4")
    assert run.exit_code == 75
    assert "errors 10" in run.stdout  # -q still reports a failed run
    assert "server error" in run.stderr
    assert snapshot(isolated / "khalti.db") == before


def test_unreachable_gateway_exits_75(cli: Cli, configured: SandboxServer, monkeypatch: pytest.MonkeyPatch) -> None:
    make_links(cli, configured, ("complete",))
    configured.shutdown()
    run = cli("reconcile")
    assert run.exit_code == 75
    assert "Could not reach Khalti" in run.stderr
    assert statuses(cli) == {"FEE-000": "initiated"}


def test_quiet_when_all_is_well(cli: Cli, configured: SandboxServer) -> None:
    make_links(cli, configured, ("complete", None))
    run = cli("-q", "reconcile")
    assert (run.exit_code, run.stdout, run.stderr) == (0, "", "")
    again = cli("reconcile")
    assert again.exit_code == 0
    assert again.stdout.startswith("checked 1, changed 0, unchanged 1, errors 0, review 0")


def test_nothing_to_do_is_success(cli: Cli, configured: SandboxServer) -> None:
    run = cli("reconcile", "--format", "json")
    assert run.exit_code == 0
    assert run.json()["checked"] == 0


def test_double_payment_goes_to_review_once(cli: Cli, configured: SandboxServer) -> None:
    assert cli("create", "--amount", "2500", "--name", "Exam fee", "--order-id", "DBL-1").exit_code == 0
    first = cli("initiate", "DBL-1").stdout.strip().split("pidx=")[1]
    refused = cli("initiate", "DBL-1")
    assert refused.exit_code == 3 and "--force" in refused.stderr
    second = cli("initiate", "--force", "DBL-1").stdout.strip().split("pidx=")[1]
    control(configured, first, "complete")
    control(configured, second, "complete")
    run = cli("reconcile", "--format", "jsonl")
    assert run.exit_code == 5
    [record] = run.jsonl()
    assert record["status"] == "review" and record["previous_status"] == "initiated"
    assert first in record["review_reason"] and second in record["review_reason"]
    assert "refund" in record["review_reason"]
    # Only a new problem alerts: the next run has nothing new to say.
    assert cli("reconcile", "--all").exit_code == 0
    assert statuses(cli) == {"DBL-1": "review"}


def test_older_link_still_checked_after_reinitiate(cli: Cli, configured: SandboxServer) -> None:
    assert cli("create", "--amount", "1500", "--name", "Bus fee", "--order-id", "OLD-1").exit_code == 0
    old = cli("initiate", "OLD-1").stdout.strip().split("pidx=")[1]
    control(configured, old, "expire")
    assert cli("reconcile").exit_code == 0
    assert statuses(cli) == {"OLD-1": "expired"}
    new = cli("initiate", "OLD-1").stdout.strip().split("pidx=")[1]
    assert new != old
    control(configured, new, "complete")
    assert cli("reconcile").exit_code == 0
    shown = cli("show", "OLD-1", "--format", "json").json()
    assert shown["status"] == "completed" and shown["pidx"] == new
    assert [link["pidx"] for link in shown["links"]] == [old, new]


def test_dry_run_limit_and_older_than(cli: Cli, configured: SandboxServer, isolated: Path) -> None:
    expected = make_links(cli, configured)
    before = snapshot(isolated / "khalti.db")
    dry = cli("reconcile", "--dry-run", "--format", "jsonl")
    assert dry.exit_code == 0
    assert {r["order_id"]: r["status"] for r in dry.jsonl()} == expected
    assert snapshot(isolated / "khalti.db") == before
    first = cli("reconcile", "--limit", "4", "--format", "json").json()
    assert first["checked"] == 4
    # The 4 just checked are skipped; the 6 never checked are not.
    second = cli("reconcile", "--older-than", "10m", "--format", "json").json()
    assert second["checked"] == 6
    assert statuses(cli) == expected


def test_lost_initiate_is_voided(
    cli: Cli, configured: SandboxServer, isolated: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KHALTI_TIMEOUT", "1")
    assert cli("create", "--amount", "1200", "--name", "Lab fee", "--order-id", "LOST-1").exit_code == 0
    fault(configured, {"delay_ms": 1500, "count": 1, "path": "initiate"})
    run = cli("initiate", "LOST-1")
    assert run.exit_code == 75 and run.stdout == ""
    conn = sqlite3.connect(isolated / "khalti.db")
    assert conn.execute("SELECT state FROM links").fetchall() == [("unknown",)]
    # Not voided while it is fresh; voided once older than the timeout plus a grace minute.
    assert cli("reconcile", "--format", "json").json()["voided"] == 0
    with conn:
        conn.execute("UPDATE links SET created_at = '2000-01-01T00:00:00.000+00:00'")
    assert cli("reconcile", "--format", "json").json()["voided"] == 1
    assert conn.execute("SELECT state FROM links").fetchall() == [("void",)]
    conn.close()
    assert statuses(cli) == {"LOST-1": "created"}
    assert cli("initiate", "LOST-1").exit_code == 0


def test_auth_failure_exits_4(cli: Cli, configured: SandboxServer, monkeypatch: pytest.MonkeyPatch) -> None:
    make_links(cli, configured, ("complete", None))
    monkeypatch.setenv("KHALTI_SECRET_KEY", "not-the-key")
    run = cli("reconcile")
    assert run.exit_code == 4
    assert "refused the secret key" in run.stderr
    assert "not-the-key" not in run.stderr + run.stdout


def _slow_world(tmp: Path, links: int, latency_ms: int) -> tuple[SandboxServer, dict[str, str]]:
    server = start_sandbox(latency_ms=latency_ms, key=TEST_KEY)
    env = dict(
        os.environ,
        KHALTI_DB=str(tmp / "khalti.db"),
        KHALTI_BASE_URL=server.url,
        KHALTI_SECRET_KEY=TEST_KEY,
        KHALTI_WEBSITE_URL="https://school.example.edu.np",
    )
    ids = [f"K-{i}" for i in range(links)]
    for oid in ids:
        subprocess.run(
            [*khalti_exe(), "create", "--amount", "1000", "--name", "Fee", "--order-id", oid],
            env=env,
            check=True,
            capture_output=True,
        )
    proc = subprocess.run(
        [*khalti_exe(), "initiate", "-"], input="\n".join(ids), env=env, check=True, capture_output=True, text=True
    )
    for i, url in enumerate(proc.stdout.split()):
        if i % 2 == 0:
            server.state.complete(url.split("pidx=")[1])
    return server, env


def test_second_overlapping_run_exits_75(isolated: Path) -> None:
    server, env = _slow_world(isolated, links=6, latency_ms=400)
    try:
        first = subprocess.Popen(
            [*khalti_exe(), "reconcile", "--concurrency", "1"],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        time.sleep(1.0)
        second = subprocess.run([*khalti_exe(), "reconcile"], env=env, capture_output=True, text=True)
        assert second.returncode == 75
        assert f"pid {first.pid}" in second.stderr and "started" in second.stderr
        assert first.wait(timeout=30) == 0
    finally:
        server.shutdown()


@pytest.mark.slow
def test_sigkill_mid_run_leaves_intact_db_and_next_run_finishes(isolated: Path) -> None:
    server, env = _slow_world(isolated, links=30, latency_ms=100)
    try:
        for delay in (0.35, 0.6, 0.9):
            proc = subprocess.Popen(
                [*khalti_exe(), "reconcile", "--concurrency", "2"],
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            time.sleep(delay)
            proc.send_signal(signal.SIGKILL)
            proc.wait()
            conn = sqlite3.connect(isolated / "khalti.db")
            assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
            # Every stored status change has its event: nothing half-written.
            changed = conn.execute("SELECT COUNT(*) FROM payments WHERE status != 'initiated'").fetchone()[0]
            events = conn.execute(
                "SELECT COUNT(*) FROM events WHERE kind = 'status' AND to_status != 'initiated'"
            ).fetchone()[0]
            conn.close()
            assert changed == events
        done = subprocess.run([*khalti_exe(), "reconcile", "--format", "json"], env=env, capture_output=True, text=True)
        assert done.returncode == 0, done.stderr
        conn = sqlite3.connect(isolated / "khalti.db")
        rows = dict(conn.execute("SELECT order_id, status FROM payments").fetchall())
        conn.close()
        assert rows == {f"K-{i}": "completed" if i % 2 == 0 else "initiated" for i in range(30)}
    finally:
        server.shutdown()


def test_rate_spaces_the_lookups(cli: Cli, configured: SandboxServer) -> None:
    make_links(cli, configured, (None,) * 6)
    started = time.monotonic()
    run = cli("reconcile", "--rate", "5", "--concurrency", "6", "--format", "json")
    elapsed = time.monotonic() - started
    assert run.exit_code == 0 and run.json()["checked"] == 6
    # Six starts at most five a second: the last one cannot begin before a full second has passed.
    assert elapsed >= 1.0


def test_max_time_stops_starting_lookups(isolated: Path) -> None:
    server, env = _slow_world(isolated, links=8, latency_ms=600)
    try:
        run = subprocess.run(
            [*khalti_exe(), "reconcile", "--concurrency", "1", "--max-time", "1s", "--format", "json"],
            env=env,
            capture_output=True,
            text=True,
        )
        assert run.returncode == 75
        import json

        summary = json.loads(run.stdout)
        assert summary["checked"] == 8 and summary["errors"] >= 5
        assert "--max-time" in run.stderr
        conn = sqlite3.connect(isolated / "khalti.db")
        never = conn.execute("SELECT COUNT(*) FROM links WHERE checked_at IS NULL").fetchone()[0]
        conn.close()
        assert never == summary["errors"]  # the ones not looked up were left exactly as they were
    finally:
        server.shutdown()


def test_progress_bar_only_on_a_terminal(isolated: Path) -> None:
    """A terminal sees a progress bar on stderr; a pipe (cron) sees none, only the summary line."""
    server, env = _slow_world(isolated, links=6, latency_ms=150)
    try:
        env["COLUMNS"] = "120"
        code, screen = run_on_terminal(["reconcile", "--concurrency", "1"], env)
        assert code == 0
        assert "reconcile" in screen and "/6" in screen  # the bar's "done/total" column
        piped = subprocess.run([*khalti_exe(), "reconcile", "--all"], env=env, capture_output=True, text=True)
        assert piped.returncode == 0
        assert piped.stderr == "" and piped.stdout.startswith("checked 6,")
    finally:
        server.shutdown()
