"""The books: report --month / --fiscal-year (default this BS month) by class, money in through and outside
Khalti, refunds, fees, net, collections per BS day; --format xlsx for report, list and payers list."""

from __future__ import annotations

import csv
import io
from decimal import Decimal
from pathlib import Path
from typing import Any

import openpyxl
from conftest import Cli, control
from generated_cases import slow_examples
from hypothesis import given
from hypothesis import strategies as st
from store_checks import backdate, write_status

from khalti_cli import calendar
from khalti_cli.sandbox import SandboxServer
from khalti_cli.statuses import STATUSES


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


# --- net collected: one definition in every view (issue 13) ------------------------------------------

KHALTI_PAID = ("completed", "partially_refunded", "refunded")


def expected_net(payments: list[dict[str, Any]]) -> int:
    """The README's definition, computed here from the payments alone: collected through Khalti + collected
    outside Khalti (paid_offline) - refunds - Khalti's fees, the refunds and fees being those of the
    payments paid through Khalti (a payment Khalti reports refunded without an amount gave back all of it)."""
    net = 0
    for p in payments:
        if p["status"] == "paid_offline":
            net += p["amount_paisa"]
        elif p["status"] in KHALTI_PAID:
            refund = p.get("refunded_paisa") or (p["amount_paisa"] if p["status"] == "refunded" else 0)
            net += p["amount_paisa"] - refund - (p.get("fee_paisa") or 0)
    return net


def nets_in_every_view(cli: Cli, folder: Path, env: dict[str, str] | None = None) -> dict[str, int]:
    """Net collected as each view of `khalti report` shows it, in paisa."""
    report = cli("report", "--format", "json", env=env).json()
    rows = list(csv.DictReader(io.StringIO(cli("report", "--format", "csv", env=env).stdout)))
    csv_rows = {(r["section"], r["key"]): int(r["amount_paisa"]) for r in rows}
    tsv = cli("report", "--format", "tsv", env=env).stdout.splitlines()
    tsv_rows = {tuple(line.split("\t")[:2]): line.split("\t")[4] for line in tsv[1:]}
    out = folder / f"report-{len(list(folder.glob('report-*.xlsx')))}.xlsx"
    assert cli("report", "--out", str(out), env=env).exit_code == 0
    sheet = openpyxl.load_workbook(out)["Books"]
    header = [c.value for c in sheet[1]]
    xlsx = {r[0].value: dict(zip(header, (c.value for c in r), strict=True)) for r in sheet.iter_rows(min_row=2)}
    table = cli("report", "--format", "table", env=env).stdout
    # the summary (its money table may stand beside the status table) and the books
    shown = [line[line.index("Net collected") :] for line in table.splitlines() if "Net collected" in line]
    assert len(shown) == 2, table
    by_class_school = next((line for line in table.splitlines() if line.startswith("school")), None)
    nets = {
        "json net_collected": report["net_collected"]["amount_paisa"],
        "json books.net": report["books"]["net"]["amount_paisa"],
        "json by_class sum": sum(c["net"]["amount_paisa"] for c in report["by_class"]),
        "csv total,net_collected": csv_rows[("total", "net_collected")],
        "csv school,net": csv_rows[("school", "net")],
        "tsv total,net_collected": int(tsv_rows[("total", "net_collected")]),
        "tsv school,net": int(tsv_rows[("school", "net")]),
        "xlsx Books school": round(Decimal(str(xlsx["school"]["net"])) * 100),
        "xlsx Books classes": sum(round(Decimal(str(r["net"])) * 100) for g, r in xlsx.items() if g != "school"),
    }
    for i, line in enumerate(shown):
        nets[f"table line {i}"] = paisa_of(line.split()[-1])
    if report["by_class"]:
        assert by_class_school is not None, table
        nets["table by class"] = paisa_of(by_class_school.split()[6])
    # the JSON's lines add up to its net, and say how
    assert report["net_collected_definition"].startswith("collected through Khalti")
    lines = (report["books"][k]["amount_paisa"] for k in ("collected_khalti", "collected_outside", "refunds", "fees"))
    khalti, outside, refunds, fees = lines
    assert khalti + outside - refunds - fees == report["net_collected"]["amount_paisa"]
    assert (report["refunds"]["amount_paisa"], report["fees"]["amount_paisa"]) == (refunds, fees)
    return nets


def paisa_of(shown: str) -> int:
    """'10,770.00' or 'Rs 10,770.00' or '-1,000.00' -> paisa."""
    return round(Decimal(shown.replace("Rs", "").replace(",", "").strip()) * 100)


def test_net_collected_is_one_figure_in_every_view(cli: Cli, configured: SandboxServer, isolated: Path) -> None:
    """A month: A paid (fee Rs 100), B paid and refunded Rs 1000 (fee Rs 80), C paid and refunded in full
    (fee Rs 50), D paid at the counter (khalti settle), E owes. By hand: Khalti 12,000 + counter 4,000
    - refunds 5,000 - fees 230 = Rs 10,770."""
    for ref, group in (("A", "Grade 5"), ("B", "Grade 5"), ("C", "Grade 10"), ("D", "Grade 10"), ("E", "Grade 2")):
        assert cli("payers", "add", ref, "--name", f"नाम {ref}", "--group", group).exit_code == 0
    month = calendar.period_key(*calendar.to_bs(calendar.today())[:2])
    assert cli("bill", "--month", month, "--fee", "Tuition=4000").exit_code == 0
    oid = {r["payer"]: r["order_id"] for r in cli("list", "--format", "json").json()}
    assert cli("initiate", oid["A"], oid["B"], oid["C"]).exit_code == 0
    for r in cli("list", "--format", "json").json():
        if r["payer"] in "ABC":
            control(configured, r["pidx"], "complete")
    assert cli("reconcile").exit_code == 0
    assert cli("refund", oid["B"], "--amount", "1000", "--yes").exit_code == 0
    assert cli("refund", oid["C"], "--yes").exit_code == 0
    assert cli("settle", oid["D"], "--method", "cash", "--reference", "R-1", "--yes").exit_code == 0
    for ref, fee in (("A", 10000), ("B", 8000), ("C", 5000)):  # the sandbox charges no fee; Khalti does
        backdate(Path("khalti.db"), "UPDATE payments SET fee_paisa = ? WHERE order_id = ?", [fee, oid[ref]])
    statuses = {r["payer"]: r["status"] for r in cli("list", "--format", "json").json()}
    assert statuses == {
        "A": "completed", "B": "partially_refunded", "C": "refunded", "D": "paid_offline", "E": "created"
    }  # fmt: skip
    nets = nets_in_every_view(cli, isolated)
    assert set(nets.values()) == {1_077_000}, nets
    table = cli("report", "--format", "table").stdout
    assert "Net collected (all paid, less refunds and Khalti fees)" in table and "Rs 10,770.00" in table


def test_net_collected_with_counter_payments_only(cli: Cli, isolated: Path) -> None:
    """Only fees settled at the counter: net collected is what the counter took, in every view."""
    for n in range(3):
        assert cli("create", "--amount", "8182.20", "--name", "Tuition", "--order-id", f"C-{n}").exit_code == 0
        assert cli("settle", f"C-{n}", "--method", "cash", "--reference", f"R{n}", "--yes").exit_code == 0
    nets = nets_in_every_view(cli, isolated)
    assert set(nets.values()) == {3 * 818220}, nets


GROUPS = ("Grade 2", "Grade 10", "कक्षा ३", None)


@slow_examples(6)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(STATUSES),
            st.integers(1000, 5_000_000),
            st.integers(0, 100),
            st.integers(0, 100),
            st.sampled_from(GROUPS),
        ),
        max_size=14,
    )
)
def test_every_view_agrees_on_net_for_any_mix(
    cli: Cli, isolated: Path, mix: list[tuple[str, int, int, int, str | None]]
) -> None:
    """Random payments of this month in every status, with fees and refunds (in part, in full, none): every
    view of the report shows the same net, equal to the definition computed here from the payments."""
    from khalti_cli.clock import stamp
    from khalti_cli.store import open_store
    from khalti_cli.store import queries as q

    db = isolated / f"mix-{len(list(isolated.glob('mix-*.db')))}.db"
    store = open_store(db)
    payments = []
    with store.write():
        for n, (status, amount, fee_pct, refund_pct, group) in enumerate(mix):
            at = stamp()
            refund = amount * refund_pct // 100 if status in ("partially_refunded", "refunded") else 0
            row = {"order_id": f"M-{n}", "name": "Fee", "amount_paisa": amount, "status": status, "created_at": at,
                   "updated_at": at, "group_name": group, "fee_paisa": amount * fee_pct // 1000 or None,
                   "refunded_paisa": refund or None}  # fmt: skip
            q.insert_payment(store, row)
            payments.append(row)
    store.close()
    folder = isolated / db.stem
    folder.mkdir()
    nets = nets_in_every_view(cli, folder, env={"KHALTI_DB": str(db)})
    assert set(nets.values()) == {expected_net(payments)}, nets


def test_a_negative_amount_in_csv_is_a_number_not_text() -> None:
    """A net below zero (refunds of an earlier month) stays a number in csv; formulas are still quoted."""
    from khalti_cli.output import csv_cell

    assert csv_cell(-43400) == "-43400" and csv_cell("-434.00") == "-434.00"
    assert csv_cell("-2+3") == "'-2+3" and csv_cell("-434") == "'-434"  # text that is not an amount
