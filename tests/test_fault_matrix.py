"""Every injected gateway fault against every command that talks to Khalti.

For each fault x {initiate, lookup, reconcile, refund}: the stored state afterwards is exactly right (what
Khalti really did or said) or exactly unchanged (whole rows of payments and links compared), the exit
code is the contract's, initiate and refund are sent at most once, and the key shows up nowhere.

    python -m pytest -q -n 0 tests/test_fault_matrix.py
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest
from conftest import Cli, Run, control, fault
from store_checks import (
    assert_no_key,
    backdate,
    changed_keys,
    check_invariants,
    completed_payment,
    db_files,
    events,
    lookup_body,
    pidx_of,
    sandbox_payment,
    snapshot,
    stable,
)

from khalti_cli.sandbox import SandboxServer

# name -> spec (without count/path). "slow" answers after the client's timeout (KHALTI_TIMEOUT=0.2).
FAULTS: dict[str, dict[str, Any]] = {
    "503": {"status": 503},
    "500-html": {"status": 500},
    "429": {"status": 429, "retry_after": 0},
    "drop": {"drop": True},
    "slow": {"delay_ms": 450},
    "not-json": {"body": "not json", "status": 200},
    "extra-fields": {"status": 200},  # the JSON body is built per endpoint: a valid answer plus extras
}
EXTRAS = {"unexpected": {"nested": [1, 2]}, "state": {"name": "Completed"}, "idx": "x1"}
OUTAGE = 50  # "count" for a fault that outlasts every retry

# Times the number of every try at every cell, for the README's figures.
CELLS: list[str] = []


@pytest.fixture
def db(configured: SandboxServer, isolated: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("KHALTI_TIMEOUT", "0.2")
    return isolated / "khalti.db"


def spec(name: str, path: str, count: int, body: Any = None) -> dict[str, Any]:
    result = {**FAULTS[name], "path": path, "count": count}
    if name == "extra-fields":
        result["json"] = body
    return result


def remaining(server: SandboxServer) -> int:
    faults = server.state.faults()
    return int(faults[0]["count"]) if faults else 0


def finish(run: Run, db: Path) -> None:
    check_invariants(db)
    assert_no_key(run.stdout, run.stderr, files=db_files(db))
    assert "Traceback" not in run.stderr


# --- initiate: never retried once it may have been sent ----------------------------------------------


@pytest.mark.parametrize("name", list(FAULTS))
def test_initiate(name: str, cli: Cli, configured: SandboxServer, db: Path) -> None:
    assert cli("create", "--amount", "1000", "--name", "Fee", "--order-id", "F-1").exit_code == 0
    before = snapshot(db)
    body = None
    if name == "extra-fields":
        body = {
            "pidx": "FakePidxFromTheAnswer1",
            "payment_url": f"{configured.url}/?pidx=FakePidxFromTheAnswer1",
            "expires_at": "2030-01-01T10:00:00.000000+05:45",
            "expires_in": 1800,
            **EXTRAS,
        }
    fault(configured, spec(name, "initiate", OUTAGE, body))
    run = cli("initiate", "F-1")
    assert remaining(configured) == OUTAGE - 1  # exactly one initiate went out: no retry
    configured.state.clear_faults()
    after = snapshot(db)
    if name == "extra-fields":
        assert run.exit_code == 0, run.stderr
        assert run.stdout == body["payment_url"] + "\n"  # type: ignore[index]
        assert changed_keys(before["payments"]["F-1"], after["payments"]["F-1"]) == {
            "status",
            "khalti_status",
            "pidx",
            "payment_url",
            "expires_at",
            "updated_at",
        }
        assert after["payments"]["F-1"]["pidx"] == "FakePidxFromTheAnswer1"
        (link,) = after["links"].values()
        assert before["links"] == {}
        assert {k: link[k] for k in LINK_MADE} == {
            "payment_id": after["payments"]["F-1"]["id"],
            "pidx": "FakePidxFromTheAnswer1",
            "state": "open",
            "khalti_status": "Initiated",
            "payment_url": body["payment_url"],  # type: ignore[index]
            "amount_paisa": 100000,
            "total_amount_paisa": None,
            "transaction_id": None,
            "refunded": None,
            "lookup_response": None,
        }
        assert json.loads(link["initiate_response"])["pidx"] == "FakePidxFromTheAnswer1"
        assert link["expires_at"] == after["payments"]["F-1"]["expires_at"]
        finish(run, db)
        return
    assert run.exit_code == 75, run.stderr
    assert run.stdout == ""
    assert after["payments"] == before["payments"]  # exactly unchanged
    (link,) = after["links"].values()
    assert (link["state"], link["pidx"], link["payment_url"]) == ("unknown", None, None)
    # Khalti made a link only when the request really reached the endpoint (the slow answer).
    deadline = time.monotonic() + 3
    while name == "slow" and not configured.state.all() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert len(configured.state.all()) == (1 if name == "slow" else 0)
    # reconcile leaves the unknown link alone during the grace period, then voids it.
    assert cli("reconcile").exit_code == 0
    assert snapshot(db)["links"]["1"]["state"] == "unknown"
    backdate(db, "UPDATE links SET created_at = '2000-01-01T00:00:00.000+00:00' WHERE id = 1", [])
    voided = cli("reconcile")
    assert voided.exit_code == 0, voided.stderr
    assert snapshot(db)["links"]["1"]["state"] == "void"
    assert snapshot(db)["payments"] == before["payments"]
    assert [e["outcome"] for e in events(db, "F-1") if e["kind"] == "initiate"] == ["error", "void"]
    # and the payment can be initiated again, once.
    again = cli("initiate", "F-1")
    assert again.exit_code == 0, again.stderr
    assert snapshot(db)["payments"]["F-1"]["status"] == "initiated"
    finish(run, db)


# --- lookup: retried; a passing fault is absorbed (exit 0), an outage leaves everything as it was --------


def paid_link(cli: Cli, server: SandboxServer, order_id: str) -> str:
    assert cli("create", "--amount", "1000", "--name", "Fee", "--order-id", order_id).exit_code == 0
    pidx = cli("initiate", order_id).stdout.strip().split("pidx=")[1]
    control(server, pidx, "complete")
    return pidx


LINK_MADE = (
    "payment_id",
    "pidx",
    "state",
    "khalti_status",
    "payment_url",
    "amount_paisa",
    "total_amount_paisa",
    "transaction_id",
    "refunded",
    "lookup_response",
)
LOOKED_UP = {  # what storing a lookup answer may change in a link row
    "khalti_status",
    "total_amount_paisa",
    "transaction_id",
    "fee_paisa",
    "refunded",
    "lookup_response",
    "lookup_http_status",
    "state",
    "checked_at",
    "updated_at",
}


def link_of(snap: dict[str, Any], pidx: str) -> dict[str, Any]:
    (link,) = (link for link in snap["links"].values() if link["pidx"] == pidx)
    return link


def assert_link_right(before: dict[str, Any], after: dict[str, Any], truth: dict[str, Any], state: str) -> None:
    """The whole link row: only what a lookup stores changed, and it is Khalti's truth."""
    assert changed_keys(before, after) <= LOOKED_UP
    assert (after["khalti_status"], after["state"], after["lookup_http_status"]) == (
        truth["status"],
        state,
        400 if state == "final" and truth["status"] in ("User canceled", "Expired") else 200,
    )
    assert (after["total_amount_paisa"], after["transaction_id"], after["fee_paisa"]) == (
        truth["total_amount"],
        truth["transaction_id"],
        truth["fee"],
    )
    assert json.loads(after["lookup_response"])["status"] == truth["status"]


def assert_completed_right(before: dict[str, Any], after: dict[str, Any], truth: dict[str, Any]) -> None:
    assert changed_keys(before, after) <= {
        "status",
        "khalti_status",
        "transaction_id",
        "total_amount_paisa",
        "fee_paisa",
        "updated_at",
        "checked_at",
        "receipt_no",  # given when first stored paid (tests/test_receipts.py)
        "paid_at",
    }
    assert (after["status"], after["khalti_status"]) == ("completed", "Completed")
    assert (after["transaction_id"], after["total_amount_paisa"], after["fee_paisa"], after["pidx"]) == (
        truth["transaction_id"],
        truth["total_amount"],
        truth["fee"],
        truth["pidx"],
    )


@pytest.mark.parametrize("count", [1, OUTAGE], ids=["passing", "outage"])
@pytest.mark.parametrize("name", list(FAULTS))
def test_lookup(name: str, count: int, cli: Cli, configured: SandboxServer, db: Path) -> None:
    pidx = paid_link(cli, configured, "F-2")
    truth = sandbox_payment(configured, pidx)
    before = snapshot(db)
    fault(configured, spec(name, "lookup", count, lookup_body(truth, **EXTRAS)))
    run = cli("lookup", "F-2")
    configured.state.clear_faults()
    after = snapshot(db)
    if count == 1 or name == "extra-fields":
        assert run.exit_code == 0, run.stderr
        assert run.stdout == "F-2\tcompleted\n"
        assert_completed_right(before["payments"]["F-2"], after["payments"]["F-2"], truth)
        assert_link_right(link_of(before, pidx), link_of(after, pidx), truth, "final")
    else:
        assert run.exit_code == 75, run.stderr
        assert run.stdout == ""  # no answer: no stale status printed as if it were one
        assert after == before  # not even checked_at moves
        assert [e["outcome"] for e in events(db, "F-2")][-1] == "error"
    finish(run, db)


# --- reconcile: the same, for a batch of links with different truths --------------------------------------


@pytest.mark.parametrize("count", [1, OUTAGE], ids=["passing", "outage"])
@pytest.mark.parametrize("name", list(FAULTS))
def test_reconcile(name: str, count: int, cli: Cli, configured: SandboxServer, db: Path) -> None:
    paid = paid_link(cli, configured, "F-3a")
    canceled = paid_link_or_cancel(cli, configured, "F-3b")
    assert cli("create", "--amount", "1200", "--name", "Fee", "--order-id", "F-3c").exit_code == 0
    assert cli("initiate", "F-3c").exit_code == 0
    truth = sandbox_payment(configured, paid)
    before = snapshot(db)
    fault(configured, spec(name, "lookup", count, lookup_body(truth, **EXTRAS)))
    # One lookup at a time, oldest link first, so the extra-fields answer meets the link it describes.
    run = cli("reconcile", "--concurrency", "1" if name == "extra-fields" else "8", "--format", "json")
    configured.state.clear_faults()
    after = snapshot(db)
    if count == 1:
        assert run.exit_code == 0, run.stderr
        summary = run.json()
        assert (summary["checked"], summary["changed"], summary["errors"]) == (3, 2, 0)
        assert_completed_right(before["payments"]["F-3a"], after["payments"]["F-3a"], truth)
        assert_link_right(link_of(before, paid), link_of(after, paid), truth, "final")
        assert after["payments"]["F-3b"]["status"] == "canceled"
        canceled_truth = sandbox_payment(configured, canceled)
        assert canceled_truth["status"] == "User canceled"
        assert_link_right(link_of(before, canceled), link_of(after, canceled), canceled_truth, "final")
        open_pidx = after["payments"]["F-3c"]["pidx"]
        assert_link_right(
            link_of(before, open_pidx), link_of(after, open_pidx), sandbox_payment(configured, open_pidx), "open"
        )
        assert after["payments"]["F-3c"]["status"] == "initiated"
        assert changed_keys(before["payments"]["F-3c"], after["payments"]["F-3c"]) <= {
            "total_amount_paisa",
            "fee_paisa",
            "updated_at",
            "checked_at",
        }
    elif name == "extra-fields":  # every lookup gets F-3a's answer: right for it, refused for the others
        assert run.exit_code == 75, run.stderr
        assert run.json()["errors"] == 2
        assert_completed_right(before["payments"]["F-3a"], after["payments"]["F-3a"], truth)
        assert_link_right(link_of(before, paid), link_of(after, paid), truth, "final")
        for other in ("F-3b", "F-3c"):
            assert after["payments"][other] == before["payments"][other]
            pidx = before["payments"][other]["pidx"]
            assert link_of(after, pidx) == link_of(before, pidx)
    else:
        assert run.exit_code == 75, run.stderr
        assert run.json()["errors"] == 3
        assert after == before
    finish(run, db)


def paid_link_or_cancel(cli: Cli, server: SandboxServer, order_id: str) -> str:
    assert cli("create", "--amount", "1100", "--name", "Fee", "--order-id", order_id).exit_code == 0
    pidx = cli("initiate", order_id).stdout.strip().split("pidx=")[1]
    control(server, pidx, "cancel")
    return pidx


# --- refund: sent once; an unanswered one is looked up, never resent blindly ------------------------------


@pytest.mark.parametrize("name", [*FAULTS, "outage-everywhere"])
def test_refund(name: str, cli: Cli, configured: SandboxServer, db: Path) -> None:
    pidx = completed_payment(cli, configured, "F-4")
    before = snapshot(db)
    if name == "outage-everywhere":  # the refund and every lookup that would check it fail
        fault(configured, {"status": 503, "count": OUTAGE})
    else:
        answer = {"detail": "Transaction refund successful.", **EXTRAS}
        fault(configured, spec(name, "refund", OUTAGE, answer))
    run = cli("refund", "F-4", "--yes", "--format", "json")
    if name != "outage-everywhere":
        assert remaining(configured) == OUTAGE - 1  # exactly one refund request
    configured.state.clear_faults()
    after = snapshot(db)
    outcomes = [e["outcome"] for e in events(db, "F-4") if e["kind"] == "refund"]
    made = sandbox_payment(configured, pidx)["refunded_amount"]
    if name in ("slow", "extra-fields"):
        # Made (slow: the lookup saw it), or Khalti said so (extra-fields): stored as refunded.
        assert run.exit_code == 0, run.stderr
        assert changed_keys(before["payments"]["F-4"], after["payments"]["F-4"]) <= {
            "status",
            "khalti_status",
            "refunded",
            "refunded_paisa",
            "updated_at",
            "checked_at",
        }
        assert (after["payments"]["F-4"]["status"], after["payments"]["F-4"]["refunded_paisa"]) == ("refunded", 150000)
        # The link shows the refund; nothing else in it moved (a lookup that saw it may refresh its answer).
        link_before, link_after = link_of(before, pidx), link_of(after, pidx)
        assert changed_keys(link_before, link_after) <= LOOKED_UP
        assert (link_after["khalti_status"], link_after["refunded"], link_after["state"]) == ("Refunded", 1, "final")
        assert {k: v for k, v in after["payments"].items() if k != "F-4"} == {
            k: v for k, v in before["payments"].items() if k != "F-4"
        }
        assert made == (150000 if name == "slow" else 0)
        assert outcomes == ["attempt", "ok"]
        finish(run, db)
        return
    assert run.exit_code == 75, run.stderr
    assert made == 0
    assert stable(after) == stable(before)
    assert outcomes == (["attempt", "error"] if name == "429" else ["attempt", "unknown"])
    if name != "429":  # the outcome is open: a re-run waits out the grace period, then checks first
        assert cli("refund", "F-4", "--yes").exit_code == 75
        backdate(db, "UPDATE events SET at = '2000-01-01T00:00:00.000+00:00' WHERE kind = 'refund'", [])
    again = cli("refund", "F-4", "--yes", "--format", "json")
    assert again.exit_code == 0, again.stderr
    assert again.json()["status"] == "refunded"
    assert sandbox_payment(configured, pidx)["refunded_amount"] == 150000
    finish(run, db)
    assert pidx_of(db, "F-4") == pidx


# --- the invariant's oracle -----------------------------------------------------------------------------

WORDS: list[tuple[str | None, int]] = [  # (Khalti's word, the amount it reports) for one link
    (None, 0),
    ("Initiated", 0),
    ("Pending", 0),
    ("Completed", 1000),
    ("Completed", 900),
    ("Refunded", 1000),
    ("partially refunded", 1000),
    ("Expired", 0),
    ("User canceled", 0),
    ("Failed", 0),
    ("not_found", 0),
    ("Reversed", 0),  # a word Khalti's docs do not list
]


def test_the_contract_table_and_the_program_decide_alike() -> None:
    """store_checks.expected_status (the contract's rules, written in the tests) against the program's own
    rule, for every stored status and every one- and two-link combination: a wrong rule in either shows."""
    from store_checks import expected_status

    from khalti_cli.services.apply import decide_for

    combos = [[a] for a in WORDS] + [[a, b] for a in WORDS for b in WORDS]
    checked = 0
    for stored in ("created", "initiated", "pending", "completed", "refunded", "expired", "review"):
        for combo in combos:
            links = [
                {"pidx": f"P{i}", "state": "open", "khalti_status": word, "total_amount_paisa": amount}
                for i, (word, amount) in enumerate(combo)
            ]
            payment = {
                "order_id": "M-1",
                "status": stored,
                "amount_paisa": 1000,
                "review_reason": "earlier" if stored == "review" else None,
            }
            assert decide_for(payment, links)[0] == expected_status(stored, 1000, links), (stored, combo)
            checked += 1
    assert checked == 7 * (12 + 144)


def test_the_contract_table_and_the_program_decide_alike_after_a_decision() -> None:
    """The same comparison after a person's standing decision (void, settle, resolve as completed, issue 10):
    the decision accepted the problems its first link showed, and a second link may bring new ones."""
    import json

    from store_checks import expected_status, known_problems

    from khalti_cli.services.apply import decide_for

    checked = 0
    for decision in ("voided", "paid_offline", "completed"):
        for combo in [[a] for a in WORDS] + [[a, b] for a in WORDS for b in WORDS]:
            links = [
                {"pidx": f"P{i}", "state": "open", "khalti_status": word, "total_amount_paisa": amount}
                for i, (word, amount) in enumerate(combo)
            ]
            accepted = frozenset(known_problems("review", 1000, links[:1], None)[0])
            payment = {
                "order_id": "M-1",
                "status": decision,
                "amount_paisa": 1000,
                "review_reason": None,
                "decision": decision,
                "accepted": json.dumps(sorted(accepted)),
            }
            assert decide_for(payment, links)[0] == expected_status(decision, 1000, links, decision, accepted), (
                decision,
                combo,
            )
            checked += 1
    assert checked == 3 * (12 + 144)
