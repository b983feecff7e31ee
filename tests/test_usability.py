"""The small things a person trips on: help, completion, --version, --excel, times and amounts as people
read them, phone numbers in Devanagari digits, spreadsheet columns to leave out, and messages that say
where to look."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

from conftest import Cli, fault, khalti_exe

from khalti_cli import __version__
from khalti_cli.money import format_rupees
from khalti_cli.sandbox import SandboxServer

COMMANDS = [
    ["create"], ["initiate"], ["lookup"], ["list"], ["show"], ["history"], ["reconcile"], ["sandbox"], ["demo"],
    ["refund"], ["import"], ["slips"], ["report"], ["backup"], ["completion"],
    ["payers", "add"], ["payers", "update"], ["payers", "import"], ["payers", "list"], ["payers", "show"],
]  # fmt: skip


def test_amounts_are_grouped_as_nepal_groups_them() -> None:
    assert format_rupees(15000000) == "Rs 1,50,000.00"
    assert format_rupees(1234567890) == "Rs 1,23,45,678.90"
    assert format_rupees(99950) == "Rs 999.50" and format_rupees(100000) == "Rs 1,000.00"
    assert format_rupees(-15000000) == "-Rs 1,50,000.00"


def test_help_says_what_each_option_takes_with_an_example(run_khalti: Any) -> None:
    listed = run_khalti("list", "--help", env={"COLUMNS": "120"}).stdout
    for text in ("--since DATE", "--status STATUS", "--format [table|tsv|csv|json|jsonl]", "--excel", "Example:"):
        assert text in listed, text
    assert "<str>" not in listed and "<int" not in listed
    assert "Usage: khalti initiate [OPTIONS] ORDER_ID..." in run_khalti("initiate", "--help").stdout
    assert "--db PATH" in run_khalti("--help", env={"COLUMNS": "120"}).stdout
    for command in COMMANDS:
        shown = run_khalti(*command, "--help", env={"COLUMNS": "120"})
        assert shown.exit_code == 0 and "Example: khalti" in shown.stdout, command
    bad = run_khalti("list", "--status", "paid")
    assert bad.exit_code == 2 and "completed" in bad.stderr and "pending" in bad.stderr  # the valid values


def test_version_and_completion(cli: Cli, run_khalti: Any) -> None:
    assert run_khalti("--version").stdout == f"khalti {__version__}\n"
    for order_id in ("KH-1", "KH-2", "X-9"):
        assert cli("create", "--amount", "100", "--name", "Fee", "--order-id", order_id).exit_code == 0
    scripts = {shell: run_khalti("completion", shell) for shell in ("bash", "zsh", "fish")}
    assert all(run.exit_code == 0 and "_KHALTI_COMPLETE=complete_" in run.stdout for run in scripts.values())
    assert run_khalti("completion", "tcsh").exit_code == 2

    def complete(words: str) -> list[str]:
        env = {"_KHALTI_COMPLETE": "complete_bash", "COMP_WORDS": words, "COMP_CWORD": str(len(words.split()) - 1)}
        return run_khalti(env=env).stdout.split()

    assert complete("khalti show KH") == ["KH-2", "KH-1"]  # order ids from the database, newest first
    assert sorted(complete("khalti list --status pa")) == ["paid_offline", "partially_refunded"]
    assert complete("khalti list --format js") == ["json", "jsonl"]
    assert complete("khalti settle KH-1 --method c") == ["cash", "cheque"]
    assert "import" in complete("khalti im") and "--since" in complete("khalti list --s")


def test_excel_csv_has_a_byte_order_mark_and_crlf(cli: Cli) -> None:
    assert cli("create", "--amount", "1500", "--name", "शुल्क", "--customer-name", "सीता").exit_code == 0
    import subprocess

    data = subprocess.run([*khalti_exe(), "list", "--excel"], capture_output=True, check=True).stdout
    assert (
        data.startswith(b"\xef\xbb\xbforder_id,")
        and data.count(b"\r\n") == 2
        and b"\n" not in data.replace(b"\r\n", b"")
    )
    assert "सीता".encode() in data
    plain = subprocess.run([*khalti_exe(), "list", "--format", "csv"], capture_output=True, check=True).stdout
    assert plain.startswith(b"order_id,")


def test_one_time_convention_and_local_minutes(cli: Cli, configured: SandboxServer) -> None:
    assert cli("create", "--amount", "1500", "--name", "Fee", "--order-id", "T-1", "--initiate").exit_code == 0
    by_python = cli("list", "--format", "json").json()[0]
    by_sql = cli("list", "--format", "jsonl").jsonl()[0]
    assert by_python == by_sql
    for key in ("created_at", "updated_at", "expires_at"):  # Khalti's +05:45 converted at the boundary
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+00:00", by_python[key]), (key, by_python[key])
    env = {"KHALTI_TZ": "Asia/Kathmandu", "COLUMNS": "120", "KHALTI_CALENDAR": "ad"}  # Gregorian days, to compare
    table = cli("show", "T-1", "--format", "table", env=env).stdout
    from datetime import datetime, timedelta

    created = datetime.fromisoformat(by_python["created_at"]) + timedelta(hours=5, minutes=45)
    assert re.search(rf"created\s+{created:%Y-%m-%d %H:%M}\s*$", table, re.M)
    assert ".000" not in table and "+00:00" not in table


def test_phone_numbers_in_devanagari_digits(cli: Cli) -> None:
    assert cli("payers", "add", "S-1", "--name", "Sita", "--phone", "९८०००००००१").exit_code == 0
    assert cli("payers", "show", "S-1", "--format", "json").json()["phone"] == "9800000001"
    made = cli("create", "--amount", "१५००", "--name", "Fee", "--customer-phone", "९८०१२३४५६७", "--format", "json")
    assert made.exit_code == 0 and made.json()["customer_phone"] == "9801234567"


def test_open_and_qr_need_initiate(cli: Cli) -> None:
    for flag in ("--open", "--qr"):
        run = cli("create", "--amount", "1500", "--name", "Fee", flag)
        assert run.exit_code == 2 and "--initiate" in run.stderr
    assert cli("list", "--format", "json").json() == []  # nothing recorded


def test_import_leaves_out_named_columns(cli: Cli, isolated: Path) -> None:
    (isolated / "class.csv").write_text("Roll No,amount,name,Section\n1,1500,Tuition,A\n2,1600,Tuition,B\n")
    refused = cli("import", "class.csv")
    assert refused.exit_code == 3 and "--ignore-columns" in refused.stderr
    run = cli("import", "class.csv", "--ignore-columns", "Roll No,section", "--format", "json")
    assert run.exit_code == 0, run.stderr
    assert [r["amount"] for r in run.json()] == ["1500.00", "1600.00"]


def test_payers_show_in_a_pipe(cli: Cli) -> None:
    assert cli("payers", "add", "S-1", "--name", "Sita").exit_code == 0
    tsv = cli("payers", "show", "S-1").stdout.splitlines()
    assert len(tsv) == 1 and tsv[0].startswith("order_id\t")  # a header even with no payments
    shown = cli("payers", "show", "S-1", "--format", "jsonl").jsonl()
    assert shown[0]["name"] == "Sita" and shown[0]["totals"]["payments"] == 0


def test_failed_lookup_prints_no_stale_status(cli: Cli, configured: SandboxServer) -> None:
    assert cli("create", "--amount", "1500", "--name", "Fee", "--order-id", "L-1", "--initiate").exit_code == 0
    fault(configured, {"status": 503, "count": 10})
    run = cli("lookup", "L-1")
    assert run.exit_code == 75 and run.stdout == "" and "503" in run.stderr


def test_missing_key_says_where_it_looked(cli: Cli, isolated: Path, monkeypatch: Any) -> None:
    monkeypatch.setenv("KHALTI_WEBSITE_URL", "https://school.example.edu.np")
    run = cli("create", "--amount", "1500", "--name", "Fee", "--initiate")
    assert run.exit_code == 4
    assert "a .env file in this folder (none found)" in run.stderr and "khalti sandbox" in run.stderr
    (isolated / "school.env").write_text("KHALTI_ENV=sandbox\n")
    os.chmod(isolated / "school.env", 0o600)
    run = cli("--env-file", "school.env", "create", "--amount", "1500", "--name", "Fee", "--initiate")
    assert run.exit_code == 4 and "school.env" in run.stderr
