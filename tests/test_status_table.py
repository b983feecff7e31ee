"""Every row of the contract's status table, end to end: the CLI over real HTTP against the sandbox.

Each test goes `create` -> `initiate` -> a sandbox control action (or a fault) -> `lookup`/`reconcile`,
and reads the stored record back with `show --format json`.
"""

from __future__ import annotations

import time
from typing import Any

import pytest
from conftest import Cli, control, fault

from khalti_cli.sandbox import SandboxServer, start_sandbox
from khalti_cli.statuses import STATUSES

AMOUNT = "1500.50"
PAISA = 150050


def create(cli: Cli, order_id: str = "ORD-1", amount: str = AMOUNT) -> None:
    run = cli("create", "--amount", amount, "--name", "Grade 5 tuition", "--order-id", order_id)
    assert run.exit_code == 0, run.stderr
    assert run.stdout == f"{order_id}\n"


def initiate(cli: Cli, order_id: str = "ORD-1", *extra: str) -> str:
    run = cli("initiate", order_id, *extra)
    assert run.exit_code == 0, run.stderr
    url = run.stdout.strip()
    assert "pidx=" in url
    return url.split("pidx=")[1]


def show(cli: Cli, order_id: str = "ORD-1") -> dict[str, Any]:
    run = cli("show", order_id, "--format", "json")
    assert run.exit_code == 0, run.stderr
    record: dict[str, Any] = run.json()
    return record


def lookup(cli: Cli, order_id: str = "ORD-1", code: int = 0) -> str:
    run = cli("lookup", order_id)
    assert run.exit_code == code, (run.stdout, run.stderr)
    return run.stdout


def started(cli: Cli, order_id: str = "ORD-1") -> str:
    create(cli, order_id)
    return initiate(cli, order_id)


def lookup_body(pidx: str, status: str, total: int = PAISA, txn: str | None = None) -> dict[str, Any]:
    return {"pidx": pidx, "total_amount": total, "status": status, "transaction_id": txn, "fee": 0, "refunded": False}


# -- the plain rows ------------------------------------------------------------------------------


def test_created(cli: Cli, configured: SandboxServer) -> None:
    create(cli)
    record = show(cli)
    assert record["status"] == "created"
    assert record["pidx"] is None and record["khalti_status"] is None and record["links"] == []
    assert configured.state.all() == []


def test_initiated(cli: Cli, configured: SandboxServer) -> None:
    pidx = started(cli)
    record = show(cli)
    assert (record["status"], record["khalti_status"], record["pidx"]) == ("initiated", "Initiated", pidx)
    assert record["payment_url"] == f"{configured.url}/?pidx={pidx}"
    assert record["expires_at"]
    assert lookup(cli) == "ORD-1\tinitiated\n"
    assert show(cli)["status"] == "initiated"
    sent = configured.state.get(pidx)
    assert sent is not None and sent["amount"] == PAISA and sent["purchase_order_id"] == "ORD-1"


def test_pending(cli: Cli, configured: SandboxServer) -> None:
    pidx = started(cli)
    control(configured, pidx, "pending")
    assert lookup(cli) == "ORD-1\tpending\n"
    record = show(cli)
    assert (record["status"], record["khalti_status"]) == ("pending", "Pending")


def test_completed(cli: Cli, configured: SandboxServer) -> None:
    pidx = started(cli)
    paid = control(configured, pidx, "complete")
    assert lookup(cli) == "ORD-1\tcompleted\n"
    record = show(cli)
    assert record["status"] == "completed" and record["review_reason"] is None
    assert record["khalti_status"] == "Completed"
    assert record["total_amount_paisa"] == PAISA
    assert record["transaction_id"] == paid["transaction_id"]


def test_partially_refunded(cli: Cli, configured: SandboxServer) -> None:
    pidx = started(cli)
    control(configured, pidx, "complete")
    assert lookup(cli) == "ORD-1\tcompleted\n"
    control(configured, pidx, "refund", {"amount": 50000})
    assert lookup(cli) == "ORD-1\tpartially_refunded\n"
    record = show(cli)
    assert record["khalti_status"] == "Partially Refunded" and record["refunded"] is True


def test_refunded(cli: Cli, configured: SandboxServer) -> None:
    pidx = started(cli)
    control(configured, pidx, "complete")
    lookup(cli)
    control(configured, pidx, "refund")
    assert lookup(cli) == "ORD-1\trefunded\n"
    assert show(cli)["khalti_status"] == "Refunded"


def test_expired_by_control_action(cli: Cli, configured: SandboxServer) -> None:
    pidx = started(cli)
    control(configured, pidx, "expire")
    assert lookup(cli) == "ORD-1\texpired\n"
    record = show(cli)
    assert record["khalti_status"] == "Expired"
    assert [link["state"] for link in record["links"]] == ["final"]


def test_expired_by_ttl(cli: Cli, monkeypatch: pytest.MonkeyPatch) -> None:
    from conftest import TEST_KEY

    with start_sandbox(key=TEST_KEY, ttl=1) as server:
        monkeypatch.setenv("KHALTI_BASE_URL", server.url)
        monkeypatch.setenv("KHALTI_SECRET_KEY", TEST_KEY)
        monkeypatch.setenv("KHALTI_WEBSITE_URL", "https://school.example.edu.np")
        started(cli)
        time.sleep(1.1)
        run = cli("reconcile", "--format", "json")
        assert run.exit_code == 0, run.stderr
        summary = run.json()
        assert summary["checked"] == 1 and summary["changed"] == 1
        assert summary["by_status"] == {"expired": 1}
    assert show(cli)["status"] == "expired"


def test_canceled(cli: Cli, configured: SandboxServer) -> None:
    pidx = started(cli)
    control(configured, pidx, "cancel")
    assert lookup(cli) == "ORD-1\tcanceled\n"
    assert show(cli)["khalti_status"] == "User canceled"


def test_failed_when_khalti_rejects_initiate(cli: Cli, configured: SandboxServer) -> None:
    create(cli)
    fault(
        configured,
        {
            "json": {
                "amount": ["Amount should be greater than Rs. 10, that is 1000 paisa."],
                "error_key": "validation_error",
            },
            "status": 400,
            "path": "initiate",
        },
    )
    run = cli("initiate", "ORD-1")
    assert run.exit_code == 3
    assert run.stdout == ""
    assert "Amount should be greater than Rs. 10" in run.stderr
    record = show(cli)
    assert record["status"] == "failed"
    assert "Amount should be greater" in record["failure_reason"]
    assert configured.state.all() == []


def test_failed_for_an_invalid_website_url(cli: Cli, configured: SandboxServer) -> None:
    create(cli)
    run = cli("initiate", "ORD-1", env={"KHALTI_WEBSITE_URL": "not a url"})
    assert run.exit_code == 3
    assert "website_url" in run.stderr
    assert show(cli)["status"] == "failed"
    assert configured.state.all() == []


def test_failed_when_khalti_says_failed(cli: Cli, configured: SandboxServer) -> None:
    pidx = started(cli)
    fault(configured, {"json": lookup_body(pidx, "Failed"), "status": 400, "path": "lookup"})
    assert lookup(cli) == "ORD-1\tfailed\n"


# -- review, for each reason ---------------------------------------------------------------------


def test_review_amount_mismatch(cli: Cli, configured: SandboxServer) -> None:
    pidx = started(cli)
    control(configured, pidx, "complete", {"total_amount": 1000})
    assert lookup(cli, code=5) == "ORD-1\treview\n"
    record = show(cli)
    assert record["status"] == "review"
    assert "mismatch" in record["review_reason"].lower()
    assert pidx in record["review_reason"] and "Rs 10.00" in record["review_reason"]
    assert record["total_amount_paisa"] == 1000


def test_review_two_completed_links(cli: Cli, configured: SandboxServer) -> None:
    first = started(cli)
    second = initiate(cli, "ORD-1", "--force")
    assert first != second
    control(configured, first, "complete")
    control(configured, second, "complete")
    run = cli("reconcile")
    assert run.exit_code == 5, (run.stdout, run.stderr)
    assert "review 1" in run.stdout
    record = show(cli)
    assert record["status"] == "review"
    assert first in record["review_reason"] and second in record["review_reason"]
    # a second run is quiet about it: the payment did not newly go to review
    again = cli("reconcile", "--all")
    assert again.exit_code == 0, again.stderr
    assert show(cli)["status"] == "review"


def test_reconcile_keeps_checking_an_older_live_link(cli: Cli, configured: SandboxServer) -> None:
    first = started(cli)
    second = initiate(cli, "ORD-1", "--force")
    control(configured, second, "complete")
    run = cli("reconcile", "--format", "json")
    assert run.exit_code == 0 and run.json()["by_status"] == {"completed": 1}
    assert show(cli)["pidx"] == second
    control(configured, first, "complete")  # the older link is paid as well, later
    run = cli("reconcile", "--format", "json")
    assert run.exit_code == 5, run.stderr
    assert run.json()["checked"] == 1 and run.json()["review"] == 1
    reason = show(cli)["review_reason"]
    assert first in reason and second in reason


def test_review_two_completed_links_found_by_lookup(cli: Cli, configured: SandboxServer) -> None:
    first = started(cli)
    second = initiate(cli, "ORD-1", "--force")
    control(configured, first, "complete")
    control(configured, second, "complete")
    assert lookup(cli, code=5) == "ORD-1\treview\n"
    reason = show(cli)["review_reason"]
    assert first in reason and second in reason


def test_review_status_khalti_does_not_document(cli: Cli, configured: SandboxServer) -> None:
    pidx = started(cli)
    fault(configured, {"json": lookup_body(pidx, "Weird"), "path": "lookup"})
    assert lookup(cli, code=5) == "ORD-1\treview\n"
    record = show(cli)
    assert "'Weird'" in record["review_reason"]
    assert record["khalti_status"] == "Weird"


def test_review_pidx_khalti_does_not_know(cli: Cli, configured: SandboxServer) -> None:
    from conftest import TEST_KEY

    pidx = started(cli)
    with start_sandbox(key=TEST_KEY) as fresh:  # a fresh sandbox has never heard of the pidx
        run = cli("lookup", "ORD-1", env={"KHALTI_BASE_URL": fresh.url})
    assert run.exit_code == 5, run.stderr
    assert run.stdout == "ORD-1\treview\n"
    record = show(cli)
    assert record["status"] == "review"
    assert pidx in record["review_reason"] and "Not found" in record["review_reason"]


def test_review_completed_then_reported_unpaid(cli: Cli, configured: SandboxServer) -> None:
    pidx = started(cli)
    control(configured, pidx, "complete")
    assert lookup(cli) == "ORD-1\tcompleted\n"
    fault(configured, {"json": lookup_body(pidx, "Expired"), "status": 400, "path": "lookup"})
    assert lookup(cli, code=5) == "ORD-1\treview\n"
    record = show(cli)
    assert "was completed" in record["review_reason"] and pidx in record["review_reason"]


def test_review_is_sticky(cli: Cli, configured: SandboxServer) -> None:
    pidx = started(cli)
    fault(configured, {"json": lookup_body(pidx, "Weird"), "path": "lookup"})
    lookup(cli, code=5)
    reason = show(cli)["review_reason"]
    control(configured, pidx, "complete")
    # Khalti now says Completed for the exact amount: still review, and not a new review (exit 0)
    assert lookup(cli) == "ORD-1\treview\n"
    run = cli("reconcile", "--all", "--format", "json")
    assert run.exit_code == 0, run.stderr
    assert run.json()["by_status"] == {"review": 1}
    record = show(cli)
    assert record["status"] == "review"
    assert record["review_reason"].startswith(reason)
    assert "completed" not in [e["to_status"] for e in record["history"]]


# -- re-initiation -------------------------------------------------------------------------------


@pytest.mark.parametrize("action", ["expire", "cancel"])
def test_reinitiate_after_expired_or_canceled_keeps_the_old_link(
    cli: Cli, configured: SandboxServer, action: str
) -> None:
    first = started(cli)
    control(configured, first, action)
    lookup(cli)
    assert show(cli)["status"] in ("expired", "canceled")
    second = initiate(cli)  # no --force needed
    assert second != first
    record = show(cli)
    assert record["status"] == "initiated" and record["pidx"] == second
    assert [link["pidx"] for link in record["links"]] == [first, second]
    assert len(configured.state.all()) == 2
    assert lookup(cli) == "ORD-1\tinitiated\n"


def test_reinitiate_after_failed(cli: Cli, configured: SandboxServer) -> None:
    create(cli)
    fault(
        configured,
        {
            "json": {"amount": ["A valid integer is required."], "error_key": "validation_error"},
            "status": 400,
            "path": "initiate",
        },
    )
    assert cli("initiate", "ORD-1").exit_code == 3
    assert show(cli)["status"] == "failed"
    pidx = initiate(cli)
    record = show(cli)
    assert record["status"] == "initiated" and record["pidx"] == pidx
    assert len(record["links"]) == 2  # the rejected attempt is kept too
    assert record["links"][-1]["pidx"] == pidx


@pytest.mark.parametrize("make_pending", [False, True])
def test_live_link_needs_force(cli: Cli, configured: SandboxServer, make_pending: bool) -> None:
    pidx = started(cli)
    if make_pending:
        control(configured, pidx, "pending")
        lookup(cli)
    status = "pending" if make_pending else "initiated"
    assert show(cli)["status"] == status
    run = cli("initiate", "ORD-1")
    assert run.exit_code == 3
    assert run.stdout == ""
    assert "--force" in run.stderr
    assert len(configured.state.all()) == 1  # nothing was sent
    assert len(show(cli)["links"]) == 1
    forced = initiate(cli, "ORD-1", "--force")
    assert forced != pidx
    assert len(configured.state.all()) == 2
    assert [link["pidx"] for link in show(cli)["links"]] == [pidx, forced]


def test_completed_cannot_be_initiated_again(cli: Cli, configured: SandboxServer) -> None:
    pidx = started(cli)
    control(configured, pidx, "complete")
    lookup(cli)
    for extra in ([], ["--force"]):
        run = cli("initiate", "ORD-1", *extra)
        assert run.exit_code == 3
        assert "completed" in run.stderr
    assert len(configured.state.all()) == 1


# -- Khalti's letter case ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "word",
    ["Partially Refunded", "Partially refunded", "PARTIALLY REFUNDED", "partially refunded", "partially  Refunded"],
)
def test_partially_refunded_in_any_letter_case(cli: Cli, configured: SandboxServer, word: str) -> None:
    pidx = started(cli)
    fault(configured, {"json": lookup_body(pidx, word, txn="GFq9PFS7b2iYvL8Lir9oXe"), "path": "lookup"})
    assert lookup(cli) == "ORD-1\tpartially_refunded\n"
    record = show(cli)
    assert record["status"] == "partially_refunded" and record["khalti_status"] == word


def test_every_status_is_covered() -> None:
    covered = {
        "created",
        "initiated",
        "pending",
        "completed",
        "partially_refunded",
        "refunded",
        "expired",
        "canceled",
        "failed",
        "review",
    }
    # voided and paid_offline are people's decisions, not Khalti's answers: tests/test_corrections.py
    assert set(STATUSES) == covered | {"voided", "paid_offline"}


@pytest.mark.parametrize("total", [10**30, "99999999999999999999999", -1, None, "1500.50"])
def test_completed_with_an_unusable_amount_goes_to_review(cli: Cli, configured: SandboxServer, total: Any) -> None:
    pidx = started(cli)
    fault(
        configured,
        {"json": lookup_body(pidx, "Completed", total=total, txn="GFq9PFS7b2iYvL8Lir9oXe"), "path": "lookup"},
    )
    run = cli("lookup", "ORD-1")
    assert (run.exit_code, run.stdout) == (5, "ORD-1\treview\n"), run.stderr
    assert "mismatch" in show(cli)["review_reason"].lower()
