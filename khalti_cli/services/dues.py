"""`khalti dues`: who owes what, as of now, by class and payer.

A fee is due while nobody has paid it and the school has not withdrawn it: created, initiated (a live link
nobody has paid yet), expired, canceled, failed. `pending` is shown apart (Khalti holds money that may be on
its way). Paid (completed, partially_refunded, refunded, paid_offline), voided and review are not dues;
payments in review are counted in the summary so that they are not forgotten (khalti list --status review).
A fee's class is the one it was billed to (khalti bill), else the payer's class in the register.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from khalti_cli.calendar import bs_of_stamp, period_label
from khalti_cli.clock import stamp
from khalti_cli.money import format_paisa, format_rupees
from khalti_cli.ordering import NO_CLASS, class_key, reference_key
from khalti_cli.services.records import load_heads
from khalti_cli.store import Store, school

DUE = ("created", "initiated", "expired", "canceled", "failed")
PENDING = ("pending",)
DUE_KEYS = (
    "kind",
    "group",
    "payer",
    "customer_name",
    "period",
    "order_id",
    "name",
    "amount",
    "amount_paisa",
    "status",
    "heads",
    "created_at",
    "created_at_bs",
)


@dataclass
class ClassTotal:
    group: str
    payers: set[str] = field(default_factory=set)
    due_count: int = 0
    due_paisa: int = 0
    pending_count: int = 0
    pending_paisa: int = 0

    def as_row(self) -> dict[str, Any]:
        return {
            "group": self.group,
            "payers_owing": len(self.payers),
            "due_count": self.due_count,
            "due": format_paisa(self.due_paisa),
            "due_paisa": self.due_paisa,
            "pending_count": self.pending_count,
            "pending": format_paisa(self.pending_paisa),
            "pending_paisa": self.pending_paisa,
        }


@dataclass
class Dues:
    as_of: str
    due: list[dict[str, Any]] = field(default_factory=list)
    pending: list[dict[str, Any]] = field(default_factory=list)
    classes: dict[str, ClassTotal] = field(default_factory=dict)
    review: int = 0

    @property
    def school(self) -> ClassTotal:
        total = ClassTotal("school")
        for c in self.classes.values():
            total.payers |= c.payers
            total.due_count += c.due_count
            total.due_paisa += c.due_paisa
            total.pending_count += c.pending_count
            total.pending_paisa += c.pending_paisa
        return total

    def rows(self) -> Iterator[dict[str, Any]]:
        yield from self.due
        yield from self.pending

    def summary(self) -> str:
        s = self.school
        text = (
            f"Owed: {format_rupees(s.due_paisa)} in {s.due_count} fee(s) by {len(s.payers)} payer(s); "
            f"pending at Khalti: {format_rupees(s.pending_paisa)} in {s.pending_count}."
        )
        if self.review:
            text += f" {self.review} payment(s) in review are not counted (khalti list --status review)."
        return text

    def sheets(self) -> list[tuple[str, Sequence[str], list[dict[str, Any]]]]:
        """(sheet name, columns, rows) for an xlsx file: one sheet per section."""
        totals = [c.as_row() for c in self.classes.values()] + [self.school.as_row()]
        class_keys = tuple(totals[0]) if totals else ("group",)
        return [("Dues", DUE_KEYS, self.due), ("Pending", DUE_KEYS, self.pending), ("By class", class_keys, totals)]


def build_dues(
    store: Store, *, groups: Sequence[str] | None = None, period: str | None = None, payer: str | None = None
) -> Dues:
    rows = school.fee_rows(store, (*DUE, *PENDING, "review"), groups=groups, period=period, payer=payer)
    result = Dues(as_of=stamp())
    for row in rows:
        if row["status"] == "review":
            result.review += 1
            continue
        group = row["class"] or NO_CLASS
        total = result.classes.setdefault(group, ClassTotal(group))
        who = row["payer_ref"] or row["customer_name"] or row["order_id"]
        record = _record(row, group)
        if row["status"] in PENDING:
            total.pending_count += 1
            total.pending_paisa += row["amount_paisa"]
            result.pending.append(record)
        else:
            total.payers.add(who)
            total.due_count += 1
            total.due_paisa += row["amount_paisa"]
            result.due.append(record)
    # By class and payer in natural order (Grade 2 before Grade 10); each payer's fees stay in period order.
    result.due.sort(key=_listing_order)
    result.pending.sort(key=_listing_order)
    result.classes = {g: result.classes[g] for g in sorted(result.classes, key=class_key)}
    return result


def _listing_order(record: dict[str, Any]) -> tuple[Any, ...]:
    return class_key(record["group"]), reference_key(record["payer"])


def _record(row: dict[str, Any], group: str) -> dict[str, Any]:
    return {
        "kind": "pending" if row["status"] in PENDING else "due",
        "group": group,
        "payer": row["payer_ref"],
        "customer_name": row["customer_name"],
        "period": row["period"],
        "period_name": period_label(row["period"]) if row["period"] else None,
        "order_id": row["order_id"],
        "name": row["name"],
        "amount": format_paisa(row["amount_paisa"]),
        "amount_paisa": row["amount_paisa"],
        "status": row["status"],
        "heads": load_heads(row) or None,
        "created_at": row["created_at"],
        "created_at_bs": bs_of_stamp(row["created_at"]),
    }
