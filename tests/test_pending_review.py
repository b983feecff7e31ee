"""A payment Khalti keeps reporting Pending goes to review after KHALTI_PENDING_REVIEW_HOURS (default 24),
because Khalti's docs say to ask Khalti; payer totals show pending apart from due."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from conftest import Cli, control

from khalti_cli.sandbox import SandboxServer


def backdate_pending(hours: int) -> None:
    db = sqlite3.connect(Path.cwd() / "khalti.db")
    db.execute("UPDATE payments SET pending_since = strftime('%Y-%m-%dT%H:%M:%f+00:00', 'now', ?)", [f"-{hours} hours"])
    db.commit()
    db.close()


def test_pending_too_long_goes_to_review_naming_the_way_out(configured: SandboxServer, cli: Cli) -> None:
    assert cli("payers", "add", "S-1", "--name", "Sita").exit_code == 0
    run = cli("create", "--amount", "1500", "--name", "Tuition", "--order-id", "P-1", "--payer", "S-1", "--initiate")
    assert run.exit_code == 0, run.stderr
    pidx = cli("show", "P-1", "--format", "json").json()["pidx"]
    control(configured, pidx, "pending")
    assert cli("reconcile").exit_code == 0
    record = cli("show", "P-1", "--format", "json").json()
    assert record["status"] == "pending"
    totals = cli("payers", "show", "S-1", "--format", "json").json()["totals"]
    assert (totals["pending_paisa"], totals["due_paisa"], totals["pending"]) == (150000, 0, "1500.00")

    backdate_pending(23)
    assert cli("reconcile").exit_code == 0  # 23 h: still pending
    backdate_pending(25)
    assert cli("reconcile").exit_code == 5  # a payment went to review: cron's alert fires once
    record = cli("show", "P-1", "--format", "json").json()
    assert record["status"] == "review"
    reason = record["review_reason"]
    assert "Pending since" in reason and pidx in reason and "khalti resolve P-1" in reason
    assert cli("reconcile").exit_code == 0  # not again


@pytest.mark.parametrize("hours", ["0", "x", "1.5", "99999"])
def test_a_bad_pending_limit_is_a_config_error(cli: Cli, hours: str) -> None:
    run = cli("list", env={"KHALTI_PENDING_REVIEW_HOURS": hours})
    assert run.exit_code == 4 and "KHALTI_PENDING_REVIEW_HOURS" in run.stderr


def test_the_limit_is_configurable(configured: SandboxServer, cli: Cli, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KHALTI_PENDING_REVIEW_HOURS", "2")
    assert cli("create", "--amount", "1500", "--name", "Tuition", "--order-id", "P-2", "--initiate").exit_code == 0
    control(configured, cli("show", "P-2", "--format", "json").json()["pidx"], "pending")
    assert cli("reconcile").exit_code == 0
    backdate_pending(3)
    assert cli("reconcile").exit_code == 5
    assert "more than 2 h" in cli("show", "P-2", "--format", "json").json()["review_reason"]
