"""khalti bill: one payment per payer for a BS month, fee heads sent to Khalti, idempotent, bad input
stores nothing."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from conftest import Cli, Run
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from khalti_cli import calendar
from khalti_cli.sandbox import SandboxServer

FEES = ("--fee", "Tuition=4500", "--fee", "Transport=1,200.50")


def add_payers(cli: Cli, group: str, *refs: str) -> None:
    for ref in refs:
        assert cli("payers", "add", ref, "--name", f"Student {ref}", "--group", group).exit_code == 0


def count_payments(db: Path) -> int:
    with sqlite3.connect(db) as conn:
        return int(conn.execute("SELECT COUNT(*) FROM payments").fetchone()[0])


def test_bill_a_class_then_again_then_a_new_payer(cli: Cli, isolated: Path) -> None:
    add_payers(cli, "Grade 5", "S1", "S2")
    add_payers(cli, "Grade 6", "S9")
    dry = cli("bill", "--month", "2082-08", "--group", "Grade 5", *FEES, "--dry-run")
    assert dry.exit_code == 0 and "would add 2 payment(s), Rs 11,401.00" in dry.stderr
    assert count_payments(isolated / "khalti.db") == 0

    run = cli("bill", "--month", "2082-08", "--group", "Grade 5", *FEES, "--format", "json")
    assert run.exit_code == 0, run.stderr
    records = run.json()
    assert [r["payer"] for r in records] == ["S1", "S2"]
    for r in records:
        assert r["amount_paisa"] == 570050 and r["status"] == "created" and r["period"] == "2082-08"
        assert r["heads"] == [
            {"label": "Tuition", "amount_paisa": 450000},
            {"label": "Transport", "amount_paisa": 120050},
        ]
        assert r["customer_name"] == f"Student {r['payer']}" and r["name"].startswith("Mangsir 2082 fees")

    again = cli("bill", "--month", "mangsir 2082", "--group", "Grade 5", *FEES)
    assert again.exit_code == 0 and "Nothing new" in again.stderr and again.stdout.count("\n") <= 1
    assert count_payments(isolated / "khalti.db") == 2

    add_payers(cli, "Grade 5", "S3")
    later = cli("bill", "--month", "२०८२-०८", "--group", "Grade 5", *FEES, "--format", "json")
    assert [r["payer"] for r in later.json()] == ["S3"] and "2 payer(s) already have it" in later.stderr

    # the whole school (every class), each with the same heads; Grade 5 is already billed
    school = cli("bill", "--month", "2082-08", *FEES, "--format", "json")
    assert [r["payer"] for r in school.json()] == ["S9"]


def test_plan_file_gives_each_class_its_heads(cli: Cli, isolated: Path) -> None:
    add_payers(cli, "Grade 1", "A1", "A2")
    add_payers(cli, "Grade 10", "B1")
    plan = isolated / "plan.csv"
    plan.write_text(
        "group,head,amount\n*,Computer,300\nGrade 1,Tuition,3000\nGrade 10,Tuition,6000\nGrade 10,Lab,500\n",
        encoding="utf-8",
    )
    run = cli("bill", "--month", "poush", "--plan", str(plan), "--format", "json")
    assert run.exit_code == 0, run.stderr
    by_payer = {r["payer"]: r for r in run.json()}
    assert by_payer["A1"]["amount_paisa"] == 330000 and by_payer["B1"]["amount_paisa"] == 680000
    assert [h["label"] for h in by_payer["B1"]["heads"]] == ["Computer", "Tuition", "Lab"]
    this_year = calendar.to_bs(calendar.today()).year
    assert by_payer["A1"]["period"] == f"{this_year}-09"
    only = cli("bill", "--month", "poush", "--plan", str(plan), "--group", "Grade 10")
    assert only.exit_code == 0 and "Nothing new" in only.stderr


def test_initiate_sends_the_heads_and_the_payer(cli: Cli, configured: SandboxServer) -> None:
    add_payers(cli, "Grade 5", "S1", "S2")
    run = cli("bill", "--month", "2082-08", "--group", "Grade 5", *FEES, "--initiate", "--format", "json")
    assert run.exit_code == 0, run.stderr
    records = run.json()
    assert len(records) == 2 and all(r["status"] == "initiated" and r["payment_url"] for r in records)
    for r in records:
        sent = configured.state.get(r["pidx"])
        assert sent is not None and sent["amount"] == 570050
        extra = sent["extra"]
        assert extra["amount_breakdown"] == [
            {"label": "Tuition", "amount": 450000},
            {"label": "Transport", "amount": 120050},
        ]
        assert [p["name"] for p in extra["product_details"]] == ["Tuition", "Transport"]
        assert extra["merchant_payer"] == r["payer"] and extra["merchant_period"] == "2082-08"
    # a re-run with --initiate makes no second link for payments that have one
    again = cli("bill", "--month", "2082-08", "--group", "Grade 5", *FEES, "--initiate", "--format", "json")
    assert again.exit_code == 0 and again.json() == []


BAD = [
    (["--month", "smarch", "--fee", "Tuition=100"], "is not a month"),
    (["--month", "2090-01", "--fee", "Tuition=100"], "outside the Nepali calendar data"),
    (["--month", "2082-08", "--fee", "Tuition"], "has no '='"),
    (["--month", "2082-08", "--fee", "Tuition=12.345"], "more than two decimals"),
    (["--month", "2082-08", "--fee", "=100"], "has no name"),
    (["--month", "2082-08", "--fee", "Tuition=5"], "below Khalti's minimum"),
    (["--month", "2082-08", "--group", "Grade 9", "--fee", "Tuition=100"], "No payers are in 'Grade 9'"),
    (["--month", "2082-08", "--fee", "A=100", "--fee", "A=200"], "twice"),
]


@pytest.mark.parametrize(("args", "message"), BAD)
def test_bad_input_stores_nothing(cli: Cli, isolated: Path, args: list[str], message: str) -> None:
    add_payers(cli, "Grade 5", "S1")
    run = cli("bill", *args)
    assert run.exit_code == 3 and message in run.stderr, run.stderr
    assert count_payments(isolated / "khalti.db") == 0


def test_no_payers_and_plan_rows_for_empty_classes(cli: Cli, isolated: Path) -> None:
    run = cli("bill", "--month", "2082-08", "--fee", "Tuition=100")
    assert run.exit_code == 3 and "no payers" in run.stderr.lower()
    add_payers(cli, "Grade 1", "A1")
    plan = isolated / "plan.csv"
    plan.write_text("group,head,amount\nGrade 1,Tuition,3000\nGrade 2,Tuition,3100\n", encoding="utf-8")
    run = cli("bill", "--month", "2082-08", "--plan", str(plan))
    assert run.exit_code == 3 and "'Grade 2'" in run.stderr
    plan.write_text("group,head,amount\nGrade 1,Tuition,lots\n", encoding="utf-8")
    run = cli("bill", "--month", "2082-08", "--plan", str(plan))
    assert run.exit_code == 3 and "line 2" in run.stderr
    assert count_payments(isolated / "khalti.db") == 0


@settings(max_examples=15, derandomize=True, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.text(max_size=12))
def test_any_fee_text_is_stored_or_refused_with_3(cli: Cli, isolated: Path, text: str) -> None:
    """Whatever is typed after --fee: exit 0 with the heads adding up, or 3 with nothing stored."""
    add_payers(cli, "Grade 5", "S1")
    before = count_payments(isolated / "khalti.db")
    run: Run = cli("bill", "--month", "2082-08", "--fee", f"Fee={text}", "--format", "json")
    if run.exit_code == 0:
        for r in run.json():
            assert r["amount_paisa"] == sum(h["amount_paisa"] for h in r["heads"])
    else:
        assert run.exit_code in (2, 3) and "Traceback" not in run.stderr
        assert count_payments(isolated / "khalti.db") == before
