"""`khalti bill`: one payment per payer of a class (or the whole school) for a BS month, with fee heads.

The fee structure comes from `--fee LABEL=RUPEES` (the same heads for every class billed) or a plan file
(CSV `group,head,amount`: each class its own heads). A payer's payment has amount = the sum of its heads,
`period` = the BS month, `heads` = [{"label", "amount_paisa"}], the class billed, and the payer's details
copied from the register (as `create --payer` does).

Idempotent: a payment's order id is made from the payer, the period and the heads (`B2082-08-<payer>-<hash>`),
so running the same bill again finds every id already stored and adds nothing, and a payer added to the
class later gets theirs on the next run. A different bill for the same month (an exam fee) has other heads,
so other ids: it is added, and the payers who already had a bill that month are counted in the summary.
Everything is checked before anything is stored; one transaction stores them all.
"""

from __future__ import annotations

import hashlib
import json
import re
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from khalti_cli import money
from khalti_cli.calendar import period_label
from khalti_cli.clock import stamp
from khalti_cli.errors import InvalidInput
from khalti_cli.ordering import class_key, reference_key
from khalti_cli.services import validate
from khalti_cli.services.records import payment_record
from khalti_cli.services.rows import BadRow, Columns, open_source, read_rows
from khalti_cli.store import Store, school
from khalti_cli.store import queries as q

PLAN_COLUMNS = Columns(
    known=("group", "head", "amount"),
    required=("group", "head", "amount"),
    aliases={"class": "group", "label": "head", "fee": "head"},
)
ALL_GROUPS = "*"  # the plan's group for heads every class pays


@dataclass(frozen=True)
class Head:
    label: str
    amount_paisa: int

    def as_json(self) -> dict[str, Any]:
        return {"label": self.label, "amount_paisa": self.amount_paisa}


def parse_fee(text: str) -> Head:
    """`Tuition=4500` -> Head('Tuition', 450000). Refused (exit 3) without `=` or with a bad amount."""
    label, sep, amount = text.partition("=")
    if not sep:
        raise InvalidInput(f"--fee {text!r} has no '='; write it as LABEL=RUPEES, e.g. --fee Tuition=4500.")
    return _head(label, amount, f"--fee {text!r}")


def _head(label: str | None, amount: str | None, where: str) -> Head:
    checked = validate.text(label, "fee head", limit=80)
    if checked is None:
        raise InvalidInput(f"{where}: the fee head has no name; write it as LABEL=RUPEES, e.g. Tuition=4500.")
    try:
        paisa = money.parse_rupees(amount or "", minimum=1)
    except InvalidInput as exc:
        raise InvalidInput(f"{where}: {exc}") from None
    return Head(checked, paisa)


def read_plan(path: str) -> dict[str, list[Head]]:
    """A plan file: class -> its heads, in file order. Group `*` means every class in the plan."""
    plan: dict[str, list[Head]] = {}
    bad: list[BadRow] = []
    with open_source(path) as stream:
        for line, item in read_rows(stream, "csv", PLAN_COLUMNS):
            if isinstance(item, BadRow):
                bad.append(item)
                continue
            group = validate.text(item.get("group"), "class or group", limit=100)
            try:
                if group is None:
                    raise InvalidInput("the class (group) is empty")
                head = _head(item.get("head"), item.get("amount"), f"line {line}")
            except InvalidInput as exc:
                bad.append(BadRow(line, None, str(exc).removeprefix(f"line {line}: ")))
                continue
            heads = plan.setdefault(group, [])
            if any(h.label == head.label for h in heads):
                bad.append(BadRow(line, "head", f"{group} already has a head {head.label!r} on an earlier line."))
                continue
            heads.append(head)
    if bad:
        raise InvalidInput(f"The plan {path} has bad rows; nothing was billed. " + "; ".join(str(b) for b in bad))
    if not plan:
        raise InvalidInput(f"The plan {path} has no rows; give one row per class and fee head (group,head,amount).")
    common = plan.pop(ALL_GROUPS, [])
    if common and not plan:
        raise InvalidInput(f"The plan {path} has only '*' rows; name the classes to bill.")
    return {group: [*common, *heads] for group, heads in plan.items()}


@dataclass
class Bill:
    period: str
    rows: list[tuple[Any, ...]] = field(default_factory=list)  # new payments, in q.BILL_COLUMNS order
    existing: list[str] = field(default_factory=list)  # order ids already stored (the same bill, run before)
    by_group: dict[str, list[int]] = field(default_factory=dict)  # class -> [payers, new, total paisa new]
    other_bills: int = 0  # payers who already had a different bill for this period
    first_id: int = 0
    last_id: int = -1

    @property
    def total_paisa(self) -> int:
        return sum(int(r[2]) for r in self.rows)


def bill_order_id(payer_ref: str, period: str, heads: list[Head]) -> str:
    """The same payer, period and heads always give the same order id (what makes a re-run add nothing)."""
    digest = hashlib.sha256(
        json.dumps([payer_ref, period, [h.as_json() for h in heads]], ensure_ascii=False).encode()
    ).hexdigest()[:8]
    safe = re.sub(r"[^A-Za-z0-9._-]", "_", payer_ref)[:40]
    return f"B{period}-{safe}-{digest}"


def plan_bill(
    store: Store, period: str, plan: dict[str, list[Head]] | None, heads: list[Head], groups: list[str] | None
) -> Bill:
    """Work out the bill; nothing is stored. `plan` (class -> heads) or `heads` for `groups` (None = every
    payer with a class). Raises InvalidInput for a class with no payers, or no payers at all."""
    if plan is not None:
        if groups:
            missing = [g for g in groups if g not in plan]
            if missing:
                raise InvalidInput(f"The plan has no fees for {', '.join(missing)}; add rows for it or drop --group.")
            plan = {g: plan[g] for g in groups}
        wanted: list[str] | None = list(plan)
    else:
        wanted = groups or None
    payers = list(school.payers_in_groups(store, wanted))
    payers.sort(key=lambda p: (class_key(p["group_name"]), reference_key(p["reference"])))
    found = {p["group_name"] for p in payers}
    empty = [g for g in (wanted or []) if g not in found]
    if empty:
        raise InvalidInput(
            f"No payers are in {', '.join(repr(g) for g in empty)}; nothing was billed. Check the class name with "
            "khalti payers list, or add payers with khalti payers add REF --name NAME --group CLASS."
        )
    if not payers:
        raise InvalidInput(
            "There are no payers with a class to bill; nothing was billed. Add them with khalti payers add "
            "(or payers import) with a group."
        )
    bill = Bill(period)
    at = stamp()
    earlier = school.bills_of_period(store, period)
    label = period_label(period)
    candidates: list[tuple[str, tuple[Any, ...]]] = []
    for payer in payers:
        group = payer["group_name"]
        fee_heads = plan[group] if plan is not None else heads
        amount = sum(h.amount_paisa for h in fee_heads)
        if amount < money.MIN_PAISA:
            raise InvalidInput(
                f"The fees for {group} add up to {money.format_rupees(amount)}, below Khalti's minimum of Rs 10."
            )
        oid = bill_order_id(payer["reference"], period, fee_heads)
        name = f"{label} fees: " + ", ".join(h.label for h in fee_heads)
        values = (
            oid,
            name[:200],
            amount,
            "created",
            payer["name"],
            payer.get("email"),
            payer.get("phone"),
            payer["reference"],
            payer["reference"],
            at,
            at,
            period,
            json.dumps([h.as_json() for h in fee_heads], ensure_ascii=False),
            group,
        )
        candidates.append((group, values))
    stored = q.existing_order_ids(store, [v[0] for _, v in candidates])
    for group, values in candidates:
        counts = bill.by_group.setdefault(group, [0, 0, 0])
        counts[0] += 1
        if values[0] in stored:
            bill.existing.append(values[0])
            continue
        if earlier.get(values[8]):
            bill.other_bills += 1
        counts[1] += 1
        counts[2] += int(values[2])
        bill.rows.append(values)
    return bill


def store_bill(store: Store, bill: Bill) -> Bill:
    """Store the bill's new payments in one transaction (with their 'created' events)."""
    if not bill.rows:
        return bill
    try:
        with store.write():
            stored = q.existing_order_ids(store, [r[0] for r in bill.rows])  # a bill run at the same moment
            rows = [r for r in bill.rows if r[0] not in stored]
            bill.existing.extend(r[0] for r in bill.rows if r[0] in stored)
            bill.rows = rows
            bill.first_id, bill.last_id = q.insert_payments(
                store, rows, message=f"billed for {period_label(bill.period)}", columns=q.BILL_COLUMNS
            )
    except sqlite3.IntegrityError:
        raise InvalidInput(
            "Another khalti command billed these payers at the same moment; run the bill again."
        ) from None
    return bill


def bill_records(store: Store, bill: Bill) -> Iterator[dict[str, Any]]:
    for row in q.payments_in_range(store, bill.first_id, bill.last_id):
        yield payment_record(row)
