"""Corrections end to end against the sandbox: every payment can be brought to a right end.

A double payment settled by refunding one link; an underpayment accepted (and a later contradiction sent
back to review); an underpayment given back and billed again; a fee voided and then paid (review, exit 5
once); cash then Khalti (review); edit refused while a link is live and allowed after it expired; the
refusals that name the way out; money needs a yes; totals; and `actor` on every event.

    python -m pytest -q -n 0 tests/test_corrections.py
"""

from __future__ import annotations

import getpass
import json
import os
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from conftest import Cli, control, fault
from store_checks import check_invariants, events, sandbox_payment, snapshot
from test_refund import _run_on_terminal

from khalti_cli.sandbox import SandboxServer


def show(cli: Cli, order_id: str) -> dict[str, Any]:
    run = cli("show", order_id, "--format", "json")
    assert run.exit_code == 0, run.stderr
    record: dict[str, Any] = run.json()
    return record


def new(cli: Cli, order_id: str, amount: str = "1500", *extra: str) -> None:
    run = cli("create", "--amount", amount, "--name", "Tuition", "--order-id", order_id, *extra)
    assert run.exit_code == 0, run.stderr


def link(cli: Cli, order_id: str, *extra: str) -> str:
    run = cli("initiate", order_id, *extra)
    assert run.exit_code == 0, run.stderr
    return str(run.stdout.strip().split("pidx=")[1])


def reconcile(cli: Cli, code: int) -> dict[str, Any]:
    run = cli("reconcile", "--format", "json")
    assert run.exit_code == code, (run.stdout, run.stderr)
    result: dict[str, Any] = run.json()
    return result


def test_double_payment_settled_by_refunding_one_link(cli: Cli, configured: SandboxServer, isolated: Path) -> None:
    db = isolated / "khalti.db"
    new(cli, "D-1", "1500", "--customer-name", "Sita Sharma")
    first, second = link(cli, "D-1"), link(cli, "D-1", "--force")
    control(configured, first, "complete")
    control(configured, second, "complete")
    assert reconcile(cli, 5)["review"] == 1
    reason = show(cli, "D-1")["review_reason"]
    assert f"khalti refund D-1 --pidx {second}" in reason  # the way out, exactly
    before = snapshot(db)
    refused = cli("refund", "D-1", "--pidx", second)  # not a terminal, no --yes
    assert refused.exit_code == 2 and "--yes" in refused.stderr
    assert snapshot(db) == before and sandbox_payment(configured, second)["status"] == "Completed"
    wrong = cli("refund", "D-1", "--pidx", "nosuchpidx", "--yes")
    assert wrong.exit_code == 3 and "has no link" in wrong.stderr
    run = cli("refund", "D-1", "--pidx", second, "--yes", "--format", "json")
    assert run.exit_code == 0, run.stderr
    record = run.json()
    assert (record["status"], record["review_reason"], record["pidx"]) == ("completed", None, first)
    assert sandbox_payment(configured, second)["status"] == "Refunded"
    assert sandbox_payment(configured, first)["status"] == "Completed"
    check_invariants(db)
    # Khalti agrees on the next runs: completed stays completed, nothing new to review.
    assert reconcile_all(cli) == {"completed": 1}
    assert cli("lookup", "D-1").stdout == "D-1\tcompleted\n"
    assert [e["to_status"] for e in show(cli, "D-1")["history"] if e["kind"] == "status"][-1] == "completed"


def reconcile_all(cli: Cli) -> dict[str, int]:
    run = cli("reconcile", "--all", "--format", "json")
    assert run.exit_code == 0, run.stderr
    by_status: dict[str, int] = run.json()["by_status"]
    return by_status


def test_underpayment_accepted_then_contradicted(cli: Cli, configured: SandboxServer, isolated: Path) -> None:
    db = isolated / "khalti.db"
    new(cli, "U-1")
    older, newer = link(cli, "U-1"), link(cli, "U-1", "--force")
    control(configured, newer, "complete", {"total_amount": 100000})
    assert cli("lookup", "U-1").exit_code == 5
    reason = show(cli, "U-1")["review_reason"]
    assert "Amount mismatch" in reason and "khalti resolve U-1 --as completed --reason" in reason
    assert f"khalti refund U-1 --pidx {newer}" in reason
    assert cli("resolve", "U-1", "--as", "completed", "--yes").exit_code == 2  # --reason is required
    before = snapshot(db)
    assert cli("resolve", "U-1", "--as", "completed", "--reason", "  ", "--yes").exit_code == 3
    wrong = cli("resolve", "U-1", "--as", "paid", "--reason", "x", "--yes")  # a choice: a usage error, listed
    assert wrong.exit_code == 2 and "'paid' is not one of completed, voided." in wrong.stderr
    assert snapshot(db) == before
    run = cli(
        "resolve", "U-1", "--as", "completed", "--reason", "Principal accepted Rs 1,000", "--yes", "--format", "json"
    )
    assert run.exit_code == 0, run.stderr
    assert (run.json()["status"], run.json()["decision"], run.json()["review_reason"]) == (
        "completed",
        "completed",
        None,
    )
    resolved = [e for e in events(db, "U-1") if e["kind"] == "resolve"]
    assert len(resolved) == 1 and "Principal accepted Rs 1,000" in resolved[0]["message"]
    assert json.loads(resolved[0]["detail"])["before"]["status"] == "review"
    # The same answer again is what the person accepted: no new review.
    assert cli("lookup", "U-1").stdout == "U-1\tcompleted\n"
    check_invariants(db)
    # The older link is paid too: a contradiction the decision did not cover, back to review (exit 5, once).
    control(configured, older, "complete")
    assert reconcile(cli, 5)["review"] == 1
    assert (
        f"khalti refund U-1 --pidx {older}" in show(cli, "U-1")["review_reason"]
        or "Double payment" in (show(cli, "U-1")["review_reason"])
    )
    assert reconcile_all(cli) == {"review": 1}
    check_invariants(db)


def test_underpayment_given_back_and_billed_again(cli: Cli, configured: SandboxServer, isolated: Path) -> None:
    db = isolated / "khalti.db"
    new(cli, "U-2")
    pidx = link(cli, "U-2")
    control(configured, pidx, "complete", {"total_amount": 100000})
    assert cli("lookup", "U-2").exit_code == 5
    run = cli("refund", "U-2", "--pidx", pidx, "--yes", "--format", "json")
    assert run.exit_code == 0, run.stderr
    assert run.json()["status"] == "refunded"
    assert sandbox_payment(configured, pidx)["status"] == "Refunded"
    again = link(cli, "U-2")  # the whole fee is still due: a new link is allowed
    assert again != pidx and sandbox_payment(configured, again)["amount"] == 150000
    control(configured, again, "complete")
    assert cli("lookup", "U-2").stdout == "U-2\tcompleted\n"
    check_invariants(db)


def test_fee_voided_then_paid(cli: Cli, configured: SandboxServer, isolated: Path) -> None:
    db = isolated / "khalti.db"
    assert cli("payers", "add", "S-1", "--name", "Sita Sharma").exit_code == 0
    new(cli, "V-1", "1500", "--payer", "S-1")
    new(cli, "V-2", "500", "--payer", "S-1")
    pidx = link(cli, "V-1")
    before = snapshot(db)
    assert cli("void", "V-1", "--reason", "student left").exit_code == 2  # no --yes off a terminal
    assert cli("void", "V-1", "NOPE-9", "--reason", "x", "--yes").exit_code == 3  # one unknown id: nothing
    assert snapshot(db) == before
    run = cli("void", "V-1", "--reason", "student left", "--yes", "--format", "json")
    assert run.exit_code == 0, run.stderr
    assert (run.json()["status"], run.json()["decision"]) == ("voided", "voided")
    totals = cli("payers", "show", "S-1", "--format", "json").json()["totals"]
    assert (totals["due_paisa"], totals["paid_paisa"], totals["voided_paisa"]) == (50000, 0, 150000)
    assert cli("list", "--status", "voided", "--format", "tsv", "--columns", "order_id").stdout == "order_id\nV-1\n"
    assert cli("initiate", "V-1").exit_code == 3
    check_invariants(db)
    # The parent pays the old link anyway: review, exit 5 once, then 0.
    control(configured, pidx, "complete")
    assert reconcile(cli, 5)["review"] == 1
    reason = show(cli, "V-1")["review_reason"]
    assert "after the fee was voided" in reason and f"khalti refund V-1 --pidx {pidx}" in reason
    assert reconcile_all(cli) == {"review": 1}
    # The way out: give the money back; the fee stays voided.
    run = cli("refund", "V-1", "--pidx", pidx, "--yes", "--format", "json")
    assert run.exit_code == 0, run.stderr
    assert (run.json()["status"], run.json()["review_reason"]) == ("voided", None)
    check_invariants(db)


def test_cash_then_khalti(cli: Cli, configured: SandboxServer, isolated: Path) -> None:
    db = isolated / "khalti.db"
    assert cli("payers", "add", "S-2", "--name", "Hari").exit_code == 0
    new(cli, "C-1", "1500", "--payer", "S-2")
    pidx = link(cli, "C-1")
    assert cli("settle", "C-1", "--method", "cash", "--yes").exit_code == 2  # --reference is required
    before = snapshot(db)
    card = cli("settle", "C-1", "--method", "card", "--reference", "R-1", "--yes")  # a choice: a usage error
    assert card.exit_code == 2 and "cash, bank, cheque, other" in card.stderr, card.stderr
    tomorrow = (datetime.now().astimezone() + timedelta(days=1)).date().isoformat()
    future_bs = ("2083-12-01", "in the future")  # a typed year from 2060 is Bikram Sambat, as everywhere
    for day, why in (
        ("2026-02-30", "not a date"),
        (tomorrow, "in the future"),
        future_bs,
        ("2083-13-01", "not a month"),
    ):
        refused = cli("settle", "C-1", "--method", "cash", "--reference", "R-1", "--date", day, "--yes")
        assert refused.exit_code == 3 and why in refused.stderr, (day, refused.stderr)
    assert cli("settle", "C-1", "--method", "cash", "--reference", "R-1").exit_code == 2
    assert snapshot(db) == before
    run = cli(
        "settle",
        "C-1",
        "--method",
        "cash",
        "--reference",
        "RCPT-77",
        "--date",
        "2083-08-04",  # BS: 2026-11-20
        "--yes",
        "--format",
        "json",
    )
    assert run.exit_code == 0, run.stderr
    record = run.json()
    assert (record["status"], record["settle_method"], record["settle_reference"], record["settle_date"]) == (
        "paid_offline",
        "cash",
        "RCPT-77",
        "2026-11-20",
    )
    totals = cli("payers", "show", "S-2", "--format", "json").json()["totals"]
    assert (totals["due_paisa"], totals["paid_paisa"], totals["offline_paisa"]) == (0, 150000, 150000)
    listed = cli("list", "--payer", "S-2", "--format", "table")
    assert "Rs 1,500.00 outside Khalti" in listed.stderr
    report = cli("report", "--format", "json").json()
    assert report["collected_outside_khalti"]["amount_paisa"] == 150000
    assert report["collected"]["amount_paisa"] == 0
    check_invariants(db)
    control(configured, pidx, "complete")  # and the parent paid the link as well
    assert reconcile(cli, 5)["review"] == 1
    reason = show(cli, "C-1")["review_reason"]
    assert "Paid twice" in reason and f"khalti refund C-1 --pidx {pidx}" in reason
    assert reconcile_all(cli) == {"review": 1}
    check_invariants(db)


def test_edit_refused_while_a_link_is_live_allowed_after_it_expired(
    cli: Cli, configured: SandboxServer, isolated: Path
) -> None:
    db = isolated / "khalti.db"
    new(cli, "E-1", "1500", "--customer-name", "Gita")
    pidx = link(cli, "E-1")
    before = snapshot(db)
    refused = cli("edit", "E-1", "--amount", "1600")
    assert refused.exit_code == 3 and "can still be paid" in refused.stderr and "khalti void E-1" in refused.stderr
    assert snapshot(db) == before
    control(configured, pidx, "expire")
    reconcile(cli, 0)
    assert cli("edit", "E-1").exit_code == 2  # nothing to change
    run = cli("edit", "E-1", "--amount", "1,600", "--customer-name", "", "--format", "json")
    assert run.exit_code == 0, run.stderr
    assert (run.json()["amount_paisa"], run.json()["customer_name"], run.json()["status"]) == (160000, None, "expired")
    edits = [e for e in events(db, "E-1") if e["kind"] == "edit"]
    assert len(edits) == 1
    assert json.loads(edits[0]["detail"]) == {
        "before": {"amount_paisa": 150000, "customer_name": "Gita"},
        "after": {"amount_paisa": 160000, "customer_name": None},
    }
    again = link(cli, "E-1")
    assert sandbox_payment(configured, again)["amount"] == 160000
    check_invariants(db)


def test_refusals_name_the_way_out(cli: Cli, configured: SandboxServer, isolated: Path) -> None:
    db = isolated / "khalti.db"
    new(cli, "P-1")
    pidx = link(cli, "P-1")
    control(configured, pidx, "complete")
    assert cli("lookup", "P-1").exit_code == 0
    new(cli, "N-1")
    before, written = snapshot(db), len(events(db))
    cases = [
        (("void", "P-1", "--reason", "x", "--yes"), "khalti refund P-1"),
        (("settle", "P-1", "--method", "cash", "--reference", "r", "--yes"), "already paid"),
        (("resolve", "N-1", "--as", "voided", "--reason", "x", "--yes"), "khalti void"),
        (("edit", "P-1", "--amount", "20"), "khalti note P-1"),
        (("note", "NOPE", "text"), "khalti list"),
        (("note", "N-1", "  "), "empty"),
    ]
    for args, way_out in cases:
        run = cli(*args)
        assert run.exit_code == 3, (args, run.stderr)
        assert way_out in run.stderr, (args, run.stderr)
        assert "Traceback" not in run.stderr
    assert snapshot(db) == before
    assert len(events(db)) == written  # no event was written by a refusal
    fault(configured, {"json": {"pidx": pidx, "status": "Weird", "total_amount": 150000}, "path": "lookup"})
    assert cli("lookup", "P-1").exit_code == 5
    reason = show(cli, "P-1")["review_reason"]
    assert "khalti resolve P-1 --as completed|voided --reason TEXT" in reason
    assert cli("void", "P-1", "--reason", "x", "--yes").stderr.count("khalti resolve P-1 --as voided") == 1


def test_actor_on_every_event(cli: Cli, configured: SandboxServer, isolated: Path, monkeypatch: Any) -> None:
    db = isolated / "khalti.db"
    new(cli, "A-1")
    pidx = link(cli, "A-1")
    monkeypatch.setenv("KHALTI_ACTOR", "cron@office")
    control(configured, pidx, "complete")
    reconcile(cli, 0)
    monkeypatch.setenv("KHALTI_ACTOR", "राम थापा")
    assert cli("note", "A-1", "parent came in").exit_code == 0
    monkeypatch.delenv("KHALTI_ACTOR")
    history = cli("history", "A-1", "--format", "json").json()
    actors = [e["actor"] for e in history]
    assert None not in actors
    login = getpass.getuser()
    assert actors[0] == login  # created by the person at the terminal
    assert {e["actor"] for e in history if e["kind"] in ("lookup", "status") and e["to_status"] != "initiated"} == {
        "cron@office"
    }
    assert history[-1]["actor"] == "राम थापा" and history[-1]["kind"] == "note"
    table = cli("history", "A-1", "--format", "tsv").stdout.splitlines()
    assert "actor" in table[0].split("\t")
    monkeypatch.setenv("KHALTI_ACTOR", "two\nlines")
    bad = cli("note", "A-1", "x")
    assert bad.exit_code == 4 and "KHALTI_ACTOR" in bad.stderr
    assert len([e for e in events(db, "A-1") if e["kind"] == "note"]) == 1


@pytest.mark.parametrize("answer", [b"y\n", b"n\n"])
def test_void_asks_on_a_terminal(cli: Cli, isolated: Path, answer: bytes) -> None:
    new(cli, "T-1", "1500", "--customer-name", "Sita Sharma")
    code, out, terminal = _run_on_terminal(
        ["void", "T-1", "--reason", "waived", "--format", "json"], answer, dict(os.environ)
    )
    assert code == 0, terminal
    assert "Sita Sharma" in terminal and "Rs 1,500.00" in terminal and "voided" in terminal
    assert show(cli, "T-1")["status"] == ("voided" if answer == b"y\n" else "created")
    if answer == b"n\n":
        assert out == "" and "Nothing was changed" in terminal


def test_refund_of_one_link_whose_answer_is_lost(
    cli: Cli, configured: SandboxServer, isolated: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """refund --pidx times out but was made: the lookup shows it, and the payment is decided again."""
    db = isolated / "khalti.db"
    new(cli, "D-2")
    first, second = link(cli, "D-2"), link(cli, "D-2", "--force")
    control(configured, first, "complete")
    control(configured, second, "complete")
    assert cli("lookup", "D-2").exit_code == 5
    monkeypatch.setenv("KHALTI_TIMEOUT", "0.2")
    fault(configured, {"delay_ms": 450, "path": "refund"})
    run = cli("refund", "D-2", "--pidx", second, "--yes", "--format", "json")
    assert run.exit_code == 0, run.stderr
    assert (run.json()["status"], run.json()["pidx"], run.json()["refunded_paisa"]) == ("completed", first, 0)
    assert sandbox_payment(configured, second)["status"] == "Refunded"
    assert [e["outcome"] for e in events(db, "D-2") if e["kind"] == "refund"] == ["attempt", "ok"]
    check_invariants(db)


def test_completed_then_reported_unpaid_resolved(cli: Cli, configured: SandboxServer, isolated: Path) -> None:
    """A person who checked with Khalti keeps it completed; the same answer again changes nothing."""
    db = isolated / "khalti.db"
    new(cli, "K-1")
    pidx = link(cli, "K-1")
    control(configured, pidx, "complete")
    assert cli("lookup", "K-1").stdout == "K-1\tcompleted\n"
    expired = {"pidx": pidx, "status": "Expired", "total_amount": 150000, "transaction_id": None, "fee": 0}
    fault(configured, {"json": expired, "status": 400, "path": "lookup"})
    assert cli("lookup", "K-1").exit_code == 5
    assert "khalti resolve K-1 --as completed|voided" in show(cli, "K-1")["review_reason"]
    run = cli("resolve", "K-1", "--as", "completed", "--reason", "Khalti support confirmed it", "--yes")
    assert run.exit_code == 0, run.stderr
    assert show(cli, "K-1")["status"] == "completed"
    check_invariants(db)
    fault(configured, {"json": expired, "status": 400, "path": "lookup"})
    assert cli("lookup", "K-1").stdout == "K-1\tcompleted\n"
    check_invariants(db)
