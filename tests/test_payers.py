"""The payers register: add, update, import, list, show; it feeds `create --payer` and import rows that
name only a payer; a payer's later changes never rewrite payments already made; a payer's history with
what is due and what is paid."""

from __future__ import annotations

from pathlib import Path

from conftest import Cli, control
from store_checks import check_invariants, connect

from khalti_cli.sandbox import SandboxServer
from khalti_cli.store.db import SCHEMA_VERSION


def add_sita(cli: Cli) -> None:
    run = cli(
        "payers",
        "add",
        "S-101",
        "--name",
        "सीता शर्मा",
        "--class",
        "Grade 5 B",
        "--phone",
        "9800000001",
        "--email",
        "sita@example.com",
    )
    assert run.exit_code == 0, run.stderr
    assert run.stdout == "S-101\n" and "Payer S-101: added." in run.stderr


def test_add_list_show_and_update(cli: Cli) -> None:
    add_sita(cli)
    assert cli("payers", "add", "S-102", "--name", "Ram Thapa", "--group", "Grade 6 A").exit_code == 0
    listed = cli("payers", "list", "--format", "json").json()
    assert [(p["reference"], p["name"], p["group"]) for p in listed] == [
        ("S-101", "सीता शर्मा", "Grade 5 B"),
        ("S-102", "Ram Thapa", "Grade 6 A"),
    ]
    assert [p["reference"] for p in cli("payers", "list", "--group", "Grade 6 A", "--format", "json").json()] == [
        "S-102"
    ]
    assert [p["reference"] for p in cli("payers", "list", "--search", "सीता", "--format", "json").json()] == ["S-101"]

    # `add` of an existing reference updates the details given and keeps the rest.
    run = cli("payers", "add", "S-102", "--phone", "9800000002", "--format", "json")
    assert run.exit_code == 0 and "updated" in run.stderr
    assert (run.json()["name"], run.json()["phone"]) == ("Ram Thapa", "9800000002")
    assert "unchanged" in cli("payers", "add", "S-102", "--phone", "9800000002").stderr
    # `update` changes only existing payers; an empty value clears a detail.
    run = cli("payers", "update", "S-102", "--phone", "", "--format", "json")
    assert run.exit_code == 0 and run.json()["phone"] is None
    assert cli("payers", "update", "S-999", "--name", "Nobody").exit_code == 3
    assert cli("payers", "add", "S-103").exit_code == 3  # new: a name is needed
    run = cli("payers", "add", "S-104", "--name", "X", "--email", "not-an-email")
    assert run.exit_code == 3 and "not an email address" in run.stderr
    show = cli("payers", "show", "S-101", "--format", "json").json()
    assert (show["name"], show["group"], show["payments"], show["totals"]["payments"]) == (
        "सीता शर्मा",
        "Grade 5 B",
        [],
        0,
    )
    assert cli("payers", "show", "S-999").exit_code == 3


def test_create_with_payer_copies_the_details(cli: Cli) -> None:
    add_sita(cli)
    run = cli(
        "create",
        "--amount",
        "1500",
        "--name",
        "Tuition, Mangsir",
        "--payer",
        "S-101",
        "--order-id",
        "P-1",
        "--format",
        "json",
    )
    assert run.exit_code == 0, run.stderr
    record = run.json()
    assert (record["customer_name"], record["customer_phone"], record["customer_email"]) == (
        "सीता शर्मा",
        "9800000001",
        "sita@example.com",
    )
    assert (record["reference"], record["payer"]) == ("S-101", "S-101")
    # Given details win over the register's.
    run = cli(
        "create",
        "--amount",
        "200",
        "--name",
        "Bus",
        "--payer",
        "S-101",
        "--customer-phone",
        "9811111111",
        "--format",
        "json",
    )
    assert run.json()["customer_phone"] == "9811111111" and run.json()["customer_name"] == "सीता शर्मा"
    run = cli("create", "--amount", "200", "--name", "Bus", "--payer", "S-404")
    assert run.exit_code == 3 and "No payer has reference 'S-404'" in run.stderr


def test_import_rows_that_name_only_a_payer(cli: Cli, isolated: Path) -> None:
    add_sita(cli)
    (isolated / "fees.csv").write_text(
        "order_id,amount,name,payer\n"
        "M-1,1500,Tuition Mangsir,S-101\n"
        "M-2,300,Bus Mangsir,S-101\n"
        "M-3,300,Bus Mangsir,S-404\n",
        encoding="utf-8",
    )
    run = cli("import", "fees.csv")
    assert run.exit_code == 3
    assert "fees.csv: line 4, column payer: no payer has reference 'S-404'" in run.stderr
    run = cli("import", "fees.csv", "--skip-invalid", "--format", "json")
    assert run.exit_code == 3
    records = run.json()
    assert [(r["order_id"], r["customer_name"], r["customer_email"], r["payer"], r["reference"]) for r in records] == [
        ("M-1", "सीता शर्मा", "sita@example.com", "S-101", "S-101"),
        ("M-2", "सीता शर्मा", "sita@example.com", "S-101", "S-101"),
    ]
    # The payer's phone changes afterwards: re-importing the same file is still "the same data".
    assert cli("payers", "update", "S-101", "--phone", "9822222222").exit_code == 0
    (isolated / "fees.csv").write_text(
        "order_id,amount,name,payer\nM-1,1500,Tuition Mangsir,S-101\nM-2,300,Bus Mangsir,S-101\n", encoding="utf-8"
    )
    again = cli("import", "fees.csv")
    assert again.exit_code == 0 and "nothing new" in again.stderr


def test_changing_a_payer_does_not_rewrite_payments_made(cli: Cli, isolated: Path) -> None:
    add_sita(cli)
    fee = ("create", "--amount", "1500", "--name", "Tuition", "--payer", "S-101", "--order-id")
    assert cli(*fee, "OLD").exit_code == 0
    assert cli("payers", "update", "S-101", "--name", "Sita Sharma Thapa", "--phone", "9833333333").exit_code == 0
    assert cli(*fee, "NEW").exit_code == 0
    old = cli("show", "OLD", "--format", "json").json()
    new = cli("show", "NEW", "--format", "json").json()
    assert (old["customer_name"], old["customer_phone"]) == ("सीता शर्मा", "9800000001")
    assert (new["customer_name"], new["customer_phone"]) == ("Sita Sharma Thapa", "9833333333")
    history = cli("list", "--payer", "S-101", "--format", "json").json()
    assert [p["order_id"] for p in history] == ["NEW", "OLD"]


def test_payers_import_all_or_nothing(cli: Cli, isolated: Path) -> None:
    add_sita(cli)
    (isolated / "register.csv").write_text(
        "Student ID,Name,Class,Phone,Email\n"
        "S-101,सीता शर्मा,Grade 5 B,9800000001,\n"  # the same: unchanged (an empty cell changes nothing)
        'S-201,"Thapa, Ram",Grade 6 A,9800000011,ram@example.com\n'
        "S-202,Hari,Grade 6 A,98,\n",  # line 4: a bad phone
        encoding="utf-8",
    )
    run = cli("payers", "import", "register.csv")
    assert run.exit_code == 3
    assert "register.csv: line 4, column phone:" in run.stderr and "nothing was stored" in run.stderr
    assert [p["reference"] for p in cli("payers", "list", "--format", "json").json()] == ["S-101"]
    run = cli("payers", "import", "register.csv", "--skip-invalid")
    assert run.exit_code == 3 and "1 added, 0 updated, 1 unchanged, 1 bad row(s) left out" in run.stderr
    ram = cli("payers", "show", "S-201", "--format", "json").json()
    assert (ram["name"], ram["group"], ram["email"]) == ("Thapa, Ram", "Grade 6 A", "ram@example.com")
    sita = cli("payers", "show", "S-101", "--format", "json").json()
    assert sita["email"] == "sita@example.com"
    jsonl = cli(
        "payers",
        "import",
        "-",
        "--input-format",
        "jsonl",
        input='{"reference": "S-201", "name": "Thapa, Ram", "group": "Grade 7 A"}\n',
    )
    assert jsonl.exit_code == 0 and "1 updated" in jsonl.stderr


def test_a_payers_history_and_totals(cli: Cli, configured: SandboxServer, isolated: Path) -> None:
    add_sita(cli)
    (isolated / "fees.csv").write_text(
        "order_id,amount,name,payer\n"
        "H-1,1500,Tuition Mangsir,S-101\n"
        "H-2,300.50,Bus Mangsir,S-101\n"
        "H-3,1500,Tuition Poush,S-101\n"
        "H-4,250,Exam,S-101\n",
        encoding="utf-8",
    )
    run = cli("import", "fees.csv", "--initiate", "--format", "jsonl")
    assert run.exit_code == 0, run.stderr
    pidx = {r["order_id"]: r["pidx"] for r in run.jsonl()}
    control(configured, pidx["H-1"], "complete")
    control(configured, pidx["H-2"], "complete")
    control(configured, pidx["H-3"], "cancel")
    assert cli("reconcile").exit_code == 0
    assert cli("refund", "H-2", "--amount", "100", "--yes").exit_code == 0
    # Someone else's payment is not in her history.
    assert cli("create", "--amount", "999", "--name", "Tuition", "--customer-name", "Ram").exit_code == 0

    show = cli("payers", "show", "S-101", "--format", "json").json()
    assert sorted(p["order_id"] for p in show["payments"]) == ["H-1", "H-2", "H-3", "H-4"]
    totals = show["totals"]
    # Hand-computed: paid H-1 1500 + H-2 300.50 (then Rs 100 refunded); due H-3 1500 (canceled link) + H-4 250.
    assert (totals["paid_paisa"], totals["paid"]) == (180050, "1800.50")
    assert (totals["due_paisa"], totals["due"]) == (175000, "1750.00")
    assert (totals["refunded_paisa"], totals["review_paisa"], totals["payments"]) == (10000, 0, 4)
    assert totals["by_status"] == {
        "canceled": {"count": 1, "amount": "1500.00"},
        "completed": {"count": 1, "amount": "1500.00"},
        "initiated": {"count": 1, "amount": "250.00"},
        "partially_refunded": {"count": 1, "amount": "300.50"},
    }
    listed = cli("list", "--payer", "S-101", "--format", "tsv", "--columns", "order_id,status")
    assert sorted(listed.stdout.splitlines()[1:]) == [
        "H-1\tcompleted",
        "H-2\tpartially_refunded",
        "H-3\tcanceled",
        "H-4\tinitiated",
    ]
    table = cli("list", "--payer", "S-101", "--format", "table")
    assert "S-101: due Rs 1,750.00, paid Rs 1,800.50, refunded Rs 100.00 (4 payment(s) in all)." in table.stderr
    shown = cli("payers", "show", "S-101", "--format", "table")
    assert "Due (not paid yet)" in shown.stdout and "Rs 1,750.00" in shown.stdout and "Grade 5 B" in shown.stdout
    check_invariants(isolated / "khalti.db")


def test_schema_migration_adds_payers_to_an_old_database(cli: Cli, isolated: Path) -> None:
    """A database made before the payers register (schema 1) gets the table and column on its next open."""
    import sqlite3

    from sqlite_utils import Database

    from khalti_cli.store.schema import m001_core

    path = isolated / "khalti.db"
    conn = sqlite3.connect(path)
    db = Database(conn)
    m001_core(db)
    db.execute(
        "CREATE TABLE _sqlite_migrations (id INTEGER PRIMARY KEY, migration_set TEXT, name TEXT, applied_at TEXT)"
    )
    db.execute("INSERT INTO _sqlite_migrations (migration_set, name, applied_at) VALUES ('khalti', 'm001_core', 'x')")
    db.execute("PRAGMA user_version = 1")
    conn.execute(
        "INSERT INTO payments (order_id, name, amount_paisa, status, created_at, updated_at) "
        "VALUES ('OLD-1', 'Tuition', 150000, 'created', '2026-01-01T00:00:00.000+00:00', "
        "'2026-01-01T00:00:00.000+00:00')"
    )
    conn.commit()
    conn.close()
    assert cli("payers", "add", "S-1", "--name", "Sita").exit_code == 0
    record = cli("show", "OLD-1", "--format", "json").json()
    assert record["payer"] is None and record["amount"] == "1500.00"
    conn = connect(path)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION  # every later migration too
    assert "payer_ref" in [r[1] for r in conn.execute("PRAGMA table_info(payments)")]
    conn.close()


# --- a bad phone is named as the person typed it, with what is wrong (issue 13) ----------------------

PHONE_CASES = {  # what was typed -> what the message says is wrong
    "९८०१२३": "is too short: 6 digits",
    "98": "is too short: 2 digits",
    "9800 000 001 234 5678 9": "is too long: 23 characters",
    "98x0-12y345": "has 'x', 'y', which are not digits",
    "nine eight": "which are not digits",
    "-9800000001": "must start and end with a digit",
}


def test_a_bad_phone_names_the_field_typed_and_what_is_wrong(cli: Cli, isolated: Path) -> None:
    """--phone (payers add, update), --customer-phone (create, edit), the phone and customer_phone columns of
    payers import and import: each kind of wrong (too short, too long, not digits, not ending in digits)
    exits 3 naming that field and the fault; nothing is stored; a good number (Devanagari digits too) is."""
    assert cli("payers", "add", "S-1", "--name", "Sita").exit_code == 0
    assert cli("create", "--amount", "100", "--name", "Fee", "--order-id", "P-1").exit_code == 0
    before = (cli("payers", "list", "--format", "json").stdout, cli("list", "--format", "json").stdout)
    for typed, fault in PHONE_CASES.items():
        (isolated / "payers.csv").write_text(f"reference,name,phone\nS-2,Hari,{typed}\n", encoding="utf-8")
        (isolated / "fees.csv").write_text(f"amount,name,customer_phone\n100,Fee,{typed}\n", encoding="utf-8")
        runs = {
            "--phone": [("payers", "add", "S-3", "--name", "Ram", "--phone", typed),
                        ("payers", "update", "S-1", "--phone", typed)],
            "--customer-phone": [("create", "--amount", "100", "--name", "Fee", "--customer-phone", typed),
                                 ("edit", "P-1", "--customer-phone", typed)],
            "column phone": [("payers", "import", "payers.csv")],
            "column customer_phone": [("import", "fees.csv")],
        }  # fmt: skip
        for field, commands in runs.items():
            for args in commands:
                run = cli(*args)
                assert run.exit_code == 3, (args, run.stderr)
                named = f"phone given with {field}" if field.startswith("--") else f"phone in {field}"
                assert f"The {named} (" in run.stderr and fault in run.stderr, (args, run.stderr)
                assert "customer phone" not in run.stderr
    assert (cli("payers", "list", "--format", "json").stdout, cli("list", "--format", "json").stdout) == before
    assert cli("payers", "update", "S-1", "--phone", "९८०००००००१").exit_code == 0
    assert cli("payers", "show", "S-1", "--format", "json").json()["phone"] == "9800000001"
    assert cli("edit", "P-1", "--customer-phone", "+977 980-0000001").exit_code == 0
