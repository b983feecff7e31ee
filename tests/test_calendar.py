"""BS dates: known conversions, the covered years, typed dates and periods, and --since/--until in BS."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import pytest
from conftest import Cli
from hypothesis import given, settings
from hypothesis import strategies as st

from khalti_cli import calendar
from khalti_cli.errors import InvalidInput

KNOWN = [
    ((2081, 1, 1), date(2024, 4, 13)),
    ((2082, 1, 1), date(2025, 4, 14)),
    ((2082, 4, 1), date(2025, 7, 17)),  # Shrawan 1: a new fiscal year
    ((2083, 8, 12), date(2026, 11, 28)),
]


@pytest.mark.parametrize(("bs", "ad"), KNOWN)
def test_known_conversions(bs: tuple[int, int, int], ad: date) -> None:
    assert calendar.from_bs(*bs) == ad
    assert tuple(calendar.to_bs(ad)) == bs
    assert calendar.parse_day("{:04d}-{:02d}-{:02d}".format(*bs)) == ad
    assert calendar.parse_day(f"ad:{ad.isoformat()}") == ad


@settings(max_examples=200, derandomize=True, deadline=None)
@given(st.dates(min_value=calendar.from_bs(calendar.FIRST_YEAR, 1, 1), max_value=calendar.last_covered_day()))
def test_round_trip_every_covered_day(day: date) -> None:
    bs = calendar.to_bs(day)
    assert calendar.from_bs(*bs) == day
    assert 1 <= bs.day <= calendar.month_length(bs.year, bs.month) <= 32
    start, end = calendar.month_range(bs.year, bs.month)
    assert start <= day < end


def test_outside_the_data_is_refused() -> None:
    assert calendar.LAST_YEAR == 2083
    for typed in ("2084-01-01", "2090-05-05", "bs:1999-12-30"):
        with pytest.raises(InvalidInput, match="outside the Nepali calendar data"):
            calendar.parse_day(typed)
    with pytest.raises(InvalidInput, match="Mangsir 2082 has 29 days"):
        calendar.parse_day("2082-08-33")
    assert calendar.parse_day("bs:2059-01-01") == date(2002, 4, 14)
    assert calendar.parse_day("2059-01-01") == date(2059, 1, 1)  # before 2060: Gregorian
    assert calendar.parse_day("ad:2061-01-01") == date(2061, 1, 1)
    with pytest.raises(ValueError):
        calendar.parse_day("yesterday")


@pytest.mark.parametrize(
    "typed",
    ["mangsir", "Mangsir", "MANGSHIR", "mansir", "मंसिर", "मङ्सिर", "2083-08", "2083/8", "mangsir 2083", "२०८३-०८"],
)
def test_month_names_and_numbers(typed: str) -> None:
    assert calendar.parse_month(typed, now=date(2026, 11, 28)) == (2083, 8)


def test_bad_months() -> None:
    for typed in ("smarch", "2082-13", "2090-01", "mangsir poush", ""):
        with pytest.raises(InvalidInput):
            calendar.parse_month(typed)


def test_fiscal_year() -> None:
    assert calendar.parse_fiscal_year("2082/83") == 2082
    assert calendar.parse_fiscal_year("2082-2083") == 2082
    assert calendar.fiscal_label(2099) == "2099/00"
    start, end, cut = calendar.fiscal_range(2082)
    assert (start, end, cut) == (date(2025, 7, 17), calendar.from_bs(2083, 4, 1), False)
    assert calendar.fiscal_year_of(date(2025, 7, 16)) == 2081
    assert calendar.fiscal_year_of(date(2025, 7, 17)) == 2082
    _, end, cut = calendar.fiscal_range(2083)  # ends in Asar 2084, past the data: cut at its end
    assert cut and end == calendar.last_covered_day() + timedelta(days=1)
    for bad in ("2082/84", "2082", "82/83"):
        with pytest.raises(InvalidInput):
            calendar.parse_fiscal_year(bad)


def test_people_see_bs_unless_ad(monkeypatch: pytest.MonkeyPatch) -> None:
    assert calendar.for_people(date(2026, 11, 28)) == "2083-08-12 (2026-11-28)"
    assert calendar.long_bs(date(2026, 11, 28)) == "12 Mangsir 2083"
    monkeypatch.setenv("KHALTI_CALENDAR", "ad")
    assert calendar.for_people(date(2026, 11, 28)) == "2026-11-28"


def test_list_takes_bs_dates_and_keeps_iso_with_bs_keys(cli: Cli) -> None:
    assert cli("create", "--amount", "100", "--name", "Fee", "--order-id", "C-1").exit_code == 0
    today_bs = calendar.to_bs(calendar.today()).iso()
    rows = cli("list", "--since", today_bs, "--until", today_bs, "--format", "json").json()
    assert [r["order_id"] for r in rows] == ["C-1"]
    assert rows[0]["created_at_bs"] == today_bs and rows[0]["created_at"].endswith("+00:00")
    # the fast SQL path (jsonl) and the Python path agree on the BS keys
    line = cli("list", "--format", "jsonl").jsonl()[0]
    assert line["created_at_bs"] == today_bs and line["paid_at_bs"] is None and line["heads"] is None
    tomorrow = calendar.to_bs(calendar.today() + timedelta(days=1)).iso()
    assert cli("list", "--since", tomorrow, "--format", "json").json() == []
    past = cli("list", "--since", "2090-01-01")
    assert past.exit_code == 3 and "2083" in past.stderr
    assert cli("list", "--since", "yesterday").exit_code == 2


def test_calendar_setting_from_the_env_file(cli: Cli, isolated: Path) -> None:
    assert cli("create", "--amount", "100", "--name", "Fee", "--order-id", "C-1").exit_code == 0
    env_file = isolated / ".env"
    env_file.write_text("KHALTI_CALENDAR=lunar\n", encoding="utf-8")
    env_file.chmod(0o600)
    bad = cli("list")
    assert bad.exit_code == 4 and "KHALTI_CALENDAR" in bad.stderr
    env_file.write_text("KHALTI_CALENDAR=ad\n", encoding="utf-8")
    table = cli("list", "--format", "table", "--columns", "order_id,created_at").stdout
    assert calendar.today().isoformat() in table
