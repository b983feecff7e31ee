"""Pipelines: ids piped from one command into another; `list` for spreadsheets (formula-safe CSV, rupees
with two decimals, --columns), --search and --payer; list streams in constant memory, and its fast JSON
Lines are the same records as the Python-built ones."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import Cli, control, khalti_exe

from khalti_cli.sandbox import SandboxServer


def make(cli: Cli, order_id: str, amount: str = "1500", name: str = "Tuition", *extra: str) -> None:
    run = cli("create", "--amount", amount, "--name", name, "--order-id", order_id, *extra)
    assert run.exit_code == 0, run.stderr


def test_ids_piped_through_a_real_shell(cli: Cli, configured: SandboxServer, isolated: Path) -> None:
    for i in range(5):
        make(cli, f"P-{i}", str(1000 + i))
    make(cli, "DONE", "2000", "Bus", "--initiate")
    exe = " ".join(khalti_exe())
    script = f"{exe} list --status created --columns order_id --format tsv | tail -n +2 | head -n 3 | {exe} initiate -"
    proc = subprocess.run(
        ["bash", "-o", "pipefail", "-c", script], capture_output=True, text=True, timeout=60, env=dict(os.environ)
    )
    assert proc.returncode == 0, proc.stderr
    urls = proc.stdout.split()
    assert len(urls) == 3 and all(u.startswith(configured.url) for u in urls)
    statuses = {r["order_id"]: r["status"] for r in cli("list", "--format", "json").json()}
    # list is newest first: the three newest created payments got their links.
    assert statuses == {
        "P-0": "created",
        "P-1": "created",
        "P-2": "initiated",
        "P-3": "initiated",
        "P-4": "initiated",
        "DONE": "initiated",
    }
    # ... and on: pay two in the sandbox, look every open one up by piping, show the paid ones.
    for record in cli("list", "--status", "initiated", "--format", "json").json()[:2]:
        control(configured, record["pidx"], "complete")
    script = (
        f"{exe} list --status initiated --columns pidx --format tsv | tail -n +2 | {exe} lookup - "
        f"&& {exe} list --status completed --columns order_id,amount --format csv"
    )
    proc = subprocess.run(
        ["bash", "-o", "pipefail", "-c", script], capture_output=True, text=True, timeout=60, env=dict(os.environ)
    )
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert sum(line.endswith("\tcompleted") for line in lines) == 2
    assert lines[-3] == "order_id,amount" and len(lines[-2:]) == 2


def test_ids_piped_in_process(cli: Cli, configured: SandboxServer) -> None:
    for i in range(4):
        make(cli, f"Q-{i}")
    listed = cli("list", "--status", "created", "--columns", "order_id", "--format", "tsv")
    ids = listed.stdout.splitlines()[1:]
    assert ids == ["Q-3", "Q-2", "Q-1", "Q-0"]
    run = cli("initiate", "-", input="\n".join(ids[1:]) + "\n")
    assert run.exit_code == 0, run.stderr
    assert [u.split("pidx=")[0] for u in run.stdout.split()] == [configured.url + "/?"] * 3
    run = cli("lookup", "-", "--format", "jsonl", input="Q-2\nQ-1\n")
    assert [r["order_id"] for r in run.jsonl()] == ["Q-2", "Q-1"]
    assert cli("initiate", "-", input="\n\n").exit_code == 2  # no ids at all


def test_csv_for_a_spreadsheet_is_formula_safe(cli: Cli) -> None:
    make(cli, "C-1", "1,500.5", '=HYPERLINK("http://evil","x")', "--customer-name", "@SUM(A1)")
    make(cli, "C-2", "10", "-2 discount, Mangsir", "--customer-phone", "+9779800000001", "--reference", "S-1")
    make(cli, "C-3", "2500", 'Tuition "B", कक्षा ५', "--customer-name", "सीता")
    run = cli("list", "--format", "csv")
    assert run.exit_code == 0
    rows = list(csv.DictReader(io.StringIO(run.stdout)))
    by_id = {r["order_id"]: r for r in rows}
    assert by_id["C-1"]["name"] == '\'=HYPERLINK("http://evil","x")'
    assert by_id["C-1"]["customer_name"] == "'@SUM(A1)"
    assert by_id["C-2"]["name"] == "'-2 discount, Mangsir"
    assert by_id["C-2"]["customer_phone"] == "'+9779800000001"
    assert by_id["C-3"]["name"] == 'Tuition "B", कक्षा ५' and by_id["C-3"]["customer_name"] == "सीता"
    assert [by_id[k]["amount"] for k in ("C-1", "C-2", "C-3")] == ["1500.50", "10.00", "2500.00"]
    chosen = cli("list", "--format", "csv", "--columns", "order_id,amount,customer_name").stdout
    assert chosen.splitlines()[0] == "order_id,amount,customer_name"
    assert chosen.splitlines()[1:] == ["C-3,2500.00,सीता", "C-2,10.00,", "C-1,1500.50,'@SUM(A1)"]
    assert cli("list", "--format", "csv", "--columns", "order_id,colour").exit_code == 2
    empty = cli("list", "--status", "review", "--format", "csv", "--columns", "order_id,amount")
    assert empty.stdout.splitlines() == ["order_id,amount"]


def test_search_and_payer_filters(cli: Cli) -> None:
    assert cli("payers", "add", "S-1", "--name", "Sita Sharma").exit_code == 0
    make(cli, "S-A", "1500", "Grade 5 TUITION")
    make(cli, "S-B", "1500", "Bus fee", "--customer-name", "Ram Tuitionwala")
    make(cli, "S-C", "1500", "Exam fee", "--payer", "S-1")
    make(cli, "S-D", "1500", "100% scholarship_fee")

    def ids(*args: str) -> list[str]:
        run = cli("list", *args, "--columns", "order_id", "--format", "tsv")
        assert run.exit_code == 0, run.stderr
        return run.stdout.splitlines()[1:]

    assert ids("--search", "tuition") == ["S-B", "S-A"]
    assert ids("--search", "sita") == ["S-C"]  # the customer name copied from the register
    assert ids("--search", "100%") == ["S-D"] and ids("--search", "_") == ["S-D"]  # wildcards are plain text
    assert ids("--payer", "S-1") == ["S-C"]
    assert ids("--payer", "S-1", "--search", "tuition") == []


def test_jsonl_is_the_same_records_as_json(cli: Cli, configured: SandboxServer) -> None:
    """`list --format jsonl` is built by SQLite for speed; it must say exactly what the records say."""
    assert cli("payers", "add", "S-1", "--name", 'सीता "Sita" \\ Sharma', "--phone", "9800000001").exit_code == 0
    make(cli, "J-1", "1500.05", 'Tuition "A" \\ back')
    make(cli, "J-2", "2000", "Bus", "--payer", "S-1", "--initiate")
    make(cli, "J-3", "3000", "कक्षा ५ शुल्क", "--initiate")
    pidx = cli("show", "J-3", "--format", "json").json()["pidx"]
    control(configured, pidx, "complete")
    assert cli("lookup", "J-3").exit_code == 0
    assert cli("refund", "J-3", "--amount", "100", "--yes").exit_code == 0
    fast = cli("list", "--format", "jsonl").jsonl()
    slow = cli("list", "--format", "json").json()
    assert fast == slow
    assert {r["status"] for r in fast} == {"created", "initiated", "partially_refunded"}
    assert any(r["refunded"] is True for r in fast) and any(r["refunded"] is False for r in fast)
    cols = "payer,amount,refunded,refunded_paisa,order_id"
    assert cli("list", "--format", "jsonl", "--columns", cols).jsonl() == [
        {k: r[k] for k in cols.split(",")} for r in slow
    ]
    assert list(fast[0]) == list(slow[0])  # same keys in the same order
    assert (
        cli("list", "--format", "jsonl", "--limit", "1", "--status", "initiated").jsonl()
        == [r for r in slow if r["status"] == "initiated"][:1]
    )


PEAK = """
import sys, tracemalloc
sys.argv = ["khalti", "list", "--format", sys.argv[1]]
sys.stdout = open("/dev/null", "w")
from khalti_cli.cli.app import main
tracemalloc.start()
try:
    main()
except SystemExit as exc:
    assert not exc.code, exc.code
print(tracemalloc.get_traced_memory()[1], file=sys.stderr)
"""


@pytest.mark.slow
def test_list_streams_in_constant_memory(cli: Cli, isolated: Path) -> None:
    """Peak Python memory of `list` over 4,000 and over 40,000 payments: the same, give or take a little
    (the records themselves would take about 100 MB if they were gathered into a list first)."""

    def fill(count: int, start: int) -> None:
        rows = "".join(
            f"M-{i},{1000 + i % 5000},Tuition fee for the month of Mangsir,Payer {i}\n"
            for i in range(start, start + count)
        )
        (isolated / "m.csv").write_text("order_id,amount,name,customer_name\n" + rows, encoding="utf-8")
        assert cli("-q", "import", "m.csv", "--format", "jsonl", "--columns", "order_id").exit_code == 0

    def peak(fmt: str) -> int:
        proc = subprocess.run(
            [sys.executable, "-c", PEAK, fmt], capture_output=True, text=True, timeout=120, env=dict(os.environ)
        )
        assert proc.returncode == 0, proc.stderr
        return int(proc.stderr.split()[-1])  # bytes

    fill(4000, 0)
    small = {fmt: peak(fmt) for fmt in ("tsv", "csv", "jsonl")}
    fill(36000, 4000)
    large = {fmt: peak(fmt) for fmt in ("tsv", "csv", "jsonl")}
    growth = {fmt: (large[fmt] - small[fmt]) / 2**20 for fmt in small}
    assert all(mb < 3 for mb in growth.values()), json.dumps({"MB more": growth, "small": small})
