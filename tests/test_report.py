"""`khalti report`: the figures for a period checked against totals computed by hand, in json, csv, tsv and
the terminal table with its bar chart; the default period is this month."""

from __future__ import annotations

import csv
import io
import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import Cli, control
from store_checks import backdate, completed_payment

from khalti_cli.sandbox import SandboxServer


@pytest.fixture(autouse=True)
def gregorian(monkeypatch: pytest.MonkeyPatch) -> None:
    """These tests pin the Gregorian months (KHALTI_CALENDAR=ad); BS months are in tests/test_books.py."""
    monkeypatch.setenv("KHALTI_CALENDAR", "ad")


@pytest.fixture
def nepal_clock() -> Iterator[None]:
    """Local time is Nepal's (+05:45), as at a school; a POSIX TZ string needs no zoneinfo files."""
    old = os.environ.get("TZ")
    os.environ["TZ"] = "NPT-5:45"
    time.tzset()
    yield
    if old is None:
        os.environ.pop("TZ", None)
    else:
        os.environ["TZ"] = old
    time.tzset()


def initiated(cli: Cli, order_id: str, amount: str) -> str:
    run = cli("create", "--amount", amount, "--name", "Tuition", "--order-id", order_id, "--initiate")
    assert run.exit_code == 0, run.stderr
    return run.stdout.strip().split("pidx=")[1]


@pytest.fixture
def march(cli: Cli, configured: SandboxServer, isolated: Path, nepal_clock: None) -> Path:
    """Payments made through the sandbox, then moved into March 2026 (one into February)."""
    db = isolated / "khalti.db"
    completed_payment(cli, configured, "A", amount="1500")
    completed_payment(cli, configured, "B", amount="1000")
    assert cli("refund", "B", "--amount", "250.50", "--yes").exit_code == 0  # partially refunded
    completed_payment(cli, configured, "C", amount="2000")
    assert cli("refund", "C", "--yes").exit_code == 0  # refunded in full
    initiated(cli, "D", "500")  # a live link: the sandbox's expire in 30 minutes
    assert cli("create", "--amount", "700", "--name", "Tuition", "--order-id", "E").exit_code == 0
    control(configured, initiated(cli, "F", "800"), "cancel")
    assert cli("lookup", "F").stdout == "F\tcanceled\n"
    completed_payment(cli, configured, "G", amount="900")  # created in February: not in March's figures
    initiated(cli, "H", "1200")
    # H's link expires in two hours: open, but not "about to expire".
    backdate(
        db,
        "UPDATE payments SET expires_at = strftime('%Y-%m-%dT%H:%M:%S+00:00', 'now', '+2 hours') WHERE order_id = 'H'",
        [],
    )
    day = {"A": "03-02", "B": "03-04", "C": "03-04", "D": "03-10", "E": "03-11", "F": "03-20", "H": "03-31"}
    for oid, when in day.items():
        backdate(db, "UPDATE payments SET created_at = ? WHERE order_id = ?", [f"2026-{when}T04:00:00.000+00:00", oid])
    backdate(db, "UPDATE payments SET created_at = '2026-02-10T04:00:00.000+00:00' WHERE order_id = 'G'", [])
    for oid, fee in {"A": 4500, "B": 3000, "C": 6000, "G": 2700}.items():
        backdate(db, "UPDATE payments SET fee_paisa = ? WHERE order_id = ?", [fee, oid])
    # When each was seen paid: A on 3 March; B at 20:00 UTC on 5 March, which is 01:45 on 6 March in Nepal.
    for oid, at in {
        "A": "2026-03-03T05:00:00.000+00:00",
        "B": "2026-03-05T20:00:00.000+00:00",
        "C": "2026-03-05T06:00:00.000+00:00",
        "G": "2026-02-11T06:00:00.000+00:00",
    }.items():
        backdate(
            db,
            "UPDATE events SET at = ? WHERE kind = 'status' AND to_status = 'completed' AND payment_id = "
            "(SELECT id FROM payments WHERE order_id = ?)",
            [at, oid],
        )
    return db


def test_report_totals_match_hand_computed_figures(cli: Cli, march: Path) -> None:
    run = cli("report", "--since", "2026-03-01", "--until", "2026-03-31", "--format", "json")
    assert run.exit_code == 0, run.stderr
    report = run.json()
    # local midnights (+05:45 here), written in the machine convention: UTC with milliseconds
    assert report["since"] == "2026-02-28T18:15:00.000+00:00" and report["until"] == "2026-03-31T18:15:00.000+00:00"
    by_status = {s: (f["count"], f["amount"]) for s, f in report["by_status"].items() if f["count"]}
    assert by_status == {
        "completed": (1, "1500.00"),  # A
        "partially_refunded": (1, "1000.00"),  # B
        "refunded": (1, "2000.00"),  # C
        "initiated": (2, "1700.00"),  # D 500 + H 1200
        "created": (1, "700.00"),  # E
        "canceled": (1, "800.00"),  # F
    }
    assert report["payments"] == {"count": 7, "amount": "7700.00", "amount_paisa": 770000}
    assert report["collected"] == {"count": 2, "amount": "2500.00", "amount_paisa": 250000}  # A + B
    assert report["fees"] == {"amount": "135.00", "amount_paisa": 13500}  # 45 + 30 + 60
    assert report["refunds"] == {"amount": "2250.50", "amount_paisa": 225050}  # 250.50 + 2000
    expiring = report["expiring_within_hour"]
    assert (expiring["count"], expiring["amount"]) == (1, "500.00")
    assert [p["order_id"] for p in expiring["payments"]] == ["D"]
    days = {d["day"]: (d["count"], d["amount"]) for d in report["per_day"]}
    assert len(days) == 31 and min(days) == "2026-03-01" and max(days) == "2026-03-31"
    assert {d: v for d, v in days.items() if v[0]} == {"2026-03-03": (1, "1500.00"), "2026-03-06": (1, "1000.00")}
    assert sum(d["amount_paisa"] for d in report["per_day"]) == report["collected"]["amount_paisa"]


def test_report_as_csv_tsv_and_table(cli: Cli, march: Path) -> None:
    period = ("--since", "2026-03-01", "--until", "2026-03-31")
    rows = list(csv.reader(io.StringIO(cli("report", *period, "--format", "csv").stdout)))
    assert rows[0] == ["section", "key", "count", "amount", "amount_paisa"]
    assert ["status", "initiated", "2", "1700.00", "170000"] in rows
    assert ["status", "review", "0", "0.00", "0"] in rows
    assert ["total", "payments", "7", "7700.00", "770000"] in rows
    assert ["total", "collected", "2", "2500.00", "250000"] in rows
    assert ["total", "fees", "", "135.00", "13500"] in rows
    assert ["total", "refunds", "", "2250.50", "225050"] in rows
    assert ["total", "expiring_within_hour", "1", "500.00", "50000"] in rows
    assert ["day", "2026-03-06", "1", "1000.00", "100000"] in rows
    tsv = cli("report", *period, "--format", "tsv").stdout.splitlines()
    assert "total\tcollected\t2\t2500.00\t250000" in tsv

    table = cli("report", *period, "--format", "table").stdout
    assert "Payments created 2026-03-01 to 2026-03-31" in table
    assert "Collected (completed + partially refunded)" in table and "Rs 2,500.00" in table
    assert "Khalti fees" in table and "Rs 135.00" in table and "Rs 2,250.50" in table
    assert "Net collected (all paid, less refunds and Khalti fees)" in table
    assert "Rs 2,114.50" in table  # 2500 + 2000 - 2250.50 - 135
    bars = {line.split()[0]: line.count("█") for line in table.splitlines() if line.strip()[:3] == "03-"}
    assert bars == {"03-03": 30, "03-06": 20}  # only the days with collections, scaled to the biggest
    assert len(table.splitlines()) <= 40


def test_report_defaults_to_this_month(cli: Cli, configured: SandboxServer, nepal_clock: None) -> None:
    completed_payment(cli, configured, "NOW", amount="1,234.50")
    report = cli("report", "--format", "json").json()
    assert report["since"].endswith("T18:15:00.000+00:00")  # a local midnight, in UTC
    assert report["collected"]["amount"] == "1234.50" and report["payments"]["count"] == 1
    assert report["per_day"][-1]["amount"] == "1234.50"  # today
    assert cli("report", "--since", "yesterday").exit_code == 2


def test_report_period_edges(cli: Cli, march: Path) -> None:
    """Only --until: the month it ends in. Only --since: up to the end of this month. Backwards: refused."""
    only_until = cli("report", "--until", "2026-03-31", "--format", "json").json()
    assert only_until["since"] == "2026-02-28T18:15:00.000+00:00" and only_until["payments"]["count"] == 7
    feb = cli("report", "--since", "2026-02-01", "--until", "2026-02-28", "--format", "json").json()
    assert (feb["payments"]["count"], feb["collected"]["amount"], feb["fees"]["amount"]) == (1, "900.00", "27.00")
    since = cli("report", "--since", "2026-02-01", "--format", "json").json()
    assert since["payments"]["count"] == 8  # A-H: everything made in this test
    backwards = cli("report", "--since", "2026-03-10", "--until", "2026-03-01")
    assert backwards.exit_code == 3 and "--until is before --since" in backwards.stderr
