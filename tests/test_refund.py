"""`khalti refund`: full and partial refunds, the checks before anything is sent, the confirmation on a
terminal, and what happens when Khalti's answer is lost."""

from __future__ import annotations

import os
import pty
import select
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import Cli, fault, khalti_exe
from store_checks import (
    assert_no_key,
    backdate,
    changed_keys,
    check_invariants,
    completed_payment,
    db_files,
    events,
    sandbox_payment,
    snapshot,
    stable,
)

from khalti_cli.sandbox import SandboxServer


def refund_events(db: Path, order_id: str) -> list[str]:
    return [e["outcome"] for e in events(db, order_id) if e["kind"] == "refund"]


def test_full_refund(cli: Cli, configured: SandboxServer, isolated: Path) -> None:
    db = isolated / "khalti.db"
    pidx = completed_payment(cli, configured, "R-1")
    before = snapshot(db)
    run = cli("refund", "R-1", "--yes", "--format", "json")
    assert run.exit_code == 0, run.stderr
    record = run.json()
    assert (record["status"], record["refunded"], record["refunded_paisa"]) == ("refunded", True, 150000)
    assert record["khalti_status"] == "Refunded"
    truth = sandbox_payment(configured, pidx)
    assert (truth["status"], truth["refunded_amount"]) == ("Refunded", 150000)
    after = snapshot(db)
    assert changed_keys(before["payments"]["R-1"], after["payments"]["R-1"]) == {
        "status",
        "khalti_status",
        "refunded",
        "refunded_paisa",
        "updated_at",
    }
    assert refund_events(db, "R-1") == ["attempt", "ok"]
    # Khalti's own lookup agrees with what was stored.
    assert cli("lookup", "R-1").stdout == "R-1\trefunded\n"
    check_invariants(db)
    assert_no_key(run.stdout, run.stderr, files=db_files(db))


def test_partial_refunds_then_the_rest(cli: Cli, configured: SandboxServer, isolated: Path) -> None:
    db = isolated / "khalti.db"
    pidx = completed_payment(cli, configured, "R-2", amount="1,000")
    first = cli("refund", "R-2", "--amount", "250.50", "--yes", "--format", "json")
    assert first.exit_code == 0, first.stderr
    assert (first.json()["status"], first.json()["refunded_paisa"]) == ("partially_refunded", 25050)
    too_much = cli("refund", "R-2", "--amount", "749.51", "--yes")
    assert too_much.exit_code == 3
    assert "only Rs 749.50" in too_much.stderr
    assert sandbox_payment(configured, pidx)["refunded_amount"] == 25050  # nothing was sent
    rest = cli("refund", "R-2", "--yes", "--format", "json")
    assert rest.exit_code == 0, rest.stderr
    assert (rest.json()["status"], rest.json()["refunded_paisa"]) == ("refunded", 100000)
    assert sandbox_payment(configured, pidx)["status"] == "Refunded"
    again = cli("refund", "R-2", "--yes")
    assert again.exit_code == 3 and "has status refunded" in again.stderr
    assert refund_events(db, "R-2") == ["attempt", "ok", "attempt", "ok"]
    assert cli("lookup", "R-2").stdout == "R-2\trefunded\n"
    check_invariants(db)


def test_bank_refund_sends_the_mobile(cli: Cli, configured: SandboxServer, isolated: Path) -> None:
    completed_payment(cli, configured, "R-3")
    bad = cli("refund", "R-3", "--mobile", "12345", "--yes")
    assert bad.exit_code == 3 and "mobile" in bad.stderr
    run = cli("refund", "R-3", "--mobile", "+977-9800000001", "--amount", "100", "--yes", "--format", "json")
    assert run.exit_code == 0, run.stderr
    attempt = next(e for e in events(isolated / "khalti.db", "R-3") if e["outcome"] == "attempt")
    assert '"bank": true' in attempt["detail"]


@pytest.mark.parametrize("amount", ["0", "-5", "1e3", "10.001", "abc", ""])
def test_bad_amounts_are_refused_before_sending(cli: Cli, configured: SandboxServer, amount: str) -> None:
    pidx = completed_payment(cli, configured, "R-4")
    run = cli("refund", "R-4", "--amount", amount, "--yes")
    assert run.exit_code == 3, run.stderr
    assert sandbox_payment(configured, pidx)["status"] == "Completed"


@pytest.mark.parametrize("state", ["created", "initiated", "canceled", "review"])
def test_only_completed_payments_are_refunded(cli: Cli, configured: SandboxServer, isolated: Path, state: str) -> None:
    db = isolated / "khalti.db"
    assert cli("create", "--amount", "1000", "--name", "Fee", "--order-id", "R-5").exit_code == 0
    if state != "created":
        pidx = cli("initiate", "R-5").stdout.strip().split("pidx=")[1]
        if state == "canceled":
            from conftest import control

            control(configured, pidx, "cancel")
        if state == "review":
            from conftest import control

            control(configured, pidx, "complete", {"total_amount": 999})
        cli("lookup", "R-5")
    assert snapshot(db)["payments"]["R-5"]["status"] == state
    before = snapshot(db)
    fault(configured, {"status": 599, "count": 100})  # anything sent would be seen (and fail)
    run = cli("refund", "R-5", "--yes")
    assert run.exit_code == 3, run.stderr
    assert "Nothing was sent" in run.stderr
    assert snapshot(db) == before
    assert configured.state.faults()[0]["count"] == 100


def test_unknown_order_and_missing_key(cli: Cli, configured: SandboxServer, monkeypatch: pytest.MonkeyPatch) -> None:
    assert cli("refund", "NOPE", "--yes").exit_code == 3
    completed_payment(cli, configured, "R-6")
    monkeypatch.delenv("KHALTI_SECRET_KEY")
    run = cli("refund", "R-6", "--yes")
    assert run.exit_code == 4, run.stderr
    assert cli("show", "R-6", "--format", "json").json()["status"] == "completed"


def test_without_yes_off_a_terminal_nothing_is_sent(cli: Cli, configured: SandboxServer, isolated: Path) -> None:
    pidx = completed_payment(cli, configured, "R-7")
    before = snapshot(isolated / "khalti.db")
    run = cli("refund", "R-7", input="y\n")
    assert run.exit_code == 2
    assert "--yes" in run.stderr
    assert snapshot(isolated / "khalti.db") == before
    assert sandbox_payment(configured, pidx)["status"] == "Completed"


def _run_on_terminal(args: list[str], answer: bytes, env: dict[str, str]) -> tuple[int, str, str]:
    """stdin and stderr on a pseudo-terminal, stdout a pipe; answers the prompt once it appears."""
    master, slave = pty.openpty()
    proc = subprocess.Popen([*khalti_exe(), *args], stdin=slave, stderr=slave, stdout=subprocess.PIPE, env=env)
    os.close(slave)
    seen = b""
    deadline = time.monotonic() + 30
    answered = False
    while time.monotonic() < deadline:
        ready, _, _ = select.select([master], [], [], 0.1)
        if ready:
            try:
                chunk = os.read(master, 4096)
            except OSError:
                break
            if not chunk:
                break
            seen += chunk
        if not answered and b"[y/N]" in seen:
            os.write(master, answer)
            answered = True
        if proc.poll() is not None and not ready:
            break
    out = proc.stdout.read().decode() if proc.stdout else ""
    code = proc.wait(timeout=30)
    os.close(master)
    return code, out, seen.decode(errors="replace")


@pytest.mark.parametrize("answer", [b"y\n", b"n\n"])
def test_confirmation_on_a_terminal(cli: Cli, configured: SandboxServer, isolated: Path, answer: bytes) -> None:
    pidx = completed_payment(cli, configured, "R-8", amount="2000")
    code, out, terminal = _run_on_terminal(
        ["refund", "R-8", "--amount", "500", "--format", "json"], answer, dict(os.environ)
    )
    assert "Sita Sharma" in terminal and "Rs 500.00 of Rs 2,000.00" in terminal and "R-8" in terminal
    assert all(len(line) <= 80 for line in terminal.replace("\r", "").splitlines())  # fits an 80-column terminal
    assert code == 0, terminal
    if answer == b"y\n":
        assert sandbox_payment(configured, pidx)["refunded_amount"] == 50000
        assert '"partially_refunded"' in out
    else:
        assert sandbox_payment(configured, pidx)["refunded_amount"] == 0
        assert out == "" and "Nothing was refunded" in terminal
        assert refund_events(isolated / "khalti.db", "R-8") == []
    assert_no_key(out, terminal)


def test_timeout_after_sending_is_looked_up_not_resent(
    cli: Cli, configured: SandboxServer, isolated: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The refund is made but its answer is lost: a lookup shows it, and nothing is sent twice."""
    db = isolated / "khalti.db"
    pidx = completed_payment(cli, configured, "R-9")
    monkeypatch.setenv("KHALTI_TIMEOUT", "0.2")
    fault(configured, {"delay_ms": 450, "path": "refund"})
    run = cli("refund", "R-9", "--amount", "400", "--yes", "--format", "json")
    assert run.exit_code == 0, run.stderr
    assert (run.json()["status"], run.json()["refunded_paisa"]) == ("partially_refunded", 40000)
    assert sandbox_payment(configured, pidx)["refunded_amount"] == 40000
    assert refund_events(db, "R-9") == ["attempt", "ok"]
    check_invariants(db)


def test_unanswered_refund_that_was_not_made(
    cli: Cli, configured: SandboxServer, isolated: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """503 after sending: unknown until the grace period is over; then a lookup shows it was not made and
    the re-run sends it once."""
    monkeypatch.setenv("KHALTI_TIMEOUT", "0.3")  # the checks that follow pause 0.3 s and 0.6 s
    db = isolated / "khalti.db"
    pidx = completed_payment(cli, configured, "R-10")
    before = snapshot(db)
    fault(configured, {"status": 503, "path": "refund"})
    first = cli("refund", "R-10", "--yes")
    assert first.exit_code == 75, first.stderr
    assert "nothing more was sent" in first.stderr
    assert stable(snapshot(db)) == stable(before)  # only the lookups' times moved
    assert refund_events(db, "R-10") == ["attempt", "unknown"]
    soon = cli("refund", "R-10", "--yes")
    assert soon.exit_code == 75 and "not known yet" in soon.stderr
    assert sandbox_payment(configured, pidx)["refunded_amount"] == 0
    backdate(db, "UPDATE events SET at = '2000-01-01T00:00:00.000+00:00' WHERE kind = 'refund'", [])
    later = cli("refund", "R-10", "--yes", "--format", "json")
    assert later.exit_code == 0, later.stderr
    assert later.json()["status"] == "refunded"
    assert refund_events(db, "R-10") == ["attempt", "unknown", "not_applied", "attempt", "ok"]
    assert sandbox_payment(configured, pidx)["refunded_amount"] == 150000
    check_invariants(db)


def test_rerun_after_a_refund_that_was_made(
    cli: Cli, configured: SandboxServer, isolated: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Cut off after sending (the answer lost, and the check after it fails too): the re-run learns it was
    made and sends nothing. (A real SIGKILL at that moment: test_sigkill_after_sending_before_recording.)"""
    db = isolated / "khalti.db"
    pidx = completed_payment(cli, configured, "R-11")
    monkeypatch.setenv("KHALTI_TIMEOUT", "0.2")
    # The refund is made, its answer is lost, and the check that follows fails too.
    fault(configured, {"delay_ms": 600, "path": "refund"})
    fault(configured, {"status": 503, "path": "lookup", "count": 20})
    first = cli("refund", "R-11", "--yes")
    assert first.exit_code == 75, first.stderr
    assert sandbox_payment(configured, pidx)["status"] == "Refunded"
    assert cli("show", "R-11", "--format", "json").json()["status"] == "completed"
    configured.state.clear_faults()
    backdate(db, "UPDATE events SET at = '2000-01-01T00:00:00.000+00:00' WHERE kind = 'refund'", [])
    again = cli("refund", "R-11", "--yes", "--format", "json")
    assert again.exit_code == 0, again.stderr
    assert "nothing more was sent" in again.stderr
    assert (again.json()["status"], again.json()["refunded_paisa"]) == ("refunded", 150000)
    assert refund_events(db, "R-11") == ["attempt", "unknown", "ok"]
    check_invariants(db)


def test_second_partial_refund_without_an_answer_goes_to_review(
    cli: Cli, configured: SandboxServer, isolated: Path
) -> None:
    """After a partial refund, lookup says 'Partially Refunded' whether or not another partial one was made."""
    db = isolated / "khalti.db"
    completed_payment(cli, configured, "R-12")
    assert cli("refund", "R-12", "--amount", "100", "--yes").exit_code == 0
    fault(configured, {"drop": True, "path": "refund"})
    run = cli("refund", "R-12", "--amount", "100", "--yes", "--format", "json")
    assert run.exit_code == 5, run.stderr
    assert run.json()["status"] == "review"
    assert "merchant dashboard" in run.json()["review_reason"]
    assert refund_events(db, "R-12") == ["attempt", "ok", "attempt", "review"]
    assert cli("refund", "R-12", "--yes").exit_code == 3  # nothing more until a person has looked
    check_invariants(db)


def test_rejection_is_recorded(cli: Cli, configured: SandboxServer, isolated: Path) -> None:
    """Refunded from the merchant dashboard meanwhile: Khalti refuses, and the refusal is history."""
    db = isolated / "khalti.db"
    pidx = completed_payment(cli, configured, "R-13")
    configured.state.refund(pidx)  # made outside khalti
    before = snapshot(db)
    run = cli("refund", "R-13", "--yes")
    assert run.exit_code == 3
    assert "Khalti rejected" in run.stderr
    assert snapshot(db) == before
    assert refund_events(db, "R-13") == ["attempt", "rejected"]
    assert cli("lookup", "R-13").stdout == "R-13\trefunded\n"


# --- a real SIGKILL between sending and recording; two runs at once --------------------------------------


def start_refund(order_id: str, *extra: str) -> subprocess.Popen[str]:
    env = {**os.environ, "KHALTI_TIMEOUT": "30"}  # the client would wait: only the kill ends it
    return subprocess.Popen(
        [*khalti_exe(), "refund", order_id, "--yes", *extra],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )


def wait_until(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + 30
    while not condition():
        assert time.monotonic() < deadline, what
        time.sleep(0.01)


TRAP = {"status": 599, "path": "refund", "count": 100}  # any refund request sent from here on consumes it


@pytest.mark.parametrize("made", [True, False], ids=["refund-made", "refund-not-made"])
def test_sigkill_after_sending_before_recording(
    cli: Cli, configured: SandboxServer, isolated: Path, made: bool
) -> None:
    """The refund request has reached Khalti, whose answer is held back; the client is SIGKILLed. The
    attempt was committed before sending, so the next run knows; it looks the payment up first and sends
    a new refund only if the first one was not made."""
    db = isolated / "khalti.db"
    pidx = completed_payment(cli, configured, "R-14")
    before = snapshot(db)
    # made: Khalti applies the refund and holds the answer; not made: the request waits, then fails unapplied.
    fault(
        configured, {"hold": True, "path": "refund"} if made else {"status": 503, "delay_ms": 600_000, "path": "refund"}
    )
    proc = start_refund("R-14")
    wait_until(lambda: not configured.state.faults(), "the refund request reached the sandbox")
    if made:
        wait_until(lambda: sandbox_payment(configured, pidx)["refunded_amount"] == 150000, "the refund was made")
    assert proc.poll() is None  # still waiting for the answer
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    configured.state.clear_faults()  # releases the held answer: nobody is listening any more
    assert refund_events(db, "R-14") == ["attempt"]  # committed before sending; no outcome recorded
    assert stable(snapshot(db)) == stable(before)
    check_invariants(db)
    fault(configured, TRAP)
    soon = cli("refund", "R-14", "--yes")
    assert soon.exit_code == 75 and "not known yet" in soon.stderr, soon.stderr
    assert configured.state.faults()[0]["count"] == 100  # nothing was sent
    backdate(db, "UPDATE events SET at = '2000-01-01T00:00:00.000+00:00' WHERE kind = 'refund'", [])
    if made:
        again = cli("refund", "R-14", "--yes", "--format", "json")
        assert again.exit_code == 0, again.stderr
        assert "nothing more was sent" in again.stderr
        assert configured.state.faults()[0]["count"] == 100  # looked up, not resent
        assert refund_events(db, "R-14") == ["attempt", "ok"]
    else:
        configured.state.clear_faults()
        again = cli("refund", "R-14", "--yes", "--format", "json")
        assert again.exit_code == 0, again.stderr
        assert refund_events(db, "R-14") == ["attempt", "not_applied", "attempt", "ok"]
    assert (again.json()["status"], again.json()["refunded_paisa"]) == ("refunded", 150000)
    assert sandbox_payment(configured, pidx)["refunded_amount"] == 150000  # refunded once, never twice
    check_invariants(db)


def test_two_refund_runs_of_one_payment_at_once(cli: Cli, configured: SandboxServer, isolated: Path) -> None:
    """While one run's refund is out (its answer held), a second run of the same refund sends nothing and
    exits 75; and two runs started at the same moment send one refund between them."""
    db = isolated / "khalti.db"
    pidx = completed_payment(cli, configured, "R-15")
    fault(configured, {"hold": True, "path": "refund"})
    first = start_refund("R-15", "--amount", "100")
    wait_until(lambda: not configured.state.faults(), "the first refund reached the sandbox")
    fault(configured, TRAP)
    second = cli("refund", "R-15", "--amount", "100", "--yes")
    assert second.exit_code == 75, second.stderr
    assert "Nothing was sent" in second.stderr
    assert configured.state.faults()[0]["count"] == 100
    configured.state.clear_faults()  # releases the first run's answer
    _, err = first.communicate(timeout=30)
    assert first.returncode == 0, err
    assert sandbox_payment(configured, pidx)["refunded_amount"] == 10000
    assert refund_events(db, "R-15") == ["attempt", "ok"]

    # A real race: both started together; SQLite's write lock lets one record its attempt first.
    racers = [start_refund("R-15", "--amount", "200") for _ in range(2)]
    results = []
    for racer in racers:
        _, err = racer.communicate(timeout=60)
        results.append((racer.returncode, err))
    codes = sorted(code for code, _ in results)
    assert codes[0] == 0 and codes[1] in (0, 3, 75), results
    refunded = sandbox_payment(configured, pidx)["refunded_amount"]
    sent = refund_events(db, "R-15").count("attempt") - 1
    assert refunded == 10000 + 20000 * sent
    if codes[1] == 0:  # the second ran after the first had finished: a second, separate refund
        assert sent == 2
    else:
        assert sent == 1
    check_invariants(db)
