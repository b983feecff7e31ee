"""Receipts: numbers given once when a payment is first stored paid (by any writer), sequential within the BS
fiscal year, unique and gapless across processes and kills; the PNG/PDF files; refunded receipts."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from conftest import Cli, control, khalti_exe
from generated_cases import slow_examples
from hypothesis import given
from hypothesis import strategies as st
from PIL import Image

from khalti_cli import calendar
from khalti_cli.paper.words import rupees_in_words
from khalti_cli.sandbox import SandboxServer
from khalti_cli.store import open_store
from khalti_cli.store import queries as q

RED = (170, 30, 30)


def bill_and_pay(cli: Cli, server: SandboxServer, n: int, *, pay: bool = True) -> list[dict[str, object]]:
    for i in range(n):
        assert cli("payers", "add", f"S{i:03d}", "--name", f"छात्र {i}", "--group", "Grade 5").exit_code == 0
    run = cli(
        "bill", "--month", "2083-08", "--fee", "Tuition=4500", "--fee", "Lab=250.50", "--initiate", "--format", "json"
    )
    assert run.exit_code == 0, run.stderr
    records: list[dict[str, object]] = run.json()
    if pay:
        for r in records:
            control(server, str(r["pidx"]), "complete")
    return records


def receipt_numbers(db: Path) -> tuple[list[str], dict[str, int]]:
    with sqlite3.connect(db) as conn:
        numbers = [r[0] for r in conn.execute("SELECT receipt_no FROM payments WHERE receipt_no IS NOT NULL")]
        counters = dict(conn.execute("SELECT fiscal_year, last_no FROM receipt_counters").fetchall())
    return numbers, counters


def assert_gapless(numbers: list[str], counters: dict[str, int], expected: int) -> None:
    year = calendar.fiscal_label(calendar.fiscal_year_of(calendar.today()))
    assert len(numbers) == len(set(numbers)) == expected
    assert sorted(numbers) == [f"{year}-{n:06d}" for n in range(1, expected + 1)]
    assert counters == {year: expected}


def test_words() -> None:
    assert rupees_in_words(570050) == "Rupees Five Thousand Seven Hundred and Fifty Paisa only"
    assert (
        rupees_in_words(12345678900)
        == "Rupees Twelve Crore Thirty-Four Lakh Fifty-Six Thousand Seven Hundred Eighty-Nine only"
    )
    assert rupees_in_words(100) == "Rupees One only"


def test_numbered_when_first_seen_paid_and_written(cli: Cli, configured: SandboxServer, isolated: Path) -> None:
    records = bill_and_pay(cli, configured, 3)
    assert receipt_numbers(isolated / "khalti.db")[0] == []  # paid at Khalti, not yet seen by us
    unpaid = cli("receipt", str(records[0]["order_id"]), "--out", "r")
    assert unpaid.exit_code == 3 and "khalti lookup" in unpaid.stderr
    assert cli("reconcile").exit_code == 0
    assert cli("reconcile").exit_code == 0  # seen paid again: no new number
    numbers, counters = receipt_numbers(isolated / "khalti.db")
    assert_gapless(numbers, counters, 3)
    shown = cli("list", "--format", "json").json()
    assert all(r["receipt_no"] and r["paid_at_bs"] == calendar.to_bs(calendar.today()).iso() for r in shown)

    run = cli("receipt", "--all-new", "--out", "r", "--pdf")
    assert run.exit_code == 0, run.stderr
    paths = [Path(p) for p in run.stdout.split()]
    assert len(paths) == 6 and sum(p.suffix == ".png" for p in paths) == 3
    for path in paths:
        assert path.stat().st_mode & 0o777 == 0o600
    png = Image.open(next(p for p in paths if p.suffix == ".png"))
    assert png.size == (1240, 1748) and round(png.info["dpi"][0]) == 300
    assert not _has_red(png)  # neither a copy nor refunded
    assert Path(next(p for p in paths if p.suffix == ".pdf")).read_bytes().startswith(b"%PDF")
    assert cli("receipt", "--all-new", "--out", "r").stderr.startswith("No new receipts")

    again = cli("receipt", str(records[0]["order_id"]), "--out", "r")
    assert again.exit_code == 3 and "--force" in again.stderr
    copy = cli("receipt", str(records[0]["order_id"]), "--out", "r", "--force")
    assert copy.exit_code == 0 and _has_red(Image.open(copy.stdout.strip()))  # says COPY
    history = cli("history", str(records[0]["order_id"]), "--format", "json").json()
    assert [e["message"].split(":")[0].endswith("printed again") for e in history if e["kind"] == "receipt"] == [
        False,
        True,
    ]


def _has_red(image: Image.Image) -> bool:
    return any(count for count, colour in image.convert("RGB").getcolors(1 << 20) or [] if colour == RED)


def test_refunded_receipt_says_so_and_counter_payments_get_numbers(
    cli: Cli, configured: SandboxServer, isolated: Path
) -> None:
    records = bill_and_pay(cli, configured, 2)
    assert cli("reconcile").exit_code == 0
    control(configured, str(records[0]["pidx"]), "refund")
    assert cli("lookup", str(records[0]["order_id"])).exit_code == 0
    path = cli("receipt", str(records[0]["order_id"]), "--out", "r").stdout.strip()
    assert _has_red(Image.open(path))
    # a payment stored as paid by any writer (settle, on another branch, writes paid_offline) gets a number
    store = open_store(isolated / "khalti.db")
    try:
        created = cli("create", "--amount", "700", "--name", "Exam fee", "--order-id", "CASH-1")
        assert created.exit_code == 0
        row = q.get_payment(store, "CASH-1")
        assert row is not None
        with store.write():
            q.update_payment(store, row["id"], {"status": "paid_offline", "updated_at": row["updated_at"]})
    finally:
        store.close()
    numbers, counters = receipt_numbers(isolated / "khalti.db")
    assert_gapless(numbers, counters, 3)
    out = cli("receipt", "CASH-1", "--out", "r")
    assert out.exit_code == 0 and Image.open(out.stdout.strip()).size == (1240, 1748)


def test_processes_seeing_payments_paid_at_once_number_them_gaplessly(
    cli: Cli, configured: SandboxServer, isolated: Path
) -> None:
    n = 24
    records = bill_and_pay(cli, configured, n)
    ids = [str(r["order_id"]) for r in records]
    env = dict(os.environ)
    # four lookups over overlapping halves, and two reconciles: every payment is seen paid by 2-4 processes
    jobs = [["lookup", *ids[k::2]] for k in range(2)] + [["lookup", *reversed(ids[k::2])] for k in range(2)]
    jobs += [["reconcile", "--concurrency", "4"]] * 2
    procs = [
        subprocess.Popen([*khalti_exe(), *job], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        for job in jobs
    ]
    for proc in procs:
        _, err = proc.communicate(timeout=120)
        assert proc.returncode in (0, 75), err.decode()  # 75: the reconcile lock was busy
    numbers, counters = receipt_numbers(isolated / "khalti.db")
    assert_gapless(numbers, counters, n)


def test_sigkill_never_leaves_a_gap_or_a_twice_given_number(
    cli: Cli, configured: SandboxServer, isolated: Path
) -> None:
    n = 30
    records = bill_and_pay(cli, configured, n)
    httpx.post(f"{configured.url}/sandbox/faults", json={"delay_ms": 60, "count": 60}).raise_for_status()
    ids = [str(r["order_id"]) for r in records]
    for delay in (0.4, 0.9):
        proc = subprocess.Popen([*khalti_exe(), "lookup", *ids], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(delay)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        numbers, counters = receipt_numbers(isolated / "khalti.db")
        given = len(numbers)
        assert given == counters.get(next(iter(counters), ""), 0)  # nothing given without its counter step
        if numbers:
            assert_gapless(numbers, counters, given)
    assert cli("lookup", *ids).exit_code == 0
    numbers, counters = receipt_numbers(isolated / "khalti.db")
    assert_gapless(numbers, counters, n)

    # killed while writing receipts: the next run writes the rest (and rewrites a file left unmarked)
    proc = subprocess.Popen([*khalti_exe(), "receipt", "--all-new", "--out", "r"], stdout=subprocess.DEVNULL)
    time.sleep(1.0)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    rest = cli("receipt", "--all-new", "--out", "r")
    assert rest.exit_code == 0, rest.stderr
    assert sorted(p.name for p in (isolated / "r").iterdir() if not p.name.startswith(".")) == sorted(
        f"{no.replace('/', '-')}_{oid}.png"
        for no, oid in sqlite3.connect(isolated / "khalti.db").execute("SELECT receipt_no, order_id FROM payments")
    )
    with sqlite3.connect(isolated / "khalti.db") as conn:
        assert conn.execute("SELECT COUNT(*) FROM payments WHERE receipt_printed_at IS NULL").fetchone()[0] == 0


@pytest.mark.parametrize("status", ["created", "initiated"])
def test_no_receipt_for_an_unpaid_fee(cli: Cli, configured: SandboxServer, status: str) -> None:
    args = ["create", "--amount", "100", "--name", "Fee", "--order-id", "U-1"] + (
        ["--initiate"] if status == "initiated" else []
    )
    assert cli(*args).exit_code == 0
    run = cli("receipt", "U-1")
    assert run.exit_code == 3 and f"is {status}, not paid" in run.stderr
    assert cli("receipt", "NOPE").exit_code == 3
    assert cli("receipt").exit_code == 2


def test_upgrade_numbers_the_payments_already_paid(isolated: Path) -> None:
    """A database from before receipts: its paid payments get numbers in the order they were paid."""
    from sqlite_utils import Database

    from khalti_cli.store.schema import migrations

    path = isolated / "old.db"
    old = Database(path)
    migrations.apply(old, stop_before="m005_school_year")
    old.execute("PRAGMA user_version = 2")
    paid = {"P-2": "2026-11-27T10:00:00.000+00:00", "P-1": "2026-11-26T10:00:00.000+00:00"}
    for oid, status in (("P-1", "completed"), ("P-2", "refunded"), ("P-3", "initiated")):
        at = paid.get(oid, "2026-11-25T10:00:00.000+00:00")
        pid = (
            old["payments"]
            .insert(
                {
                    "order_id": oid,
                    "name": "Fee",
                    "amount_paisa": 1000,
                    "status": status,
                    "created_at": at,
                    "updated_at": at,
                }
            )
            .last_pk
        )
        if oid in paid:
            old["events"].insert({"payment_id": pid, "at": at, "kind": "status", "to_status": status})
    old.conn.commit()
    old.close()
    store = open_store(path)
    try:
        numbers = {r["order_id"]: r["receipt_no"] for r in store.query("SELECT order_id, receipt_no FROM payments")}
    finally:
        store.close()
    assert numbers == {"P-1": "2083/84-000001", "P-2": "2083/84-000002", "P-3": None}  # Mangsir 2083 is in 2083/84


# --- what is drawn reads evenly: no double space, no space at either end (issue 13) ----------------

_PIECES = ["A", "b", "Z", "9", " ", "  ", "\u00a0", "सी", "ता", "क्ष", "(", ")"]
_SPACED = st.lists(st.sampled_from(_PIECES), min_size=1, max_size=25).map("".join)


@pytest.fixture
def drawn(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every string Pillow is asked to draw (ImageDraw.text, still drawing it), for this test."""
    from PIL import ImageDraw

    texts: list[str] = []
    real = ImageDraw.ImageDraw.text

    def text(self: Any, xy: Any, value: Any, *args: Any, **kwargs: Any) -> Any:
        texts.append(str(value))
        return real(self, xy, value, *args, **kwargs)

    monkeypatch.setattr(ImageDraw.ImageDraw, "text", text)
    return texts


@slow_examples(12)
@given(
    school=_SPACED,
    payer=st.one_of(st.none(), _SPACED),
    fee=_SPACED,
    heads=st.lists(st.tuples(_SPACED, st.integers(1000, 10**9)), max_size=3),
    status=st.sampled_from(("completed", "partially_refunded", "refunded", "paid_offline")),
    reference=st.one_of(st.none(), _SPACED, st.text(alphabet="ab ", min_size=61, max_size=90)),
    amount=st.integers(1000, 10**11),
    copy=st.booleans(),
    ad=st.booleans(),
)
def test_no_drawn_text_has_a_double_space_or_an_edge_space(
    drawn: list[str],
    monkeypatch: pytest.MonkeyPatch,
    school: str,
    payer: str | None,
    fee: str,
    heads: list[tuple[str, int]],
    status: str,
    reference: str | None,
    amount: int,
    copy: bool,
    ad: bool,
) -> None:
    """Receipts (built from a payment row as `khalti receipt` does) and fee slips (Khalti's link with its
    expiry, or the pay page's) drawn from generated names with runs of spaces, spaces at the ends and
    no-break spaces, in both calendars: every string drawn has single spaces and none at its ends."""
    import json

    from khalti_cli.paper.receipt import render_receipt
    from khalti_cli.services import slips
    from khalti_cli.services.receipts import receipt_data

    monkeypatch.setenv("KHALTI_CALENDAR", "ad" if ad else "bs")
    drawn.clear()
    row = {
        "receipt_no": "2083/84-000123",
        "order_id": "KH-261128-ABC234",
        "status": status,
        "amount_paisa": amount,
        "refunded_paisa": amount // 3 if status == "partially_refunded" else None,
        "customer_name": payer,
        "payer_ref": "S-101",
        "group_name": "Grade 5 ",
        "name": fee,
        "period": "2083-08",
        "heads": json.dumps([{"label": label, "amount_paisa": p} for label, p in heads]) if heads else None,
        "paid_at": "2026-11-28T04:30:00.000+00:00",
        "updated_at": "2026-11-28T04:30:00.000+00:00",
        "transaction_id": reference,
        "settle_method": "cash",
        "settle_reference": reference,
        "settle_date": "2026-11-28",
        "receipt_printed_at": "2026-11-28T05:00:00.000+00:00" if copy else None,
    }
    render_receipt(receipt_data(row, school))
    slips._base.cache_clear()  # the slip's fixed parts are drawn once per school: draw them here
    record = {
        "order_id": row["order_id"],
        "name": fee,
        "amount_paisa": amount,
        "customer_name": payer,
        "payer": "S-101",
        "payment_url": "https://test-pay.khalti.com/?pidx=" + "x" * 40,
        "expires_at": "2026-11-28T05:30:00.000+00:00",
        "pay_url": "https://fees.example.edu.np/pay/abc" if copy else None,
    }
    slips.render_slip(record, school)
    assert len(drawn) > 15
    for text in drawn:
        assert "  " not in text and text == text.strip(), repr(text)
