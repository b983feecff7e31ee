"""`khalti import`: CSV and JSON Lines, from a file or stdin; every row checked first, all or nothing (or
--skip-invalid), bad rows named by line and column; re-importing a file adds nothing; --initiate makes the
links concurrently and never sends an initiate twice."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from conftest import Cli, fault
from store_checks import check_invariants, connect, events

from khalti_cli.sandbox import SandboxServer

HEADER = "order_id,amount,name,customer_name,customer_email,customer_phone,reference\n"
GOOD = (
    HEADER
    + 'F-1,"1,500.50","Tuition, Mangsir","राम बहादुर थापा",ram@example.com,9800000001,S-1\n'
    + 'F-2,2500,"Bus fee ""A"" route","Sita, Sharma",,,S-2\n'
    + "F-3,१५००,Exam fee,हरि प्रसाद,,,\n"
)


def write(path: Path, text: str) -> str:
    path.write_text(text, encoding="utf-8")
    return str(path)


def order_ids(db: Path) -> list[str]:
    conn = connect(db)
    ids = [r[0] for r in conn.execute("SELECT order_id FROM payments ORDER BY id")]
    conn.close()
    return ids


def test_csv_with_quotes_commas_and_nepali(cli: Cli, isolated: Path) -> None:
    run = cli("import", write(isolated / "fees.csv", GOOD), "--format", "json")
    assert run.exit_code == 0, run.stderr
    records = run.json()
    assert [r["order_id"] for r in records] == ["F-1", "F-2", "F-3"]
    first, second, third = records
    assert (first["amount"], first["amount_paisa"], first["name"]) == ("1500.50", 150050, "Tuition, Mangsir")
    assert first["customer_name"] == "राम बहादुर थापा" and first["customer_phone"] == "9800000001"
    assert (second["name"], second["customer_name"], second["customer_email"]) == (
        'Bus fee "A" route',
        "Sita, Sharma",
        None,
    )
    assert (third["amount_paisa"], third["reference"], third["status"]) == (150000, None, "created")
    assert "imported 3 payment(s)" in run.stderr
    history = events(isolated / "khalti.db", "F-1")
    assert [(e["kind"], e["to_status"]) for e in history] == [("created", "created")]
    assert "Rs 1,500.50" in history[0]["message"] and "fees.csv" in history[0]["message"]
    check_invariants(isolated / "khalti.db")


def test_one_bad_row_and_nothing_is_imported(cli: Cli, isolated: Path) -> None:
    text = (
        HEADER
        + "A-1,1500,Tuition,,,,\n"
        + 'A-2,"1,5,00",Tuition,,,,\n'  # line 3: commas in the wrong places
        + 'A-3,1500,"Two\nline name",,,,\n'  # lines 4-5: a quoted line break (a control character)
        + "A-4,5,,,not-an-email,12,\n"  # line 6: four bad cells
        + "A-5,1500.505,Tuition,,,,\n"  # line 7
        + "A 6,1500,Tuition,,,,\n"  # line 8: a space in the order id
        + "A-1,1500,Tuition,,,,\n"  # line 9: the same order id as line 2
    )
    run = cli("import", write(isolated / "bad.csv", text))
    assert run.exit_code == 3
    assert run.stdout == ""
    lines = run.stderr.splitlines()
    named = [line.split(":")[1].strip() for line in lines if line.startswith("bad.csv: line")]
    assert named == [
        "line 3, column amount",
        "line 4, column name",
        "line 6, column amount",
        "line 6, column name",
        "line 6, column customer_email",
        "line 6, column customer_phone",
        "line 7, column amount",
        "line 8, column order_id",
        "line 9, column order_id",
    ]
    assert "below Khalti's minimum" in run.stderr and "more than two decimals" in run.stderr
    assert "order id A-1 is also on line 2" in run.stderr
    assert "6 bad row(s) in bad.csv; nothing was imported" in run.stderr
    assert "--skip-invalid to import the 1 good row(s)" in run.stderr
    assert order_ids(isolated / "khalti.db") == []


def test_skip_invalid_imports_the_good_rows_and_still_exits_3(cli: Cli, isolated: Path) -> None:
    text = HEADER + "B-1,1500,Tuition,,,,\nB-2,abc,Tuition,,,,\nB-3,2000,Bus,,,,\n"
    run = cli("import", write(isolated / "b.csv", text), "--skip-invalid", "--format", "jsonl")
    assert run.exit_code == 3
    assert [r["order_id"] for r in run.jsonl()] == ["B-1", "B-3"]
    assert "b.csv: line 3, column amount:" in run.stderr
    assert "imported 2 payment(s), 1 bad row(s) left out" in run.stderr
    assert order_ids(isolated / "khalti.db") == ["B-1", "B-3"]


def test_json_lines_by_name_and_by_option(cli: Cli, isolated: Path) -> None:
    text = (
        '{"order_id": "J-1", "amount": 1500.5, "name": "Tuition", "customer_name": "सीता"}\n'
        "\n"
        '{"order_id": "J-2", "amount": "10.10", "name": "Exam", "customer_phone": 9800000002}\n'
        '{"order_id": "J-3", "amount": 1e3, "name": "Exam"}\n'
        '["not", "an", "object"]\n'
        '{"order_id": "J-5", "amount": 20, "name": "Bus", "colour": "red"}\n'
    )
    run = cli("import", write(isolated / "fees.jsonl", text), "--skip-invalid", "--format", "json")
    assert run.exit_code == 3
    records = run.json()
    assert [(r["order_id"], r["amount"], r["amount_paisa"]) for r in records] == [
        ("J-1", "1500.50", 150050),
        ("J-2", "10.10", 1010),
    ]
    assert records[0]["customer_name"] == "सीता" and records[1]["customer_phone"] == "9800000002"
    assert "line 4, column amount" in run.stderr  # exponent notation is refused, never read as a float
    assert "line 5:" in run.stderr and "line 6, column colour" in run.stderr

    other = isolated / "fees.txt"
    other.write_text('{"order_id": "J-9", "amount": "99", "name": "Library"}\n', encoding="utf-8")
    assert cli("import", str(other)).exit_code == 3  # read as CSV: no amount/name header
    run = cli("import", str(other), "--input-format", "jsonl", "--format", "jsonl")
    assert run.exit_code == 0, run.stderr
    assert run.jsonl()[0]["order_id"] == "J-9"


def test_stdin_csv_and_jsonl(cli: Cli, isolated: Path) -> None:
    run = cli("import", "-", "--format", "jsonl", input="amount,name\n1500,Tuition\n2000,Bus\n")
    assert run.exit_code == 0, run.stderr
    made = [r["order_id"] for r in run.jsonl()]
    assert len(made) == 2 and all(oid.startswith("KH-") for oid in made)
    run = cli("import", "-", "--input-format", "jsonl", "--format", "tsv", input='{"amount": "30", "name": "Ink"}\n')
    assert run.exit_code == 0, run.stderr
    assert run.stdout.splitlines()[1].split("\t")[1:3] == ["Ink", "30.00"]
    assert "stdin: imported 1 payment(s)" in run.stderr
    assert len(order_ids(isolated / "khalti.db")) == 3


def test_reimporting_the_same_file_adds_nothing(cli: Cli, isolated: Path) -> None:
    path = write(isolated / "fees.csv", GOOD)
    assert cli("import", path).exit_code == 0
    again = cli("import", path, "--format", "jsonl")
    assert again.exit_code == 0, again.stderr
    assert again.stdout == ""
    assert "line 2: order id F-1 is already imported with the same data; skipped." in again.stderr
    assert "nothing new; all 3 row(s) are already imported" in again.stderr
    assert order_ids(isolated / "khalti.db") == ["F-1", "F-2", "F-3"]

    # One more row: only it is imported. A changed row is a bad row, and then nothing is imported.
    grown = write(isolated / "fees.csv", GOOD + "F-4,700,Library,,,,\n")
    run = cli("import", grown, "--format", "jsonl")
    assert run.exit_code == 0 and [r["order_id"] for r in run.jsonl()] == ["F-4"]
    changed = write(isolated / "fees.csv", GOOD.replace("F-2,2500", "F-2,2600") + "F-5,800,Sports,,,,\n")
    run = cli("import", changed)
    assert run.exit_code == 3
    assert "line 3, column amount: order id F-2 is already stored with a different amount" in run.stderr
    assert order_ids(isolated / "khalti.db") == ["F-1", "F-2", "F-3", "F-4"]


def test_unknown_missing_and_repeated_columns_are_clear_errors(cli: Cli, isolated: Path) -> None:
    run = cli("import", write(isolated / "a.csv", "amount,name,Student Class\n1500,Tuition,5\n"))
    assert run.exit_code == 3
    assert "'Student Class'" in run.stderr and "khalti does not know" in run.stderr
    assert "amount, name, order_id" in run.stderr  # the columns it does know
    run = cli("import", write(isolated / "b.csv", "amount,customer_name\n1500,Sita\n"))
    assert run.exit_code == 3 and "no name column" in run.stderr
    run = cli("import", write(isolated / "c.csv", "amount,name,Name\n1500,a,b\n"))
    assert run.exit_code == 3 and "name more than once" in run.stderr
    # Header names are case-insensitive, spaces read as underscores.
    run = cli("import", write(isolated / "d.csv", "Amount,Name,Customer Name\n1500,Tuition,Sita\n"), "--format", "json")
    assert run.exit_code == 0 and run.json()[0]["customer_name"] == "Sita"


@pytest.mark.parametrize("text", ["", "\n\n", "amount,name\n", "amount,name\n\n"])
def test_empty_file_or_header_only_is_nothing_to_do(cli: Cli, isolated: Path, text: str) -> None:
    run = cli("import", write(isolated / "empty.csv", text))
    assert run.exit_code == 0
    assert run.stdout == ""
    assert "no rows to import; nothing to do" in run.stderr
    assert cli("-q", "import", str(isolated / "empty.csv")).stderr == ""


def test_unreadable_files(cli: Cli, isolated: Path) -> None:
    run = cli("import", str(isolated / "missing.csv"))
    assert run.exit_code == 3 and "There is no file" in run.stderr
    latin = isolated / "latin.csv"
    latin.write_bytes("amount,name\n1500,Caf\xe9\n".encode("latin-1"))
    run = cli("import", str(latin))
    assert run.exit_code == 3 and "not UTF-8" in run.stderr
    broken = write(isolated / "broken.csv", 'amount,name\n1500,"never closed\n')
    run = cli("import", broken)
    assert run.exit_code == 3 and "not valid CSV" in run.stderr
    # A byte-order mark (Excel's "CSV UTF-8") is fine.
    bom = isolated / "bom.csv"
    bom.write_bytes("\ufeffamount,name\n1500,Tuition\n".encode())
    assert cli("import", str(bom)).exit_code == 0
    assert len(order_ids(isolated / "khalti.db")) == 1


def test_rows_without_order_ids_get_distinct_ones(cli: Cli, isolated: Path) -> None:
    rows = "".join(f"{1000 + i},Fee {i}\n" for i in range(3000))
    path = write(isolated / "many.csv", "amount,name\n" + rows)
    run = cli("import", path, "--format", "tsv", "--columns", "order_id")
    assert run.exit_code == 0, run.stderr
    made = run.stdout.split()[1:]
    assert len(made) == len(set(made)) == 3000
    assert all(oid.startswith("KH-") and len(oid) == 16 for oid in made)
    assert sorted(made) == sorted(order_ids(isolated / "khalti.db"))


def test_initiate_makes_every_link_concurrently(cli: Cli, configured: SandboxServer, isolated: Path) -> None:
    rows = "".join(f"I-{i},{1000 + i},Tuition,Payer {i},,,\n" for i in range(10))
    fault(configured, {"delay_ms": 400, "count": 10, "path": "initiate"})
    started = time.monotonic()
    run = cli("import", write(isolated / "i.csv", HEADER + rows), "--initiate", "--format", "jsonl")
    elapsed = time.monotonic() - started
    assert run.exit_code == 0, run.stderr
    records = run.jsonl()
    assert [r["order_id"] for r in records] == [f"I-{i}" for i in range(10)]  # file order
    assert all(r["status"] == "initiated" and r["payment_url"].startswith(configured.url) for r in records)
    assert elapsed < 10 * 0.4 * 0.6, f"{elapsed:.1f}s: the initiates did not overlap"
    sent = configured.state.all()
    assert sorted(p["purchase_order_id"] for p in sent) == [f"I-{i}" for i in range(10)]
    check_invariants(isolated / "khalti.db")


def test_initiate_is_never_sent_twice(
    cli: Cli, configured: SandboxServer, isolated: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One initiate times out after it reached Khalti: it is not retried (Khalti made that link; nobody saw
    its URL, so reconcile voids it), the others go through, and the exit says 'try later'."""
    monkeypatch.setenv("KHALTI_TIMEOUT", "1")
    fault(configured, {"delay_ms": 2500, "count": 1, "path": "initiate"})
    rows = "".join(f"T-{i},1500,Tuition,,,,\n" for i in range(4))
    run = cli("import", write(isolated / "t.csv", HEADER + rows), "--initiate", "--format", "jsonl")
    assert run.exit_code == 75, run.stderr
    assert len(run.jsonl()) == 3
    assert run.stderr.count("Error: T-") == 1
    assert len(configured.state.all()) == 4  # one request per row, none repeated
    conn = connect(isolated / "khalti.db")
    states = sorted(r[0] for r in conn.execute("SELECT state FROM links"))
    conn.close()
    assert states == ["open", "open", "open", "unknown"]


def test_initiate_without_a_key_imports_nothing(cli: Cli, isolated: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KHALTI_WEBSITE_URL", "https://school.example.edu.np")
    run = cli("import", write(isolated / "k.csv", GOOD), "--initiate")
    assert run.exit_code == 4
    assert "KHALTI_SECRET_KEY" in run.stderr
    assert not (isolated / "khalti.db").exists()  # checked before anything was opened or stored


def test_initiate_output_as_table_columns(cli: Cli, configured: SandboxServer, isolated: Path) -> None:
    run = cli(
        "import",
        write(isolated / "c.csv", GOOD),
        "--initiate",
        "--format",
        "csv",
        "--columns",
        "order_id,amount,payment_url",
    )
    assert run.exit_code == 0, run.stderr
    lines = run.stdout.splitlines()
    assert lines[0] == "order_id,amount,payment_url"
    assert [line.split(",")[0] for line in lines[1:]] == ["F-1", "F-2", "F-3"]
    assert all("pidx=" in line for line in lines[1:])
    assert json.loads(cli("show", "F-1", "--format", "json").stdout)["status"] == "initiated"


def test_jsonl_output_is_the_same_records_as_json(cli: Cli, isolated: Path) -> None:
    """Imported records in JSON Lines are made by SQLite (fast); they say exactly what list's records say."""
    text = GOOD + 'F-4,"2,00,000.05","Back\\slash ""q"" fee",सीता,,+9779800000001,S-4\n'
    run = cli("import", write(isolated / "fees.csv", text), "--format", "jsonl")
    assert run.exit_code == 0, run.stderr
    listed = cli("list", "--format", "json").json()
    assert run.jsonl() == listed[::-1]  # list is newest first; import prints in file order
    assert run.jsonl()[3]["amount"] == "200000.05" and run.jsonl()[3]["name"] == 'Back\\slash "q" fee'
    chosen = cli(
        "import",
        write(isolated / "more.csv", "amount,name\n10,Ink\n"),
        "--format",
        "jsonl",
        "--columns",
        "name,amount,refunded,payer",
    )
    assert chosen.jsonl() == [{"name": "Ink", "amount": "10.00", "refunded": False, "payer": None}]
