"""Bikram Sambat (BS) dates: the one module that knows the Nepali calendar.

Conversions come from the `nepali-datetime` package (MIT; month lengths year by year, BS 1975-2099),
imported inside the functions so that `khalti --version` never loads it. BS month lengths are published
a year or so ahead; for later years libraries guess, and two well-known ones (nepali-datetime and
nepali) disagree from BS 2084 on. So khalti trusts BS FIRST_YEAR..LAST_YEAR only: a BS date a person
types outside them is refused (exit 3) instead of guessed. Moving LAST_YEAR on needs a nepali-datetime
release with the newly published year (check it against the government's calendar first).

A typed date is BS when its year is 2060 or later and Gregorian when earlier (contract); `bs:` or `ad:`
in front forces either. A person's day is the local day: KHALTI_TZ, else the system's zone
(times.local_day, times.today).
"""

from __future__ import annotations

import os
import re
from datetime import date, timedelta
from functools import lru_cache
from typing import NamedTuple

from khalti_cli.errors import InvalidInput
from khalti_cli.times import local_day, zone_key
from khalti_cli.times import today as today  # the local day now; callers of calendar.today keep it

FIRST_YEAR = 2000  # BS; nepali-datetime has data from 1975, but nothing at a school is older than this
LAST_YEAR = 2083  # BS; the last year both libraries agree on (Chaitra 2083 ends in April 2027)
BS_FROM = 2060  # a typed year at or above this is BS

MONTHS = (
    "Baisakh",
    "Jestha",
    "Asar",
    "Shrawan",
    "Bhadra",
    "Asoj",
    "Kartik",
    "Mangsir",
    "Poush",
    "Magh",
    "Falgun",
    "Chaitra",
)
MONTHS_NE = ("बैशाख", "जेठ", "असार", "साउन", "भदौ", "असोज", "कार्तिक", "मंसिर", "पुस", "माघ", "फागुन", "चैत")
# Other spellings people type (lower case; Devanagari as typed). Each maps to a month number.
_SPELLINGS = {
    1: ("baishakh", "baisakh", "baisak", "vaisakh", "vaishakh", "baishak", "वैशाख", "बैसाख"),
    2: ("jestha", "jeth", "jyestha", "jeshtha", "jesth", "ज्येष्ठ", "जेष्ठ"),
    3: ("asar", "ashar", "asadh", "ashadh", "aashadh", "asad", "आषाढ", "असार"),
    4: ("shrawan", "shravan", "sawan", "saun", "srawan", "shrawn", "श्रावण", "साउन"),
    5: ("bhadra", "bhadau", "bhadrapad", "bhado", "भाद्र", "भाद्रपद"),
    6: ("asoj", "ashwin", "aswin", "ashoj", "ashwini", "आश्विन", "असोज"),
    7: ("kartik", "kartika", "kattik", "कात्तिक", "कार्तिक"),
    8: ("mangsir", "mangshir", "mansir", "marga", "margashirsha", "mangsheer", "मंसिर", "मङ्सिर", "मार्गशीर्ष", "मङ्गसिर"),
    9: ("poush", "push", "pous", "paush", "pus", "पौष", "पुष", "पुस"),
    10: ("magh", "maagh", "माघ"),
    11: ("falgun", "phalgun", "fagun", "phagun", "फाल्गुन", "फागुन"),
    12: ("chaitra", "chait", "chaita", "चैत्र", "चैत"),
}
_MONTH_NUMBER = {name.lower(): n for n, name in enumerate(MONTHS, 1)}
_MONTH_NUMBER.update({name: n for n, name in enumerate(MONTHS_NE, 1)})
for _n, _names in _SPELLINGS.items():
    _MONTH_NUMBER.update(dict.fromkeys(_names, _n))

_DAY = re.compile(r"^(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})$")
_MONTH = re.compile(r"^(\d{4})[-/.](\d{1,2})$")
_FISCAL = re.compile(r"^(\d{4})\s*[/-]\s*(\d{2}|\d{4})$")
_NEPALI_DIGITS = str.maketrans("०१२३४५६७८९", "0123456789")


class BsDate(NamedTuple):
    year: int
    month: int
    day: int

    def iso(self) -> str:
        return f"{self.year:04d}-{self.month:02d}-{self.day:02d}"

    @property
    def month_name(self) -> str:
        return MONTHS[self.month - 1]


def covered() -> str:
    """The BS years khalti's calendar data covers, for messages and the README."""
    return f"BS {FIRST_YEAR} to {LAST_YEAR} ({from_bs(FIRST_YEAR, 1, 1)} to {last_covered_day()})"


def _out_of_range(what: str) -> InvalidInput:
    return InvalidInput(
        f"{what} is outside the Nepali calendar data khalti has (BS {FIRST_YEAR} to {LAST_YEAR}); "
        "later years are not published yet. Give the date as ad:YYYY-MM-DD, or upgrade khalti."
    )


@lru_cache(maxsize=4096)
def to_bs(day: date) -> BsDate:
    """The BS date of a Gregorian day (any day the library has data for)."""
    import nepali_datetime

    try:
        bs = nepali_datetime.date.from_datetime_date(day)
    except (ValueError, OverflowError):
        raise _out_of_range(f"The date {day.isoformat()}") from None
    return BsDate(bs.year, bs.month, bs.day)


def month_length(year: int, month: int) -> int:
    if not FIRST_YEAR <= year <= LAST_YEAR:
        raise _out_of_range(f"BS year {year}")
    if not 1 <= month <= 12:
        raise InvalidInput(f"{month} is not a month; BS months are 1 (Baisakh) to 12 (Chaitra).")
    import nepali_datetime

    nxt = nepali_datetime.date(year + 1, 1, 1) if month == 12 else nepali_datetime.date(year, month + 1, 1)
    return int((nxt.to_datetime_date() - nepali_datetime.date(year, month, 1).to_datetime_date()).days)


@lru_cache(maxsize=4096)
def from_bs(year: int, month: int, day: int) -> date:
    """The Gregorian day of a BS date; refused (InvalidInput) outside the covered years or the month."""
    length = month_length(year, month)
    if not 1 <= day <= length:
        raise InvalidInput(f"{MONTHS[month - 1]} {year} has {length} days; there is no day {day}.")
    import nepali_datetime

    return nepali_datetime.date(year, month, day).to_datetime_date()  # type: ignore[no-any-return]


def last_covered_day() -> date:
    return from_bs(LAST_YEAR, 12, month_length(LAST_YEAR, 12))


# --- what people type ---------------------------------------------------------------------------


def parse_day(text: str) -> date:
    """A typed day -> its Gregorian date. `2082-08-15` (BS: year >= 2060), `2025-12-01` (AD),
    `bs:2059-01-01`, `ad:2061-01-01`. Raises ValueError when it is not a date at all (a usage error)
    and InvalidInput when it is a BS date khalti cannot convert."""
    raw = text.strip().translate(_NEPALI_DIGITS)
    force = None
    if raw[:3].lower() in ("bs:", "ad:"):
        force, raw = raw[:2].lower(), raw[3:].strip()
    m = _DAY.match(raw)
    if not m:
        raise ValueError(text)
    year, month, day = (int(g) for g in m.groups())
    if force == "bs" or (force is None and year >= BS_FROM):
        return from_bs(year, month, day)
    return date(year, month, day)


def parse_month(text: str, *, now: date | None = None) -> tuple[int, int]:
    """`2082-08`, `2082/8`, `mangsir`, `मंसिर`, `Mangsir 2082`, `2082 mangsir` -> (BS year, month).
    A name alone is that month of this BS year."""
    raw = " ".join(text.strip().translate(_NEPALI_DIGITS).split())
    m = _MONTH.match(raw)
    if m:
        year, month = int(m.group(1)), int(m.group(2))
        if not 1 <= month <= 12:
            raise InvalidInput(f"{text!r} has no month {month}; BS months are 1 (Baisakh) to 12 (Chaitra).")
    else:
        words = raw.replace(",", " ").split()
        years = [w for w in words if w.isdigit() and len(w) == 4]
        names = [w for w in words if not w.isdigit()]
        number = _MONTH_NUMBER.get(" ".join(names).lower()) if len(names) == 1 else None
        if number is None or len(years) > 1 or len(words) != len(years) + len(names):
            raise InvalidInput(
                f"{text!r} is not a month. Give YYYY-MM in BS (e.g. 2082-08) or a month name: "
                f"{', '.join(m.lower() for m in MONTHS)} (or in Nepali, e.g. मंसिर)."
            )
        year, month = (int(years[0]) if years else to_bs(now or today()).year), number
    if not FIRST_YEAR <= year <= LAST_YEAR:
        raise _out_of_range(f"BS year {year}")
    return year, month


def month_range(year: int, month: int) -> tuple[date, date]:
    """[first day, first day of the next month) of a BS month, as Gregorian days."""
    start = from_bs(year, month, 1)
    return start, start + timedelta(days=month_length(year, month))


def period_key(year: int, month: int) -> str:
    """The `period` record key: BS YYYY-MM."""
    return f"{year:04d}-{month:02d}"


def period_label(period: str) -> str:
    year, month = (int(p) for p in period.split("-"))
    return f"{MONTHS[month - 1]} {year}"


def parse_fiscal_year(text: str) -> int:
    """`2082/83`, `2082-83`, `2082/2083` -> 2082 (the BS year in which the fiscal year starts, on Shrawan 1)."""
    m = _FISCAL.match(text.strip().translate(_NEPALI_DIGITS))
    if not m:
        raise InvalidInput(f"{text!r} is not a fiscal year; write it like 2082/83 (Shrawan 2082 to Asar 2083).")
    first, second = int(m.group(1)), m.group(2)
    following = int(second) if len(second) == 4 else (first + 1) // 100 * 100 + int(second)
    if following != first + 1:
        raise InvalidInput(f"{text!r} is not a fiscal year: the second year must follow the first (e.g. 2082/83).")
    if not FIRST_YEAR <= first <= LAST_YEAR:
        raise _out_of_range(f"Fiscal year {text}")
    return first


def fiscal_year_of(day: date) -> int:
    bs = to_bs(day)
    return bs.year if bs.month >= 4 else bs.year - 1


def fiscal_label(first_year: int) -> str:
    return f"{first_year}/{(first_year + 1) % 100:02d}"


def fiscal_range(first_year: int) -> tuple[date, date, bool]:
    """[Shrawan 1, the next Shrawan 1) of a fiscal year; when the calendar data ends before it does, the
    end is the day after the last covered day and the flag says the period was cut short."""
    start = from_bs(first_year, 4, 1)
    if first_year + 1 > LAST_YEAR:
        return start, last_covered_day() + timedelta(days=1), True
    return start, from_bs(first_year + 1, 4, 1), False


# --- what people read ---------------------------------------------------------------------------


def use_bs() -> bool:
    """KHALTI_CALENDAR=ad shows Gregorian dates to people; anything else (or unset) BS."""
    return os.environ.get("KHALTI_CALENDAR", "bs").strip().lower() != "ad"


def bs_iso(day: date) -> str | None:
    """BS YYYY-MM-DD, or None for a day the library has no data for."""
    try:
        return to_bs(day).iso()
    except InvalidInput:
        return None


def bs_of_stamp(stamp: str | None, zone: tuple[object, ...] | None = None) -> str | None:
    """An ISO timestamp -> the BS date of its local day (times.local_day), for the `*_bs` record keys.

    Called for every row of a listing (and by SQL, store/queries.py khalti_bs), so the answer is cached per
    minute of the stamp (a day boundary falls on a whole minute in every time zone) and per local zone
    (`zone`: times.zone_key(), read once for many stamps by a caller that has many)."""
    if not stamp:
        return None
    if len(stamp) >= 22 and stamp[10] == "T" and stamp[-6] in "+-" and stamp[-3] == ":":
        return _bs_of_minute(stamp[:16], stamp[-6:], zone or zone_key())
    return _bs_of_moment(stamp)


@lru_cache(maxsize=8192)
def _bs_of_minute(minute: str, offset: str, zone: tuple[object, ...]) -> str | None:
    return _bs_of_moment(minute + offset)


def _bs_of_moment(stamp: str) -> str | None:
    try:
        return bs_iso(local_day(stamp))
    except (ValueError, OverflowError):
        return None


def long_bs(day: date) -> str:
    """`12 Mangsir 2083` (or the ISO day when the library has no data)."""
    try:
        bs = to_bs(day)
    except InvalidInput:
        return day.isoformat()
    return f"{bs.day} {bs.month_name} {bs.year}"


def for_people(day: date, *, both: bool = True) -> str:
    """A day as people here read it: `2083-08-12 (2026-11-28)`, or the Gregorian day with KHALTI_CALENDAR=ad."""
    if not use_bs():
        return day.isoformat()
    shown = bs_iso(day)
    if shown is None:
        return day.isoformat()
    return f"{shown} ({day.isoformat()})" if both else shown
