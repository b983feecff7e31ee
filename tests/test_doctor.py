"""khalti doctor: a line per check; exit 0 when all pass, 4 otherwise."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from conftest import Cli
from serve_helpers import pay_page

from khalti_cli.sandbox import SandboxServer


def test_all_pass_with_the_sandbox_and_a_running_pay_page(
    configured: SandboxServer, monkeypatch: pytest.MonkeyPatch, cli: Cli
) -> None:
    assert cli("create", "--amount", "100", "--name", "fee").exit_code == 0  # the database exists
    with pay_page(monkeypatch) as running:
        run = cli("doctor")
    assert run.exit_code == 0, run.stdout + run.stderr
    lines = run.stdout.splitlines()
    assert all(line.split()[0] in ("ok", "note") for line in lines), lines
    text = run.stdout
    assert "secret key accepted by Khalti" in text and "Not found." in text
    assert f"pay page reachable: {running.url}/healthz: HTTP 200" in text
    assert "database permissions: 0o600" in text and "Rs 200" not in text
    assert os.environ["KHALTI_SECRET_KEY"] not in text + run.stderr


def test_failures_are_named_and_exit_4(configured: SandboxServer, monkeypatch: pytest.MonkeyPatch, cli: Cli) -> None:
    assert cli("create", "--amount", "100", "--name", "fee").exit_code == 0
    os.chmod(Path.cwd() / "khalti.db", 0o644)
    monkeypatch.setenv("KHALTI_SECRET_KEY", "zz-not-the-key-zz")
    monkeypatch.setenv("KHALTI_PUBLIC_URL", "http://127.0.0.1:9")  # nothing listens there
    configured.shutdown()
    sandbox_with_key = __import__("khalti_cli.sandbox", fromlist=["start_sandbox"]).start_sandbox(key="right")
    try:
        monkeypatch.setenv("KHALTI_BASE_URL", sandbox_with_key.url)
        run = cli("doctor")
    finally:
        sandbox_with_key.shutdown()
    assert run.exit_code == 4
    failed = {line.split(":")[0][5:].strip() for line in run.stdout.splitlines() if line.startswith("FAIL")}
    assert failed == {"database permissions", "secret key accepted by Khalti", "pay page reachable"}, run.stdout
    assert "401" in run.stdout and "chmod 600" in run.stdout and "zz-not-the-key-zz" not in run.stdout


def test_production_reminds_of_the_kyc_limit_and_wants_https(run_khalti: Any) -> None:
    env = {"KHALTI_SECRET_KEY": "k", "KHALTI_WEBSITE_URL": "http://school.example.edu.np",
           "KHALTI_ENV": "production", "KHALTI_BASE_URL": "https://127.0.0.1:9"}  # fmt: skip
    run = run_khalti("doctor", env=env)
    assert run.exit_code == 4
    assert "Rs 200 per payment" in run.stdout
    assert "FAIL  website URL" in run.stdout and "FAIL  Khalti address" in run.stdout
