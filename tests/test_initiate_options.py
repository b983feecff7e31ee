"""initiate --qr, --open, --wait and create --initiate."""

from __future__ import annotations

import os
import stat
import threading
from pathlib import Path

import pytest
from conftest import Cli

from khalti_cli.sandbox import SandboxServer


def _create(cli: Cli, oid: str, amount: str = "1500") -> None:
    assert cli("create", "--amount", amount, "--name", "Tuition", "--order-id", oid).exit_code == 0


def test_qr_goes_to_stderr_and_stdout_stays_the_url(cli: Cli, configured: SandboxServer) -> None:
    _create(cli, "QR-1")
    run = cli("initiate", "--qr", "QR-1")
    assert run.exit_code == 0
    assert run.stdout.count("\n") == 1 and run.stdout.startswith(configured.url)
    assert "QR-1: scan to pay" in run.stderr
    assert "█" in run.stderr or "▀" in run.stderr or "\x1b[" in run.stderr


def test_open_hands_the_url_to_the_browser(
    cli: Cli, configured: SandboxServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    opened = tmp_path / "opened.txt"
    browser = tmp_path / "browser.sh"
    browser.write_text(f'#!/bin/sh\necho "$1" >> {opened}\n')
    browser.chmod(browser.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("BROWSER", str(browser))
    monkeypatch.delenv("DISPLAY", raising=False)
    _create(cli, "OPEN-1")
    run = cli("initiate", "--open", "OPEN-1")
    assert run.exit_code == 0
    for _ in range(50):  # webbrowser may run the command in the background
        if opened.exists() and opened.read_text().strip():
            break
        threading.Event().wait(0.1)
    assert opened.read_text().strip() == run.stdout.strip()


def test_create_with_initiate_prints_the_url(cli: Cli, configured: SandboxServer) -> None:
    run = cli("create", "--amount", "2000", "--name", "Exam fee", "--order-id", "CI-1", "--initiate")
    assert run.exit_code == 0
    assert run.stdout.strip().startswith(configured.url + "/?pidx=")
    assert cli("lookup", "CI-1").stdout == "CI-1\tinitiated\n"


def test_create_with_initiate_and_no_key_records_nothing(
    cli: Cli, configured: SandboxServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("KHALTI_SECRET_KEY")
    run = cli("create", "--amount", "2000", "--name", "Exam fee", "--order-id", "CI-2", "--initiate")
    assert run.exit_code == 4 and "KHALTI_SECRET_KEY" in run.stderr
    assert cli("list", "--format", "json").json() == []


def test_wait_polls_until_paid(cli: Cli, configured: SandboxServer) -> None:
    _create(cli, "WAIT-1")

    def pay_soon() -> None:
        for _ in range(100):
            payments = configured.state.all()
            if payments:
                threading.Event().wait(1.2)
                configured.state.complete(payments[0]["pidx"])
                return
            threading.Event().wait(0.05)

    payer = threading.Thread(target=pay_soon)
    payer.start()
    run = cli("initiate", "--wait", "--interval", "1", "--wait-timeout", "20", "WAIT-1")
    payer.join()
    assert run.exit_code == 0, run.stderr
    assert run.stdout.strip().startswith(configured.url)
    assert "WAIT-1: completed" in run.stderr
    assert cli("lookup", "WAIT-1").stdout == "WAIT-1\tcompleted\n"


def test_wait_gives_up_with_75(cli: Cli, configured: SandboxServer) -> None:
    _create(cli, "WAIT-2")
    run = cli("initiate", "--wait", "--interval", "1", "--wait-timeout", "2", "WAIT-2")
    assert run.exit_code == 75
    assert "still open" in run.stderr


def test_files_are_private(cli: Cli, isolated: Path) -> None:
    _create(cli, "PRIV-1")
    for name in ("khalti.db",):
        mode = os.stat(isolated / name).st_mode & 0o777
        assert mode == 0o600, (name, oct(mode))


def test_force_on_a_pending_payment_keeps_it_pending(cli: Cli, configured: SandboxServer) -> None:
    """A parent may have paid the pending link: a new link must not hide that."""
    from conftest import control

    _create(cli, "PEND-1")
    first = cli("initiate", "PEND-1").stdout.strip().split("pidx=")[1]
    control(configured, first, "pending")
    assert cli("lookup", "PEND-1").stdout == "PEND-1\tpending\n"
    second = cli("initiate", "--force", "PEND-1")
    assert second.exit_code == 0
    shown = cli("show", "PEND-1", "--format", "json").json()
    assert shown["status"] == "pending" and shown["pidx"] == first
    assert shown["links"][0]["pidx"] == first and len(shown["links"]) == 2
    control(configured, first, "complete")
    assert cli("reconcile").exit_code == 0
    assert cli("lookup", "PEND-1").stdout == "PEND-1\tcompleted\n"
