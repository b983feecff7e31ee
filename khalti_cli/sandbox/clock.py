"""Time as Khalti shows it: Asia/Kathmandu, a fixed +05:45 offset (Nepal has no DST)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

KATHMANDU = timezone(timedelta(hours=5, minutes=45), "Asia/Kathmandu")


def now() -> datetime:
    return datetime.now(KATHMANDU)


def isoformat(moment: datetime) -> str:
    """ISO 8601 with microseconds and the +05:45 offset, e.g. 2023-05-25T16:26:16.471649+05:45."""
    return moment.astimezone(KATHMANDU).isoformat(timespec="microseconds")
