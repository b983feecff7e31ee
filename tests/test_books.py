"""The books: report --month / --fiscal-year (default this BS month) by class, money in through and outside
Khalti, refunds, fees, net, collections per BS day; --format xlsx for report, list and payers list."""

from __future__ import annotations

from pathlib import Path

import openpyxl
from conftest import Cli, control
from store_checks import write_status

from khalti_cli import calendar
from khalti_cli.sandbox import SandboxServer


def month_of_fees(cli: Cli, server: SandboxServer) -> dict[str, dict[str, object]]:
    """This BS month: Grade 5 (A paid, B paid then refunded 1000, C settled at the counter), Grade 6 (D owes)."""
    for ref, group in (("A", "Grade 5"), ("B", "Grade 5"), ("C", "Grade 5"), ("D", "Grade 6")):
        assert cli("payers", "add", ref, "--name", f"नाम {ref}", "--group", group).exit_code == 0
    run = cli("bill", "--month", calendar.period_key(*calendar.to_bs(calendar.today())[:2]), "--fee", "Tuition=4000")
    assert run.exit_code == 0
    records = {r["payer"]: r for r in cli("list", "--format", "json").json()}
    assert cli("initiate", records["A"]["order_id"], records["B"]["order_id"]).exit_code == 0
    records = {r["payer"]: r for r in cli("list", "--format", "json").json()}
    control(server, records["A"]["pidx"], "complete")
    control(server, records["B"]["pidx"], "complete")
    assert cli("reconcile").exit_code == 0
    assert cli("refund", records["B"]["order_id"], "--amount", "1000", "--yes").exit_code == 0
    write_status(Path("khalti.db"), records["C"]["order_id"], "paid_offline")  # as settle/void do
    return records


def test_report_of_this_bs_month_by_class(cli: Cli, configured: SandboxServer) -> None:
    month_of_fees(cli, configured)
    report = cli("report", "--format", "json").json()  # default: this BS month
    today = calendar.to_bs(calendar.today())
    assert report["since_bs"] == f"{today.year:04d}-{today.month:02d}-01"
    same = cli("report", "--month", calendar.MONTHS[today.month - 1].lower(), "--format", "json").json()
    assert same["label"] == f"{calendar.MONTHS[today.month - 1]} {today.year}" and same["books"] == report["books"]
    books = {k: v["amount_paisa"] for k, v in report["books"].items() if isinstance(v, dict)}
    fees = books["fees"]
    assert books["billed"] == 1600000 and books["collected_khalti"] == 800000 and books["collected_outside"] == 400000
    assert books["refunds"] == 100000 and books["due"] == 400000
    assert books["net"] == 800000 + 400000 - 100000 - fees
    by_class = {c["group"]: c for c in report["by_class"]}
    assert by_class["Grade 5"]["collected_outside"]["amount_paisa"] == 400000
    assert by_class["Grade 6"]["due"]["amount_paisa"] == 400000 and by_class["Grade 6"]["net"]["amount_paisa"] == 0
    day = next(d for d in report["per_day"] if d["day_bs"] == today.iso())
    assert day["amount_paisa"] == 1200000 and day["count"] == 3  # A, B (refunded in part) and C at the counter

    table = cli("report", "--format", "table").stdout
    assert "The books" in table and "Collected outside Khalti" in table and "Net collected" in table
    assert "Grade 6" in table and f"Fees of {calendar.MONTHS[today.month - 1]}" not in table
    assert "Collections per day (BS)" in table

    fiscal = calendar.fiscal_label(calendar.fiscal_year_of(calendar.today()))
    year = cli("report", "--fiscal-year", fiscal, "--format", "json").json()
    assert year["label"] == f"fiscal year {fiscal}" and year["books"] == report["books"]
    assert year["since_bs"].endswith("-04-01")
    other = cli("report", "--fiscal-year", "2081/82", "--format", "json").json()
    assert other["books"]["billed"]["amount_paisa"] == 0
    assert cli("report", "--month", "smarch").exit_code == 3
    assert cli("report", "--fiscal-year", "2082/84").exit_code == 3
    assert cli("report", "--month", "mangsir", "--since", "2026-01-01").exit_code == 2


def test_xlsx_for_report_list_and_payers(cli: Cli, configured: SandboxServer, isolated: Path) -> None:
    records = month_of_fees(cli, configured)
    assert cli("report", "--format", "xlsx", "--out", "books.xlsx").exit_code == 0
    book = openpyxl.load_workbook(isolated / "books.xlsx")
    assert book.sheetnames == ["Books", "By status", "Per day", "Expiring"]
    rows = {r[0].value: [c.value for c in r] for r in book["Books"].iter_rows(min_row=2)}
    assert rows["school"][1] == 16000 and rows["Grade 6"][7] == 4000  # billed, due: numbers

    assert cli("list", "--format", "xlsx", "--out", "payments.xlsx").exit_code == 0
    sheet = openpyxl.load_workbook(isolated / "payments.xlsx")["Payments"]
    header = [c.value for c in sheet[1]]
    listed = [dict(zip(header, (c.value for c in row), strict=True)) for row in sheet.iter_rows(min_row=2)]
    by_order = {r["order_id"]: r for r in listed}
    a = by_order[str(records["A"]["order_id"])]
    assert a["amount_paisa"] == 400000 and a["amount"] == 4000 and a["customer_name"] == "नाम A"
    assert a["created_at"].year >= 2026 and a["created_at_bs"] == calendar.to_bs(calendar.today()).iso()
    assert a["receipt_no"].startswith(calendar.fiscal_label(calendar.fiscal_year_of(calendar.today())))

    assert cli("payers", "list", "--format", "xlsx", "--out", "payers.xlsx").exit_code == 0
    payers = openpyxl.load_workbook(isolated / "payers.xlsx")["Payers"]
    assert next([c.value for c in r][:3] for r in payers.iter_rows(min_row=2)) == ["A", "नाम A", "Grade 5"]
    for name in ("books.xlsx", "payments.xlsx", "payers.xlsx"):
        assert (isolated / name).stat().st_mode & 0o777 == 0o600
    assert cli("list", "--format", "tsv", "--out", "x.xlsx").exit_code == 2
    assert cli("list", "--out", "implied.xlsx").exit_code == 0  # --out means xlsx
    assert openpyxl.load_workbook(isolated / "implied.xlsx").sheetnames == ["Payments"]
    # a formula is written as text, never run
    assert cli("payers", "add", "Z", "--name", "=HYPERLINK(1)", "--group", "Grade 7").exit_code == 0
    assert cli("payers", "list", "--format", "xlsx", "--out", "p2.xlsx").exit_code == 0
    names = [r[1].value for r in openpyxl.load_workbook(isolated / "p2.xlsx")["Payers"].iter_rows(min_row=2)]
    assert "=HYPERLINK(1)" in names


def test_calendar_ad_shows_gregorian(cli: Cli) -> None:
    assert cli("create", "--amount", "100", "--name", "Fee", "--order-id", "X-1").exit_code == 0
    bs_table = cli("list", "--format", "table").stdout
    assert calendar.to_bs(calendar.today()).iso() in bs_table
    ad_table = cli("list", "--format", "table", env={"KHALTI_CALENDAR": "ad"}).stdout
    assert calendar.today().isoformat() in ad_table
