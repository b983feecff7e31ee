"""The command-line contract of the core commands: exit codes and their priority, streams, formats,
stdin ids, quiet and colour, and the installed `khalti` run as a subprocess."""

from __future__ import annotations

import csv
import io
import json
import os
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest
from conftest import TEST_KEY, Cli, Run, control, fault, run_on_terminal

from khalti_cli import __version__
from khalti_cli.sandbox import SandboxServer

ANSI = "\x1b["


def create(cli: Cli, order_id: str, amount: str = "1500", name: str = "Grade 5 tuition", *extra: str) -> None:
    run = cli("create", "--amount", amount, "--name", name, "--order-id", order_id, *extra)
    assert run.exit_code == 0, run.stderr


def initiate(cli: Cli, order_id: str) -> str:
    run = cli("initiate", order_id)
    assert run.exit_code == 0, run.stderr
    return run.stdout.strip().split("pidx=")[1]


def status(cli: Cli, order_id: str) -> str:
    run = cli("show", order_id, "--format", "json")
    assert run.exit_code == 0, run.stderr
    value: str = run.json()["status"]
    return value


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def weird(pidx: str) -> dict[str, Any]:
    return {
        "json": {
            "pidx": pidx,
            "total_amount": 150000,
            "status": "Weird",
            "transaction_id": None,
            "fee": 0,
            "refunded": False,
        },
        "path": "lookup",
    }


def sandbox_faults(server: SandboxServer) -> list[dict[str, Any]]:
    faults: list[dict[str, Any]] = httpx.get(f"{server.url}/sandbox/faults").json()["faults"]
    return faults


# -- exit codes ----------------------------------------------------------------------------------


def test_exit_0(cli: Cli, configured: SandboxServer) -> None:
    create(cli, "A")
    pidx = initiate(cli, "A")
    control(configured, pidx, "complete")
    for args in (("lookup", "A"), ("reconcile",), ("list",), ("show", "A"), ("history", "A")):
        run = cli(*args)
        assert run.exit_code == 0, (args, run.stderr)
        assert run.stderr == ""


@pytest.mark.parametrize(
    "args",
    [
        ("create", "--bogus"),
        ("create", "--name", "x"),  # missing --amount
        ("create", "--amount", "1500"),  # missing --name
        ("initiate",),
        ("lookup",),
        ("show",),
        ("--bogus", "list"),
        ("list", "--format", "xml"),
        ("list", "--status", "paid"),
        ("reconcile", "--concurrency", "0"),
        ("nosuchcommand",),
    ],
)
def test_exit_2_usage(cli: Cli, args: tuple[str, ...]) -> None:
    run = cli(*args)
    assert run.exit_code == 2, run
    assert run.stdout == ""
    assert "Error" in run.stderr


def test_exit_3_invalid_input(cli: Cli, configured: SandboxServer) -> None:
    create(cli, "A")
    cases = [
        ("create", "--amount", "12.345", "--name", "x"),
        ("create", "--amount", "1500", "--name", "x", "--customer-email", "not-an-email"),
        ("create", "--amount", "1500", "--name", "x", "--customer-phone", "call me"),
        ("create", "--amount", "1500", "--name", "   "),
        ("create", "--amount", "1500", "--name", "x", "--order-id", "bad id with spaces"),
        ("create", "--amount", "1500", "--name", "x", "--order-id", "A"),  # exists already
        ("initiate", "NOPE"),
        ("lookup", "NOPE"),
        ("show", "NOPE"),
        ("history", "NOPE"),
    ]
    for args in cases:
        run = cli(*args)
        assert run.exit_code == 3, (args, run)
        assert run.stdout == ""
        assert run.stderr.startswith("Error: ") and "Traceback" not in run.stderr
    assert [r["order_id"] for r in cli("list", "--format", "json").json()] == ["A"]
    assert configured.state.all() == []


def test_unknown_id_among_good_ones_sends_nothing(cli: Cli, configured: SandboxServer) -> None:
    create(cli, "A")
    run = cli("initiate", "A", "NOPE")
    assert run.exit_code == 3
    assert "NOPE" in run.stderr
    assert configured.state.all() == []
    assert status(cli, "A") == "created"


def test_exit_4_no_key(cli: Cli, configured: SandboxServer) -> None:
    create(cli, "A")
    run = cli("initiate", "A", env={"KHALTI_SECRET_KEY": ""})
    assert run.exit_code == 4
    assert "KHALTI_SECRET_KEY" in run.stderr
    assert configured.state.all() == []
    pidx = initiate(cli, "A")
    for args in (("lookup", "A"), ("lookup", pidx), ("reconcile",)):
        run = cli(*args, env={"KHALTI_SECRET_KEY": ""})
        assert run.exit_code == 4, (args, run)
        assert "KHALTI_SECRET_KEY" in run.stderr


def test_exit_4_when_khalti_answers_401(cli: Cli, configured: SandboxServer) -> None:
    create(cli, "A")
    wrong = {"KHALTI_SECRET_KEY": "not-the-right-key"}
    run = cli("initiate", "A", env=wrong)
    assert run.exit_code == 4
    assert "Invalid token" in run.stderr and "KHALTI_SECRET_KEY" in run.stderr
    assert status(cli, "A") == "created"
    initiate(cli, "A")
    for args in (("lookup", "A"), ("reconcile",)):
        run = cli(*args, env=wrong)
        assert run.exit_code == 4, (args, run)
        assert "KHALTI_SECRET_KEY" in run.stderr
    assert status(cli, "A") == "initiated"


def test_exit_4_missing_website_url(cli: Cli, configured: SandboxServer) -> None:
    create(cli, "A")
    run = cli("initiate", "A", env={"KHALTI_WEBSITE_URL": ""})
    assert run.exit_code == 4
    assert "KHALTI_WEBSITE_URL" in run.stderr
    run = cli(
        "create", "--amount", "1500", "--name", "x", "--order-id", "B", "--initiate", env={"KHALTI_WEBSITE_URL": ""}
    )
    assert run.exit_code == 4
    assert cli("show", "B").exit_code == 3  # nothing was recorded
    assert configured.state.all() == []


def test_exit_4_unsafe_production_url(cli: Cli, configured: SandboxServer) -> None:
    create(cli, "A")
    run = cli("--env", "production", "initiate", "A")  # the sandbox's http://127.0.0.1 URL
    assert run.exit_code == 4
    assert "production" in run.stderr
    assert configured.state.all() == []
    assert status(cli, "A") == "created"


def test_exit_5_review(cli: Cli, configured: SandboxServer) -> None:
    create(cli, "A")
    pidx = initiate(cli, "A")
    control(configured, pidx, "complete", {"total_amount": 100000})
    run = cli("lookup", "A")
    assert run.exit_code == 5
    assert run.stdout == "A\treview\n"
    # once in review, later runs do not raise the alarm again
    assert cli("lookup", "A").exit_code == 0


def test_exit_75_gateway_503(cli: Cli, configured: SandboxServer) -> None:
    create(cli, "A")
    initiate(cli, "A")
    fault(configured, {"status": 503, "count": 10})
    run = cli("lookup", "A")
    assert run.exit_code == 75
    assert "503" in run.stderr
    assert status(cli, "A") == "initiated"
    assert sandbox_faults(configured)[0]["count"] == 6  # four tries in all
    fault(configured, {"status": 503, "count": 10})
    run = cli("reconcile", "--format", "json")
    assert run.exit_code == 75
    assert run.json()["errors"] == 1
    assert status(cli, "A") == "initiated"


def test_exit_75_gateway_unreachable(cli: Cli, configured: SandboxServer) -> None:
    create(cli, "A")
    down = {"KHALTI_BASE_URL": f"http://127.0.0.1:{closed_port()}"}
    run = cli("initiate", "A", env=down)
    assert run.exit_code == 75
    assert run.stdout == ""
    assert status(cli, "A") == "created"
    assert "Could not reach Khalti" in run.stderr
    links = cli("show", "A", "--format", "json").json()["links"]
    assert [link["state"] for link in links] == ["void"]  # nothing was sent, so no link can exist
    # (a lookup against a closed port is retried for a few seconds first: see test_gateway.py)


def test_initiate_503_is_temporary_and_not_retried(cli: Cli, configured: SandboxServer) -> None:
    create(cli, "A")
    fault(configured, {"status": 503, "count": 2, "path": "initiate"})
    run = cli("initiate", "A")
    assert run.exit_code == 75
    assert sandbox_faults(configured)[0]["count"] == 1  # sent once only
    assert status(cli, "A") == "created"


# -- priority: 4, 3, 5, 75 -------------------------------------------------------------------------


def test_priority_4_over_3(cli: Cli, configured: SandboxServer) -> None:
    create(cli, "A")
    no_key = {"KHALTI_SECRET_KEY": ""}
    assert cli("initiate", "NOPE", env=no_key).exit_code == 4
    assert cli("initiate", "A", "NOPE", env=no_key).exit_code == 4
    assert cli("lookup", "NOPE", env=no_key).exit_code == 4
    run = cli("create", "--amount", "abc", "--name", "x", "--initiate", env=no_key)
    assert run.exit_code == 4


def test_priority_4_over_75(cli: Cli, configured: SandboxServer) -> None:
    create(cli, "A")
    create(cli, "B")
    fault(configured, {"status": 503, "path": "initiate"})
    fault(configured, {"status": 401, "json": {"detail": "Invalid token.", "status_code": 401}, "path": "initiate"})
    run = cli("initiate", "A", "B")
    assert run.exit_code == 4
    assert status(cli, "A") == "created" and status(cli, "B") == "created"


def test_priority_4_over_5(cli: Cli, configured: SandboxServer) -> None:
    for oid in ("A", "B"):
        create(cli, oid)
    pa, _ = initiate(cli, "A"), initiate(cli, "B")
    fault(configured, weird(pa))
    fault(configured, {"status": 401, "json": {"detail": "Invalid token.", "status_code": 401}, "count": 5})
    run = cli("lookup", "A", "B")
    assert run.exit_code == 4
    assert status(cli, "A") == "review"


def test_priority_3_over_5_and_75(cli: Cli, configured: SandboxServer) -> None:
    for oid in ("A", "B", "C"):
        create(cli, oid)
    pa = initiate(cli, "A")
    initiate(cli, "B")
    initiate(cli, "C")
    fault(configured, weird(pa))
    fault(
        configured,
        {
            "json": {"pidx": ["This field is required."], "error_key": "validation_error"},
            "status": 400,
            "path": "lookup",
        },
    )
    fault(configured, {"status": 503, "count": 4})
    run = cli("lookup", "A", "B", "C")
    assert run.exit_code == 3, run
    assert run.stdout == "A\treview\n"  # B and C got no answer: nothing printed for them


def test_priority_3_over_75_on_initiate(cli: Cli, configured: SandboxServer) -> None:
    create(cli, "A")
    create(cli, "B")
    fault(configured, {"status": 503, "path": "initiate"})
    fault(
        configured,
        {
            "json": {"amount": ["A valid integer is required."], "error_key": "validation_error"},
            "status": 400,
            "path": "initiate",
        },
    )
    run = cli("initiate", "A", "B")
    assert run.exit_code == 3
    assert (status(cli, "A"), status(cli, "B")) == ("created", "failed")


def test_priority_5_over_75(cli: Cli, configured: SandboxServer) -> None:
    for oid in ("A", "B"):
        create(cli, oid)
    pa = initiate(cli, "A")
    initiate(cli, "B")
    fault(configured, weird(pa))
    fault(configured, {"status": 503, "count": 4})
    run = cli("lookup", "A", "B")
    assert run.exit_code == 5
    assert run.stdout == "A\treview\n"


def test_priority_5_over_75_on_reconcile(cli: Cli, configured: SandboxServer) -> None:
    # one lookup at a time, so the faults meet the links in order (C first: never checked, lower id)
    create(cli, "C")
    create(cli, "D")
    pc = initiate(cli, "C")
    initiate(cli, "D")
    fault(configured, weird(pc))
    fault(configured, {"status": 503, "count": 4})
    run = cli("reconcile", "--concurrency", "1", "--format", "json")
    assert run.exit_code == 5, run
    summary = run.json()
    assert summary["review"] == 1 and summary["errors"] >= 1


# -- streams -------------------------------------------------------------------------------------


def test_stdout_carries_only_data(cli: Cli, configured: SandboxServer) -> None:
    run = cli("-vv", "create", "--amount", "1500", "--name", "fee", "--order-id", "A")
    assert run.stdout == "A\n"
    run = cli("-vv", "initiate", "A")
    assert run.exit_code == 0
    lines = run.stdout.splitlines()
    assert len(lines) == 1 and lines[0].startswith(configured.url + "/?pidx=")
    assert "khalti: POST /api/v2/epayment/initiate/ -> HTTP 200" in run.stderr
    pidx = lines[0].split("pidx=")[1]
    control(configured, pidx, "complete")
    run = cli("-vv", "lookup", "A")
    assert run.stdout == "A\tcompleted\n"
    assert "khalti:" in run.stderr
    run = cli("-v", "lookup", "NOPE")
    assert run.stdout == "" and "NOPE" in run.stderr


def test_quiet(cli: Cli, configured: SandboxServer, isolated: Path) -> None:
    create(cli, "A")
    pidx = initiate(cli, "A")
    control(configured, pidx, "complete")
    loud = cli("reconcile")
    assert loud.exit_code == 0 and loud.stdout.startswith("checked 1, changed 1")
    quiet = cli("-q", "reconcile", "--all")
    assert (quiet.exit_code, quiet.stdout, quiet.stderr) == (0, "", "")
    # a warning is silenced by -q, an error is not
    env_file = isolated / ".env"
    env_file.write_text(f"KHALTI_SECRET_KEY={TEST_KEY}\n")
    env_file.chmod(0o644)
    assert "chmod 600" in cli("list").stderr
    assert cli("-q", "list").stderr == ""
    failed = cli("-q", "show", "NOPE")
    assert failed.exit_code == 3 and "NOPE" in failed.stderr
    fault(configured, {"status": 503, "count": 4})
    failed = cli("-q", "reconcile", "--all")
    assert failed.exit_code == 75 and failed.stdout.startswith("checked 1") and "503" in failed.stderr


# -- formats -------------------------------------------------------------------------------------


def two_payments(cli: Cli) -> None:
    create(cli, "A", "1,500.50", "Grade 5 tuition")
    create(cli, "B", "2000", "Bus fee", "--reference", "STU-7")


def test_tsv_is_the_default_in_a_pipe(cli: Cli) -> None:
    two_payments(cli)
    run = cli("list")
    assert run.exit_code == 0
    assert run.stdout == cli("list", "--format", "tsv").stdout
    lines = run.stdout.splitlines()
    assert len(lines) == 3
    header = lines[0].split("\t")
    assert header[:5] == ["order_id", "name", "amount", "amount_paisa", "status"]
    rows = [dict(zip(header, line.split("\t"), strict=True)) for line in lines[1:]]
    assert [(r["order_id"], r["amount"], r["reference"]) for r in rows] == [
        ("B", "2000.00", "STU-7"),
        ("A", "1500.50", ""),
    ]


def test_tsv_and_csv_print_the_header_when_empty(cli: Cli) -> None:
    tsv = cli("list").stdout.splitlines()
    assert len(tsv) == 1 and tsv[0].startswith("order_id\t")
    csv_lines = cli("list", "--format", "csv").stdout.splitlines()
    assert len(csv_lines) == 1 and csv_lines[0].startswith("order_id,")
    assert cli("list", "--format", "json").json() == []
    assert cli("list", "--format", "jsonl").stdout == ""


def test_every_format(cli: Cli) -> None:
    two_payments(cli)
    records = cli("list", "--format", "json").json()
    assert isinstance(records, list) and [r["order_id"] for r in records] == ["B", "A"]
    required = {
        "order_id",
        "name",
        "amount",
        "amount_paisa",
        "status",
        "khalti_status",
        "pidx",
        "payment_url",
        "expires_at",
        "transaction_id",
        "total_amount_paisa",
        "fee_paisa",
        "refunded",
        "customer_name",
        "customer_email",
        "customer_phone",
        "reference",
        "review_reason",
        "created_at",
        "updated_at",
        "checked_at",
    }
    assert required <= set(records[0])
    assert records[1]["amount"] == "1500.50" and records[1]["amount_paisa"] == 150050
    assert records[1]["created_at"].endswith("+00:00")
    assert cli("list", "--format", "jsonl").jsonl() == records
    rows = list(csv.DictReader(io.StringIO(cli("list", "--format", "csv").stdout)))
    assert [(r["order_id"], r["amount"]) for r in rows] == [("B", "2000.00"), ("A", "1500.50")]
    table = cli("list", "--format", "table", env={"COLUMNS": "200"}).stdout
    assert "order id" in table and "Grade 5 tuition" in table and "Rs 1,500.50" in table
    assert ANSI not in table
    shown = cli("show", "A", "--format", "json").json()
    assert isinstance(shown, dict) and shown["order_id"] == "A"
    assert [e["kind"] for e in shown["history"]] == ["created"]
    assert cli("show", "A", "--format", "jsonl").jsonl()[0]["order_id"] == "A"
    show_tsv = cli("show", "A").stdout.splitlines()
    assert len(show_tsv) == 2 and show_tsv[0].startswith("order_id\t")
    assert "Grade 5 tuition" in cli("show", "A", "--format", "table", env={"COLUMNS": "200"}).stdout
    history = cli("history", "A", "--format", "json").json()
    assert isinstance(history, list) and history[0]["kind"] == "created"
    created = cli("create", "--amount", "10", "--name", "x", "--order-id", "C", "--format", "json").json()
    assert created["order_id"] == "C" and created["status"] == "created"


def test_lookup_formats(cli: Cli, configured: SandboxServer) -> None:
    two_payments(cli)
    initiate(cli, "A")
    initiate(cli, "B")
    one = cli("lookup", "A", "--format", "json").json()
    assert isinstance(one, dict) and one["status"] == "initiated"
    many = cli("lookup", "A", "B", "--format", "json").json()
    assert [r["order_id"] for r in many] == ["A", "B"]
    assert [r["order_id"] for r in cli("lookup", "A", "B", "--format", "jsonl").jsonl()] == ["A", "B"]
    tsv = cli("lookup", "A", "B", "--format", "tsv").stdout.splitlines()
    assert len(tsv) == 3 and tsv[0].startswith("order_id\t")


def test_initiate_formats(cli: Cli, configured: SandboxServer) -> None:
    for oid in "ABCDEFGHIJ":
        create(cli, oid)
    many = cli("initiate", "A", "B", "--format", "json")
    assert many.exit_code == 0, many.stderr
    assert [r["order_id"] for r in many.json()] == ["A", "B"]  # one array, not one per link
    one = cli("initiate", "C", "--format", "json").json()
    assert isinstance(one, dict) and one["payment_url"].startswith(configured.url)
    assert [r["order_id"] for r in cli("initiate", "D", "E", "--format", "jsonl").jsonl()] == ["D", "E"]
    tsv = cli("initiate", "F", "G", "--format", "tsv").stdout.splitlines()
    assert len(tsv) == 3 and tsv[0].startswith("order_id\t") and not tsv[2].startswith("order_id")
    rows = list(csv.DictReader(io.StringIO(cli("initiate", "H", "I", "--format", "csv").stdout)))
    assert [r["order_id"] for r in rows] == ["H", "I"]
    created = cli("create", "--amount", "10", "--name", "x", "--initiate", "--format", "json").json()
    assert created["status"] == "initiated" and created["pidx"]


def test_reconcile_formats(cli: Cli, configured: SandboxServer) -> None:
    two_payments(cli)
    pidx = initiate(cli, "A")
    control(configured, pidx, "complete")
    summary = cli("reconcile", "--format", "json").json()
    assert set(summary) >= {"checked", "changed", "unchanged", "errors", "review", "by_status", "seconds"}
    assert summary["by_status"] == {"completed": 1} and summary["changed"] == 1
    per = cli("reconcile", "--all", "--format", "jsonl").jsonl()
    assert [(r["order_id"], r["status"]) for r in per] == [("A", "completed")]


@pytest.mark.parametrize("evil", ["=SUM(A1:A9)", "+9779800000000", "-2+3", "@cmd|' /C calc'!A0"])
def test_csv_is_formula_safe(cli: Cli, evil: str) -> None:
    create(cli, "A", "1500", evil, "--reference", evil)
    text = cli("list", "--format", "csv").stdout
    row = next(csv.DictReader(io.StringIO(text)))
    assert row["name"] == "'" + evil and row["reference"] == "'" + evil
    assert row["amount"] == "1500.00"
    # other formats carry the value unchanged
    assert cli("list", "--format", "json").json()[0]["name"] == evil
    assert cli("list", "--format", "tsv").stdout.splitlines()[1].split("\t")[1] == evil


# -- ids from stdin, lookup by pidx ---------------------------------------------------------------


def test_dash_reads_ids_from_stdin(cli: Cli, configured: SandboxServer) -> None:
    for oid in ("A", "B", "C"):
        create(cli, oid)
    run = cli("initiate", "-", input="C\n\nA\n  B  \n")
    assert run.exit_code == 0, run.stderr
    urls = run.stdout.splitlines()
    assert len(urls) == 3
    by_order = {s["purchase_order_id"]: s["payment_url"] for s in configured.state.all()}
    assert urls == [by_order["C"], by_order["A"], by_order["B"]]
    run = cli("lookup", "-", input="B\nC\n")
    assert (run.exit_code, run.stdout) == (0, "B\tinitiated\nC\tinitiated\n")
    run = cli("lookup", "A", "-", input="B\n")
    assert run.stdout == "A\tinitiated\nB\tinitiated\n"
    assert cli("lookup", "-", input="\n").exit_code == 2


def test_lookup_by_pidx(cli: Cli, configured: SandboxServer) -> None:
    create(cli, "A")
    first = initiate(cli, "A")
    control(configured, first, "expire")
    run = cli("lookup", first)
    assert (run.exit_code, run.stdout) == (0, "A\texpired\n")
    second = initiate(cli, "A")
    control(configured, second, "complete")
    run = cli("lookup", second)
    assert (run.exit_code, run.stdout) == (0, "A\tcompleted\n")
    shown = cli("show", "A", "--format", "json").json()
    assert [(lk["pidx"], lk["khalti_status"]) for lk in shown["links"]] == [(first, "Expired"), (second, "Completed")]


# -- colour --------------------------------------------------------------------------------------


def test_no_color(cli: Cli) -> None:
    create(cli, "A")
    env = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "FORCE_COLOR")}
    env["COLUMNS"] = "200"
    code, coloured = run_on_terminal(["list"], env)
    assert code == 0 and ANSI in coloured  # a terminal gets colour by default...
    for args, extra in (
        (["--no-color", "list"], {}),
        (["list"], {"NO_COLOR": "1"}),
        (["--no-color", "show", "A"], {}),
        (["show", "A"], {"NO_COLOR": "1"}),
    ):
        code, plain = run_on_terminal(args, {**env, **extra})
        assert code == 0 and "order id" in plain
        assert ANSI not in plain, (args, extra)


def test_no_colour_in_a_pipe(cli: Cli) -> None:
    create(cli, "A")
    for args in (("list", "--format", "table"), ("show", "A", "--format", "table"), ("show", "NOPE")):
        run = cli(*args)
        assert ANSI not in run.stdout + run.stderr


# -- the installed program ------------------------------------------------------------------------


def test_installed_version(run_khalti: Any) -> None:
    run = run_khalti("--version")
    assert (run.exit_code, run.stdout, run.stderr) == (0, f"khalti {__version__}\n", "")
    proc = subprocess.run([sys.executable, "-m", "khalti_cli", "--version"], capture_output=True, text=True, timeout=30)
    assert (proc.returncode, proc.stdout) == (0, f"khalti {__version__}\n")


@pytest.mark.parametrize("args", [["--version"], ["--help"], ["create", "--help"]])
def test_startup_does_not_import_heavy_modules(args: list[str]) -> None:
    proc = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "khalti_cli", *args], capture_output=True, text=True, timeout=30
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    imported = {line.rsplit("|", 1)[-1].strip() for line in proc.stderr.splitlines() if "|" in line}
    assert "khalti_cli" in imported  # the import log is there...
    assert ("typer" in imported) == (args != ["--version"])  # --version answers before typer loads
    for heavy in ("httpx", "sqlite_utils", "dotenv", "segno", "rich.table", "rich.progress"):
        assert heavy not in imported, heavy


def test_installed_loop(run_khalti: Any, configured: SandboxServer) -> None:
    env = {k: v for k, v in os.environ.items() if k.startswith("KHALTI_")}
    run: Run = run_khalti("create", "--amount", "1500", "--name", "fee", "--order-id", "A", "--initiate", env=env)
    assert run.exit_code == 0, run.stderr
    pidx = run.stdout.strip().split("pidx=")[1]
    control(configured, pidx, "complete")
    run = run_khalti("lookup", "-", input="A\n", env=env)
    assert (run.exit_code, run.stdout, run.stderr) == (0, "A\tcompleted\n", "")
    run = run_khalti("list", "--format", "json", env=env)
    assert json.loads(run.stdout)[0]["status"] == "completed"
    run = run_khalti("show", "NOPE", env=env)
    assert run.exit_code == 3 and run.stdout == "" and "NOPE" in run.stderr
    run = run_khalti("create", "--nope", env=env)
    assert run.exit_code == 2
