"""Timestamps: one convention for machines, local minutes for people.

Machines (json, jsonl, csv, tsv, the database): every timestamp is ISO 8601 in UTC with milliseconds and an
explicit offset, `2026-11-28T04:15:00.000+00:00` (what clock.stamp writes). Khalti answers in Nepal time
(`...+05:45`); `machine()` converts its times at the boundary, so `created_at` and `expires_at` in one record
always read the same way.

People (tables, slips, reports, messages): the local time to the minute, `2026-11-28 10:00`, in the zone
named by KHALTI_TZ (an IANA name such as Asia/Kathmandu, or an offset such as +05:45), else the system's.
This is the one place a time is formatted for a person; its day is the Bikram Sambat day (calendar.py),
or the Gregorian one with KHALTI_CALENDAR=ad.
"""

from __future__ import annotations

import os
import re
import time
from datetime import UTC, date, datetime, timedelta, timezone, tzinfo
from functools import cache

_OFFSET = re.compile(r"^(?:UTC)?([+-])(\d{1,2}):?(\d{2})?$")


def parse(text: str) -> datetime:
    value = datetime.fromisoformat(text)
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def machine(text: str | None) -> str | None:
    """Any ISO 8601 time -> the machine convention (UTC, milliseconds rounded as SQLite rounds them).

    Text that is not a time gives None, as SQLite's strftime does."""
    if not text:
        return None
    try:
        moment = parse(text).astimezone(UTC)
    except ValueError:
        return None
    moment += timedelta(microseconds=500)
    return moment.replace(microsecond=moment.microsecond // 1000 * 1000).isoformat(timespec="milliseconds")


def is_time_key(key: str) -> bool:
    """Whether a record key holds a timestamp: `*_at`, `at`, `since`, `until` (and `pending_since`)."""
    return key.endswith(("_at", "_since")) or key in ("at", "since", "until")


def machine_times(value: object) -> object:
    """A copy of a JSON value (an event's detail: Khalti's answer, a before/after) with the timestamps under
    time keys in the machine convention; anything else, and text that is not a time, as it was."""
    if isinstance(value, dict):
        return {
            k: (machine(v) or v) if isinstance(v, str) and is_time_key(str(k)) else machine_times(v)
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [machine_times(v) for v in value]
    return value


# The same conversion inside SQLite (store/queries.py builds JSON there): strftime reads the offset.
MACHINE_SQL = "strftime('%Y-%m-%dT%H:%M:%f+00:00', {column})"


def _configured() -> str:
    return os.environ.get("KHALTI_TZ", "").strip()


@cache
def _named_zone(name: str) -> tzinfo | None:
    """The zone KHALTI_TZ names; None when it is unset or unknown (then the system's zone rather than an
    error on every command)."""
    if not name:
        return None
    m = _OFFSET.match(name)
    if m:
        sign = -1 if m.group(1) == "-" else 1
        delta = timedelta(hours=int(m.group(2)), minutes=int(m.group(3) or 0))
        try:
            return timezone(sign * delta)
        except ValueError:  # +24:00 or more: not an offset
            return None
    if name.upper() in ("UTC", "Z"):
        return UTC
    try:
        from zoneinfo import ZoneInfo

        return ZoneInfo(name)
    except (ValueError, OSError, LookupError):
        return None


# --- the local day: the one way to get "the day of a stamp", "today" and "the midnight of a day" ---------


def to_local(moment: datetime) -> datetime:
    """A moment in the local zone (a naive one is UTC, as stored stamps without an offset are)."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    zone = _named_zone(_configured())
    # The system's zone through the C library, so that its summer time follows the moment.
    return moment.astimezone(zone) if zone else moment.astimezone()


def localize(wall: datetime) -> datetime:
    """A naive local wall-clock time (a typed `2026-11-28T10:00`, a midnight) -> that moment."""
    zone = _named_zone(_configured())
    return wall.replace(tzinfo=zone) if zone else wall.astimezone()


def local_day(value: str | datetime) -> date:
    """The local day of a stamp or moment: what a person there calls its date."""
    return to_local(parse(value) if isinstance(value, str) else value).date()


def today() -> date:
    """The local day now."""
    from khalti_cli.clock import now

    return local_day(now())


def local_midnight(day: date) -> datetime:
    """The moment a local day starts (the start of `--since DAY`, of a report's first day)."""
    return localize(datetime(day.year, day.month, day.day))


def zone_key() -> tuple[object, ...]:
    """What the local zone depends on, for caches of local days (TZ and tzset change the system's)."""
    env = os.environ
    return (env.get("KHALTI_TZ"), env.get("TZ"), time.timezone, time.altzone)


def local(value: str | datetime | None, *, date_only: bool = False) -> str:
    """`2026-11-28T04:15:00.000+00:00` -> `2026-11-28 10:00` in the local zone ('' for none)."""
    if value is None or value == "":
        return ""
    try:
        moment = parse(value) if isinstance(value, str) else value
    except ValueError:
        return str(value)
    moment = to_local(moment)
    from khalti_cli.calendar import for_people  # the BS day (Gregorian with KHALTI_CALENDAR=ad)

    day = for_people(moment.date(), both=False)
    return day if date_only else f"{day} {moment:%H:%M}"


def local_clock(value: str | datetime) -> str:
    """Just the local hour and minute, `10:00`."""
    moment = parse(value) if isinstance(value, str) else value
    return f"{to_local(moment):%H:%M}"


def zone_label() -> str:
    """`+05:45` for the local zone now (for a footnote saying which time a table shows)."""
    offset = to_local(datetime.now(UTC)).utcoffset() or timedelta(0)
    minutes = int(offset.total_seconds() // 60)
    sign = "-" if minutes < 0 else "+"
    return f"{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"
