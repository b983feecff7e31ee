"""The local day (issue 13): BS dates, day boundaries and "today" follow KHALTI_TZ, not the system's zone.

The process runs in UTC (TZ=UTC) with KHALTI_TZ=Asia/Kathmandu (or +05:45) at 18:55 UTC on 28 November
2026, which is 00:40 on 29 November in Nepal: BS 2083-08-13, while the system's day is still 2083-08-12.
Every reader of a day must say 2083-08-13. "Today" is checked with an offset chosen so that the local day
differs from the UTC day whenever the test runs. Machine output keeps one convention for timestamps, event
details included."""

from __future__ import annotations

import os
import re
import sqlite3
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta, timezone, tzinfo
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from conftest import Cli
from hypothesis import given, settings
from hypothesis import strategies as st
from store_checks import backdate, completed_payment

from khalti_cli import calendar, times
from khalti_cli.sandbox import SandboxServer

CREATED = "2026-11-28T18:55:00.000+00:00"  # 00:40 on 2026-11-29 in Nepal: BS 2083-08-13
PAID = "2026-11-28T18:56:00.000+00:00"  # 00:41 Nepal time
NEPAL_DAY = date(2026, 11, 29)
MACHINE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}\+00:00$")


def set_process_zone(name: str | None) -> None:
    if name is None:
        os.environ.pop("TZ", None)
    else:
        os.environ["TZ"] = name
    time.tzset()


@pytest.fixture
def utc_machine() -> Iterator[None]:
    """The machine's own zone is UTC, as on a server; restored afterwards."""
    old = os.environ.get("TZ")
    set_process_zone("UTC")
    yield
    set_process_zone(old)


def away_from_utc_day() -> tuple[str, date]:
    """A KHALTI_TZ offset under which the local day now is not the UTC day (10 minutes either side of a
    local midnight), and that local day."""
    now = datetime.now(UTC)
    minutes = now.hour * 60 + now.minute
    shift = 24 * 60 + 10 - minutes if minutes >= 12 * 60 else -(minutes + 10)
    sign = "-" if shift < 0 else "+"
    offset = f"{sign}{abs(shift) // 60:02d}:{abs(shift) % 60:02d}"
    local = (now + timedelta(minutes=shift)).date()
    assert local != now.date()
    return offset, local


@pytest.fixture
def after_nepal_midnight(cli: Cli, configured: SandboxServer, isolated: Path, utc_machine: None) -> Path:
    """A: created, B: paid through Khalti, C: created; all created at 00:40 Nepal time, B paid at 00:41."""
    db = isolated / "khalti.db"
    for oid in ("A", "C"):
        assert cli("create", "--amount", "1500", "--name", "Tuition", "--order-id", oid).exit_code == 0
    completed_payment(cli, configured, "B")
    backdate(db, "UPDATE payments SET created_at = ?", [CREATED])
    backdate(db, "UPDATE payments SET paid_at = ?, updated_at = ? WHERE order_id = 'B'", [PAID, PAID])
    return db


@pytest.mark.parametrize("zone", ["Asia/Kathmandu", "+05:45"])
def test_every_day_a_person_reads_is_the_local_one(
    cli: Cli, after_nepal_midnight: Path, zone: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KHALTI_TZ", zone)
    shown = cli("show", "B", "--format", "table")
    assert re.search(r"created\s+2083-08-13 00:40", shown.stdout)
    assert re.search(r"paid at\s+2083-08-13 00:41", shown.stdout)
    assert re.search(r"created at bs\s+2083-08-13", shown.stdout)
    assert re.search(r"paid at bs\s+2083-08-13", shown.stdout)
    assert "2083-08-12" not in shown.stdout
    # The *_bs keys: SQL (jsonl) and Python (json, show) agree.
    keys = "order_id,created_at,created_at_bs,paid_at_bs"
    sql = cli("list", "--format", "jsonl", "--columns", keys).jsonl()
    python = cli("list", "--format", "json", "--columns", keys).json()
    assert sql == python
    assert {r["created_at_bs"] for r in sql} == {"2083-08-13"}
    assert [r["paid_at_bs"] for r in sql if r["order_id"] == "B"] == ["2083-08-13"]
    record = cli("show", "B", "--format", "json").json()
    assert (record["created_at_bs"], record["paid_at_bs"]) == ("2083-08-13", "2083-08-13")
    # Typed days start at the local midnight.
    assert len(cli("list", "--since", "2083-08-13", "--format", "jsonl").jsonl()) == 3
    assert cli("list", "--until", "2083-08-12", "--format", "jsonl").jsonl() == []
    assert len(cli("list", "--since", "ad:2026-11-29", "--until", "ad:2026-11-29", "--format", "jsonl").jsonl()) == 3
    # The report: its period starts at Nepal's midnight, 18:15 UTC the day before; B counts on 13 Mangsir.
    report = cli("report", "--since", "2083-08-13", "--until", "2083-08-13", "--format", "json").json()
    assert (report["since"], report["until"]) == ("2026-11-28T18:15:00.000+00:00", "2026-11-29T18:15:00.000+00:00")
    assert (report["since_bs"], report["payments"]["count"]) == ("2083-08-13", 3)
    assert [(d["day_bs"], d["count"]) for d in report["per_day"]] == [("2083-08-13", 1)]
    chart = cli("report", "--since", "2083-08-13", "--until", "2083-08-13", "--format", "table").stdout
    assert "2083-08-13" in chart and "2083-08-12" not in chart


def test_receipt_and_its_fiscal_year_use_the_local_day(
    after_nepal_midnight: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from khalti_cli.services.receipts import receipt_data
    from khalti_cli.store import school

    monkeypatch.setenv("KHALTI_TZ", "Asia/Kathmandu")
    conn = sqlite3.connect(str(after_nepal_midnight))
    conn.row_factory = sqlite3.Row
    row = dict(conn.execute("SELECT * FROM payments WHERE order_id = 'B'").fetchone())
    assert receipt_data(row, "School").paid_on == NEPAL_DAY  # "Date paid 13 Mangsir 2083 BS"
    assert calendar.long_bs(receipt_data(row, "School").paid_on) == "13 Mangsir 2083"
    # Paid at 00:10 on Shrawan 1 2083 in Nepal (still Asar 32 in UTC): a receipt of the new fiscal year.
    shrawan = times.local_midnight(calendar.from_bs(2083, 4, 1)) + timedelta(minutes=10)
    a = conn.execute("SELECT id FROM payments WHERE order_id = 'A'").fetchone()[0]
    with conn:
        number = school.give_receipt_no(conn, a, shrawan.astimezone(UTC).isoformat(timespec="milliseconds"))
    assert number is not None and number.startswith("2083/84-")
    conn.close()


def test_today_is_the_local_day(cli: Cli, utc_machine: None, monkeypatch: pytest.MonkeyPatch) -> None:
    """dues' heading, settle's default date and report's default month follow KHALTI_TZ, not the system."""
    offset, local = away_from_utc_day()
    monkeypatch.setenv("KHALTI_TZ", offset)
    assert times.today() == calendar.today() == local
    made = cli("create", "--amount", "1500", "--name", "Tuition").stdout.strip()
    assert made.startswith(f"KH-{local:%y%m%d}-"), made  # new order ids carry the local day
    assert cli("create", "--amount", "1500", "--name", "Tuition", "--order-id", "A").exit_code == 0
    heading = cli("dues", "--format", "table").stdout.splitlines()[0]
    assert heading == f"Dues as of {calendar.for_people(local)}"
    settled = cli("settle", "A", "--method", "cash", "--reference", "R1", "--yes", "--format", "json").json()
    assert settled["settle_date"] == local.isoformat()
    report = cli("report", "--format", "json").json()
    assert report["since_bs"] is not None and report["since_bs"][:7] == calendar.to_bs(local).iso()[:7]
    assert times.local_day(report["since"]) == calendar.month_range(*calendar.to_bs(local)[:2])[0]
    # Nepal's day now, whatever the hour.
    monkeypatch.setenv("KHALTI_TZ", "Asia/Kathmandu")
    assert calendar.today() == datetime.now(ZoneInfo("Asia/Kathmandu")).date()


def test_the_installed_cli_in_utc_with_nepal_time(after_nepal_midnight: Path, run_khalti: Any) -> None:
    offset, local = away_from_utc_day()
    env = {"TZ": "UTC", "KHALTI_TZ": "Asia/Kathmandu", "COLUMNS": "120"}
    shown = run_khalti("show", "B", "--format", "table", env=env)
    assert "2083-08-13 00:40" in shown.stdout and "2083-08-12" not in shown.stdout, shown.stdout
    rows = run_khalti("list", "--since", "2083-08-13", "--format", "jsonl", "--columns", "created_at_bs", env=env)
    assert [r["created_at_bs"] for r in rows.jsonl()] == ["2083-08-13"] * 3
    dues = run_khalti("dues", "--format", "table", env={**env, "KHALTI_TZ": offset})
    assert dues.stdout.startswith(f"Dues as of {calendar.for_people(local)}\n"), dues.stdout


def test_settle_shows_the_bs_date(cli: Cli, utc_machine: None, monkeypatch: pytest.MonkeyPatch) -> None:
    from khalti_cli.services.corrections import plan_settle
    from khalti_cli.store import open_store

    monkeypatch.setenv("KHALTI_TZ", "Asia/Kathmandu")
    assert cli("create", "--amount", "1500", "--name", "Tuition", "--order-id", "A").exit_code == 0
    plan = plan_settle(open_store(Path(os.environ["KHALTI_DB"])), "A", "cash", "R1", "2026-11-29")
    assert "on 2083-08-13 (2026-11-29)" in plan.what and plan.message.endswith("on 2083-08-13 (2026-11-29)")
    run = cli("settle", "A", "--method", "cash", "--reference", "R1", "--date", "2083-08-13", "--yes")
    assert run.exit_code == 0, run.stderr
    assert re.search(r"settle date\s+2083-08-13 \(2026-11-29\)", cli("show", "A", "--format", "table").stdout)
    assert cli("show", "A", "--format", "json").json()["settle_date"] == "2026-11-29"  # the machine value
    history = cli("history", "A", "--format", "json").json()
    assert history[-1]["message"].endswith("on 2083-08-13 (2026-11-29)")
    monkeypatch.setenv("KHALTI_CALENDAR", "ad")
    assert re.search(r"settle date\s+2026-11-29 *\n", cli("show", "A", "--format", "table").stdout)
    future = cli("settle", "A", "--method", "cash", "--reference", "R1", "--date", "ad:2099-01-01", "--yes")
    assert future.exit_code == 3 and "2099-01-01 is in the future" in future.stderr


def test_messages_show_local_minutes_not_machine_stamps(
    cli: Cli, configured: SandboxServer, isolated: Path, utc_machine: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KHALTI_TZ", "Asia/Kathmandu")
    assert cli("create", "--amount", "1500", "--name", "Tuition", "--order-id", "A", "--initiate").exit_code == 0
    expires = cli("show", "A", "--format", "json").json()["expires_at"]
    refused = cli("edit", "A", "--amount", "2000")
    assert refused.exit_code == 3
    assert f"can still be paid until {times.local(expires)}," in refused.stderr
    assert not re.search(r"\d{4}-\d{2}-\d{2}T\d{2}:", refused.stderr), refused.stderr
    # Event details follow the machine convention: written so, and read so for rows stored before.
    history = cli("history", "A", "--format", "json").json()
    details = [e["detail"]["expires_at"] for e in history if (e["detail"] or {}).get("expires_at")]
    assert details and all(MACHINE.match(d) for d in details), details
    nepal = datetime.fromisoformat(expires).astimezone(timezone(timedelta(hours=5, minutes=45)))
    backdate(
        isolated / "khalti.db",
        "UPDATE events SET detail = json_set(detail, '$.expires_at', ?) WHERE json_extract(detail, '$.expires_at')",
        [nepal.isoformat(timespec="microseconds")],
    )
    shown = cli("show", "A", "--format", "json").json()
    assert [e["detail"]["expires_at"] for e in shown["history"] if (e["detail"] or {}).get("expires_at")] == [
        times.machine(nepal.isoformat())
    ] * len(details)
    # Khalti's raw answer on the link is kept as received, for audit.
    conn = sqlite3.connect(str(isolated / "khalti.db"))
    raw = conn.execute("SELECT initiate_response FROM links").fetchone()[0]
    conn.close()
    assert "+05:45" in raw


def test_lock_holder_is_shown_in_local_minutes(monkeypatch: pytest.MonkeyPatch) -> None:
    from khalti_cli.lock import _for_people

    monkeypatch.setenv("KHALTI_TZ", "+05:45")
    assert _for_people(f"pid 12, started {CREATED}") == "pid 12, started 2083-08-13 00:40"


# --- every moment, every zone --------------------------------------------------------------------------------

# (KHALTI_TZ, the process's TZ, the zone they mean): named zones, offsets, and the system's zone (with summer time).
ZONES: list[tuple[str | None, str, tzinfo]] = [
    ("Asia/Kathmandu", "UTC", ZoneInfo("Asia/Kathmandu")),
    ("+05:45", "UTC", timezone(timedelta(hours=5, minutes=45))),
    ("UTC", "NPT-5:45", UTC),
    ("-03:30", "UTC", timezone(-timedelta(hours=3, minutes=30))),
    ("America/New_York", "NPT-5:45", ZoneInfo("America/New_York")),
    ("Pacific/Kiritimati", "UTC", ZoneInfo("Pacific/Kiritimati")),
    (None, "NPT-5:45", timezone(timedelta(hours=5, minutes=45))),
    (None, "EST5EDT,M3.2.0,M11.1.0", ZoneInfo("America/New_York")),
]


@st.composite
def moments(draw: st.DrawFn, zone: tzinfo) -> datetime:
    """Any moment, or one within minutes of a local midnight (where a wrong zone shows)."""
    if draw(st.booleans()):
        return draw(st.datetimes(datetime(2007, 1, 1), datetime(2027, 3, 1), timezones=st.just(UTC)))
    day = draw(st.dates(date(2007, 1, 2), date(2027, 3, 1)))
    midnight = datetime(day.year, day.month, day.day, tzinfo=zone)
    return (midnight + timedelta(seconds=draw(st.integers(-300, 300)))).astimezone(UTC)


def test_bs_day_from_sql_and_python_is_the_local_day(utc_machine: None, monkeypatch: pytest.MonkeyPatch) -> None:
    from khalti_cli.services.listing import PaymentFilter, list_json_lines, list_records
    from khalti_cli.store import open_store, queries

    with tempfile.TemporaryDirectory() as folder:
        store = open_store(Path(folder) / "k.db")
        row = {"order_id": "A", "name": "Tuition", "amount_paisa": 1000, "status": "created"}
        with store.conn:
            pid = queries.insert_payment(store, {**row, "created_at": CREATED, "updated_at": CREATED})

        @settings(max_examples=150, derandomize=True, deadline=None)
        @given(st.sampled_from(ZONES).flatmap(lambda z: st.tuples(st.just(z), moments(z[2]))), st.booleans())
        def check(case: tuple[tuple[str | None, str, tzinfo], datetime], khalti_form: bool) -> None:
            (setting, system, zone), moment = case
            if setting is None:
                monkeypatch.delenv("KHALTI_TZ", raising=False)
            else:
                monkeypatch.setenv("KHALTI_TZ", setting)
            set_process_zone(system)
            # Stored stamps are UTC with milliseconds; Khalti's +05:45 with microseconds reads the same.
            nepal = timezone(timedelta(hours=5, minutes=45))
            text = moment.astimezone(nepal).isoformat() if khalti_form else moment.isoformat(timespec="milliseconds")
            with store.conn:
                queries.update_payment(store, pid, {"created_at": text, "paid_at": text})
            expected = calendar.bs_iso(moment.astimezone(zone).date())
            sql = list_json_lines(store, ["created_at_bs", "paid_at_bs"], PaymentFilter())
            assert sql is not None
            import json

            from_sql = json.loads(next(iter(sql)))
            from_python = next(iter(list_records(store)))
            assert from_sql == {"created_at_bs": expected, "paid_at_bs": expected}
            assert (from_python["created_at_bs"], from_python["paid_at_bs"]) == (expected, expected)
            assert times.local_day(text) == moment.astimezone(zone).date()
            assert (
                times.local_midnight(times.local_day(text))
                <= moment
                < times.local_midnight(times.local_day(text) + timedelta(days=1))
            )

        check()
        store.conn.close()
