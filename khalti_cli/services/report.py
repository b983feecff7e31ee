"""The accounts office's figures for a period: payments by status, what was collected, Khalti's fees,
refunds, links about to expire, and collections per day.

The period selects payments by when they were created (as `khalti list --since/--until` does), so every
figure is about the same payments. "Collected" is the amount of those that are completed or partially
refunded (refunds are shown on their own line); a collection's day is the local day this tool first saw
the payment paid. Links about to expire are as of now, whatever the period: they are what needs doing today.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from khalti_cli.calendar import bs_iso, month_range, to_bs, use_bs
from khalti_cli.clock import now, parse, stamp
from khalti_cli.errors import InvalidInput
from khalti_cli.money import format_paisa
from khalti_cli.services.books import BOOK_KEYS, NET_DEFINITION, Books, books_by_class
from khalti_cli.statuses import STATUSES
from khalti_cli.store import Store
from khalti_cli.store import queries as q
from khalti_cli.times import local_day, local_midnight, machine, to_local

COLLECTED = ("completed", "partially_refunded")
OUTSIDE = ("paid_offline",)  # collected at the counter or the bank (khalti settle), shown apart
PER_DAY = (*COLLECTED, "paid_offline")  # collections per day: money in, at the counter too
EXPIRING_WITHIN = timedelta(hours=1)
PREFILL_DAYS = 400


def this_month(moment: datetime | None = None) -> tuple[datetime, datetime]:
    """[first day of this month, first day of next month), local midnight: the BS month (the Gregorian one
    with KHALTI_CALENDAR=ad)."""
    day = local_day(moment or now())
    if use_bs():
        bs = to_bs(day)
        first, following_day = month_range(bs.year, bs.month)
        return local_midnight(first), local_midnight(following_day)
    first = day.replace(day=1)
    return local_midnight(first), local_midnight((first + timedelta(days=32)).replace(day=1))


@dataclass
class Figure:
    count: int = 0
    amount_paisa: int = 0

    def as_json(self) -> dict[str, Any]:
        return {"count": self.count, "amount": format_paisa(self.amount_paisa), "amount_paisa": self.amount_paisa}


@dataclass
class Report:
    since: datetime
    until: datetime
    generated_at: str
    total: Figure = field(default_factory=Figure)
    by_status: dict[str, Figure] = field(default_factory=dict)
    collected: Figure = field(default_factory=Figure)
    outside: Figure = field(default_factory=Figure)
    fees_paisa: int = 0
    refunds_paisa: int = 0
    expiring: list[dict[str, Any]] = field(default_factory=list)
    per_day: list[tuple[date, Figure]] = field(default_factory=list)
    label: str | None = None  # "Mangsir 2083", "fiscal year 2082/83"
    periods: tuple[str, str] | None = None  # the BS months billed (first, last), for --month/--fiscal-year
    by_class: list[Books] = field(default_factory=list)
    books: Books = field(default_factory=lambda: Books("school"))

    @property
    def net_paisa(self) -> int:
        """Net collected, the books' one figure (books.net_paisa, NET_DEFINITION): through Khalti + outside
        Khalti - refunds - Khalti's fees."""
        return self.books.paisa["net"]

    @property
    def expiring_figure(self) -> Figure:
        return Figure(len(self.expiring), sum(int(p["amount_paisa"]) for p in self.expiring))

    def as_json(self) -> dict[str, Any]:
        return {
            # the period's edges are local midnights; written in the one machine convention (UTC)
            "since": machine(self.since.isoformat()),
            "until": machine(self.until.isoformat()),
            "generated_at": self.generated_at,
            "payments": self.total.as_json(),
            "by_status": {s: f.as_json() for s, f in self.by_status.items()},
            "collected": self.collected.as_json(),
            "collected_outside_khalti": self.outside.as_json(),
            "fees": {"amount": format_paisa(self.fees_paisa), "amount_paisa": self.fees_paisa},
            "refunds": {"amount": format_paisa(self.refunds_paisa), "amount_paisa": self.refunds_paisa},
            "net_collected": {"amount": format_paisa(self.net_paisa), "amount_paisa": self.net_paisa},
            "net_collected_definition": NET_DEFINITION,
            "expiring_within_hour": {**self.expiring_figure.as_json(), "payments": self.expiring},
            "per_day": [{"day": d.isoformat(), "day_bs": bs_iso(d), **f.as_json()} for d, f in self.per_day],
            "label": self.label,
            "since_bs": bs_iso(self.since.date()),
            "until_bs": bs_iso(self.until.date()),
            "periods": list(self.periods) if self.periods else None,
            "books": self.books.as_json(),
            "by_class": [b.as_json() for b in self.by_class],
        }

    def rows(self) -> Iterator[dict[str, Any]]:
        """The same figures as flat rows (section, key, count, amount, amount_paisa) for csv/tsv."""

        def row(section: str, key: str, count: int | None, paisa: int) -> dict[str, Any]:
            return {
                "section": section,
                "key": key,
                "count": count,
                "amount": format_paisa(paisa),
                "amount_paisa": paisa,
            }

        for status, figure in self.by_status.items():
            yield row("status", status, figure.count, figure.amount_paisa)
        yield row("total", "payments", self.total.count, self.total.amount_paisa)
        yield row("total", "collected", self.collected.count, self.collected.amount_paisa)
        yield row("total", "collected_outside_khalti", self.outside.count, self.outside.amount_paisa)
        yield row("total", "fees", None, self.fees_paisa)
        yield row("total", "refunds", None, self.refunds_paisa)
        yield row("total", "net_collected", None, self.net_paisa)
        expiring = self.expiring_figure
        yield row("total", "expiring_within_hour", expiring.count, expiring.amount_paisa)
        for day, figure in self.per_day:
            yield row("day", day.isoformat(), figure.count, figure.amount_paisa)
        for books in [*self.by_class, self.books]:
            section = "school" if books is self.books else f"class:{books.group}"
            for key in BOOK_KEYS:
                yield row(section, key, books.count[key], books.paisa[key])

    def sheets(self) -> list[tuple[str, Sequence[str], Iterable[dict[str, Any]]]]:
        """One sheet per section, for --format xlsx."""
        status_rows = [{"status": s, **f.as_json()} for s, f in self.by_status.items()]
        books = [b.as_row() for b in [*self.by_class, self.books]]
        days = [{"day": d.isoformat(), "day_bs": bs_iso(d), **f.as_json()} for d, f in self.per_day]
        figure_keys = ("count", "amount", "amount_paisa")
        return [
            ("Books", ("group", *BOOK_KEYS), books),
            ("By status", ("status", *figure_keys), status_rows),
            ("Per day", ("day", "day_bs", *figure_keys), days),
            ("Expiring", ("order_id", "name", "customer_name", "payer", "amount", "expires_at"), self.expiring),
        ]


def build_report(
    store: Store,
    since: datetime | None = None,
    until: datetime | None = None,
    *,
    at: datetime | None = None,
    periods: tuple[str, str] | None = None,
    label: str | None = None,
) -> Report:
    moment = at or now()
    # Default: this month; with only --until, the month it ends in; with only --since, up to this month's end.
    default_since = this_month(moment if until is None else until - timedelta(microseconds=1))[0]
    start, end = since or default_since, until or this_month(moment)[1]
    if end <= start:
        raise InvalidInput("The period is empty: --until is before --since.")
    report = Report(since=to_local(start), until=to_local(end), generated_at=stamp(moment))
    report.label, report.periods = label, periods
    report.by_status = {s: Figure() for s in STATUSES}
    report.by_class, report.books = books_by_class(store, since=stamp(start), until=stamp(end), periods=periods)
    for r in q.status_totals(store, since=stamp(start), until=stamp(end), periods=periods):
        figure = Figure(int(r["count"]), int(r["amount_paisa"] or 0))
        report.by_status[r["status"]] = figure
        report.total.count += figure.count
        report.total.amount_paisa += figure.amount_paisa
        if r["status"] in COLLECTED:
            report.collected.count += figure.count
            report.collected.amount_paisa += figure.amount_paisa
        if r["status"] in OUTSIDE:
            report.outside.count += figure.count
            report.outside.amount_paisa += figure.amount_paisa
    # Refunds and fees are the books' (those of the payments paid through Khalti), so the lines add up to net.
    report.fees_paisa, report.refunds_paisa = report.books.paisa["fees"], report.books.paisa["refunds"]
    report.per_day = _per_day(store, start, end, moment, periods)
    horizon = moment + EXPIRING_WITHIN
    for p in q.open_payments(store):
        expires = parse(p["expires_at"])
        if moment < expires <= horizon:
            report.expiring.append(
                {
                    "order_id": p["order_id"],
                    "name": p["name"],
                    "customer_name": p["customer_name"],
                    "payer": p["payer_ref"],
                    "amount": format_paisa(p["amount_paisa"]),
                    "amount_paisa": p["amount_paisa"],
                    "expires_at": p["expires_at"],
                }
            )
    report.expiring.sort(key=lambda p: parse(p["expires_at"]))
    return report


def _per_day(
    store: Store, start: datetime, end: datetime, moment: datetime, periods: tuple[str, str] | None
) -> list[tuple[date, Figure]]:
    days: dict[date, Figure] = {}
    first = local_day(start)
    last = local_day(min(end - timedelta(microseconds=1), moment))
    day = first
    # Days without collections are listed too (as 0) for a period of about a year at most: a period that
    # starts in year 2 would otherwise be 740,000 empty days.
    while day <= last and (last - first).days <= PREFILL_DAYS:
        days[day] = Figure()
        day += timedelta(days=1)
    for r in q.paid_moments(store, PER_DAY, since=stamp(start), until=stamp(end), periods=periods):
        paid = local_day(r["paid_at"])
        figure = days.setdefault(paid, Figure())
        figure.count += 1
        figure.amount_paisa += int(r["amount_paisa"])
    return sorted(days.items())
