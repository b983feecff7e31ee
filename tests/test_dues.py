"""khalti dues: unpaid fees by class and payer, pending apart, totals, filters, formats (xlsx read back)."""

from __future__ import annotations

import io
import subprocess
from pathlib import Path

import openpyxl
from conftest import Cli, control, khalti_exe
from generated_cases import slow_examples
from hypothesis import given
from hypothesis import strategies as st
from store_checks import connect, write_status

from khalti_cli.sandbox import SandboxServer


def school(cli: Cli, server: SandboxServer) -> dict[str, str]:
    """Grade 5: S1 paid, S2 pending, S3 owes (Mangsir and Poush); Grade 6: T1 owes, T2 voided."""
    for ref, name, group in (
        ("S1", "Asha", "Grade 5"),
        ("S2", "Bikash", "Grade 5"),
        ("S3", "सीता", "Grade 5"),
        ("T1", "Tara", "Grade 6"),
        ("T2", "Udaya", "Grade 6"),
    ):
        assert cli("payers", "add", ref, "--name", name, "--group", group).exit_code == 0
    run = cli("bill", "--month", "2083-08", "--fee", "Tuition=4500", "--initiate", "--format", "json")
    assert run.exit_code == 0, run.stderr
    ids = {r["payer"]: r for r in run.json()}
    control(server, ids["S1"]["pidx"], "complete")
    control(server, ids["S2"]["pidx"], "pending")
    assert cli("reconcile").exit_code == 0
    assert cli("bill", "--month", "2083-09", "--group", "Grade 5", "--fee", "Tuition=4500").exit_code == 0
    write_status(Path("khalti.db"), ids["T2"]["order_id"], "voided")  # as settle/void do
    return {payer: r["order_id"] for payer, r in ids.items()}


def test_dues_by_class_and_payer(cli: Cli, configured: SandboxServer) -> None:
    ids = school(cli, configured)
    rows = cli("dues", "--format", "json").json()
    due = [(r["group"], r["payer"], r["period"]) for r in rows if r["kind"] == "due"]
    assert due == [
        ("Grade 5", "S1", "2083-09"),
        ("Grade 5", "S2", "2083-09"),
        ("Grade 5", "S3", "2083-08"),
        ("Grade 5", "S3", "2083-09"),
        ("Grade 6", "T1", "2083-08"),
    ]
    pending = [r for r in rows if r["kind"] == "pending"]
    assert [(r["payer"], r["order_id"]) for r in pending] == [("S2", ids["S2"])]
    summary = cli("dues").stderr
    assert "Owed: Rs 22,500.00 in 5 fee(s) by 4 payer(s); pending at Khalti: Rs 4,500.00 in 1." in summary

    mangsir = cli("dues", "--month", "mangsir 2083", "--format", "json").json()
    assert sorted(r["payer"] for r in mangsir if r["kind"] == "due") == ["S3", "T1"]
    grade6 = cli("dues", "--group", "Grade 6", "--format", "jsonl").jsonl()
    assert [r["payer"] for r in grade6] == ["T1"]
    one = cli("dues", "--payer", "S3", "--format", "csv").stdout.splitlines()
    assert one[0].startswith("kind,group,payer") and len(one) == 3

    table = cli("dues", "--format", "table").stdout
    assert "Grade 5" in table and "Rs 18,000.00" in table and "Pending at Khalti" in table and "सीता" in table
    assert cli("dues", "--month", "smarch").exit_code == 3


def test_dues_xlsx(cli: Cli, configured: SandboxServer, isolated: Path) -> None:
    school(cli, configured)
    run = cli("dues", "--format", "xlsx", "--out", "dues.xlsx")
    assert run.exit_code == 0, run.stderr
    path = isolated / "dues.xlsx"
    assert path.stat().st_mode & 0o777 == 0o600
    book = openpyxl.load_workbook(path)
    assert book.sheetnames == ["Dues", "Pending", "By class"]
    sheet = book["Dues"]
    header = [c.value for c in sheet[1]]
    rows = [dict(zip(header, (c.value for c in row), strict=True)) for row in sheet.iter_rows(min_row=2)]
    assert len(rows) == 5 and all(isinstance(r["amount"], int | float) and r["amount"] == 4500 for r in rows)
    assert all(isinstance(r["amount_paisa"], int) for r in rows)
    assert {r["customer_name"] for r in rows} >= {"सीता"}  # Nepali intact
    assert all(r["created_at"].year >= 2026 for r in rows)  # a date, not text
    totals = {row[0].value: row[4].value for row in book["By class"].iter_rows(min_row=2)}
    assert totals == {"Grade 5": 1800000, "Grade 6": 450000, "school": 2250000}
    assert cli("dues", "--format", "xlsx", "--out", "dues.xlsx").exit_code == 3  # never over a file
    piped = subprocess.run([*khalti_exe(), "dues", "--format", "xlsx"], capture_output=True, timeout=60, check=True)
    assert openpyxl.load_workbook(io.BytesIO(piped.stdout)).sheetnames == ["Dues", "Pending", "By class"]
    with connect(isolated / "khalti.db") as conn:
        assert conn.execute("SELECT COUNT(*) FROM payments").fetchone()[0] == 8  # nothing stored by the listings


# --- classes in natural order in every listing (issue 13) ------------------------------------------

_DIGITS = {"latin": "0123456789", "devanagari": "०१२३४५६७८९"}


def _written(n: int, script: str) -> str:
    return "".join(_DIGITS[script][int(d)] for d in str(n))


@slow_examples(4)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(("Grade ", "कक्षा ", "Class ")),
            st.integers(1, 120),
            st.sampled_from(("latin", "devanagari")),
            st.sampled_from(("", " A", " ख")),
        ),
        min_size=2,
        max_size=7,
        unique_by=lambda t: (t[0], t[1], t[3]),
    )
)
def test_classes_are_in_natural_order_everywhere(
    cli: Cli, isolated: Path, classes: list[tuple[str, int, str, str]]
) -> None:
    """Generated class names mixing Latin and Devanagari digits (Grade 10, कक्षा २, Class ११ A): payers
    list, bill (--dry-run and real), dues (json, table, xlsx), the report's by class (json, table, xlsx)
    all list them in natural order, computed here from the numbers themselves; no class comes last."""
    from khalti_cli import calendar

    names = {
        f"{prefix}{_written(n, script)}{suffix}": (prefix.casefold(), n, suffix)
        for prefix, n, script, suffix in classes
    }
    expected = sorted(names, key=lambda name: names[name])
    db = isolated / f"classes-{len(list(isolated.glob('classes-*.db')))}.db"
    env = {"KHALTI_DB": str(db)}
    register = isolated / f"{db.stem}.csv"
    lines = ["reference,name,group"] + [f"S-{i},Payer {i},{name}" for i, name in enumerate(reversed(expected))]
    register.write_text("\n".join(lines) + "\n", encoding="utf-8")
    assert cli("payers", "import", str(register), env=env).exit_code == 0
    assert cli("create", "--amount", "100", "--name", "Loose fee", "--order-id", "LOOSE-1", env=env).exit_code == 0

    listed = [p["group"] for p in cli("payers", "list", "--format", "json", env=env).json()]
    assert listed == expected
    month = calendar.period_key(*calendar.to_bs(calendar.today())[:2])
    dry = cli("bill", "--month", month, "--fee", "Tuition=45000", "--dry-run", env=env)
    assert [line.split(":")[0] for line in dry.stderr.splitlines() if "payer(s)" in line] == expected
    assert cli("bill", "--month", month, "--fee", "Tuition=45000", env=env).exit_code == 0
    with_none = [*expected, "(no class)"]

    dues = cli("dues", "--format", "json", env=env).json()
    assert list(dict.fromkeys(r["group"] for r in dues)) == with_none
    table = cli("dues", "--format", "table", env=env).stdout.splitlines()
    assert [line.strip() for line in table if line.strip() in with_none] == with_none
    out = isolated / f"{db.stem}-dues.xlsx"
    assert cli("dues", "--out", str(out), env=env).exit_code == 0
    by_class = openpyxl.load_workbook(out)["By class"]
    assert [r[0].value for r in by_class.iter_rows(min_row=2)] == [*with_none, "school"]

    report = cli("report", "--format", "json", env=env).json()
    assert [c["group"] for c in report["by_class"]] == with_none
    table = cli("report", "--format", "table", env=env).stdout.splitlines()
    start = table.index("By class (rupees)")
    assert [line.split("  ")[0].strip() for line in table[start + 2 : start + 2 + len(with_none)]] == with_none
    out = isolated / f"{db.stem}-report.xlsx"
    assert cli("report", "--out", str(out), env=env).exit_code == 0
    books = openpyxl.load_workbook(out)["Books"]
    assert [r[0].value for r in books.iter_rows(min_row=2)] == [*with_none, "school"]


def test_natural_key_counts_devanagari_digits_as_digits() -> None:
    from khalti_cli.ordering import class_key

    shown = ["कक्षा 1", "कक्षा 10", "कक्षा 11", "कक्षा 12", "कक्षा 2", "कक्षा ३", None, "Grade 10", "Grade 2", "Grade 3"]
    assert sorted(shown, key=class_key) == [
        "Grade 2", "Grade 3", "Grade 10", "कक्षा 1", "कक्षा 2", "कक्षा ३", "कक्षा 10", "कक्षा 11", "कक्षा 12", None
    ]  # fmt: skip
