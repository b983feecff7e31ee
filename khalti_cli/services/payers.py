"""The payers register: who pays (a student id as reference, name, class or group, phone, email).

A payment made for a payer copies the payer's name, phone and email (and the reference) when it is made,
so changing the register later never rewrites payments already made; the payment keeps `payer_ref` to
tie it back to the register for the payer's history.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from khalti_cli.clock import stamp
from khalti_cli.errors import ExitCode, InvalidInput, NotFound
from khalti_cli.money import format_paisa
from khalti_cli.ordering import class_key, reference_key
from khalti_cli.services import validate
from khalti_cli.services.payments import NewPayment
from khalti_cli.services.records import payment_record
from khalti_cli.services.rows import BadRow, Columns, input_format, open_source, read_rows, source_name
from khalti_cli.store import Store
from khalti_cli.store import queries as q

PAYER_KEYS = ("reference", "name", "group", "phone", "email", "created_at", "updated_at", "no_sms", "no_email")
# record key -> column in the payers table
_COLUMN = {"reference": "reference", "name": "name", "group": "group_name", "phone": "phone", "email": "email"}
PAYER_COLUMNS = Columns(
    known=("reference", "name", "group", "phone", "email"),
    required=("reference", "name"),
    aliases={"class": "group", "class_group": "group", "payer": "reference", "student_id": "reference"},
)

# Statuses whose fee is still owed (a new link can be made), paid, or waiting for a person. `pending` is
# apart: Khalti may have the money (its docs: hold, and ask Khalti), so it is neither due nor paid. A voided
# fee is neither due nor paid; one paid outside Khalti (paid_offline) counts as paid.
DUE = ("created", "initiated", "expired", "canceled", "failed")
PENDING = ("pending",)
PAID = ("completed", "partially_refunded", "refunded", "paid_offline")


def check_payer(
    *,
    reference: str | None,
    name: str | None = None,
    group: str | None = None,
    phone: str | None = None,
    email: str | None = None,
    name_required: bool = True,
    phone_field: str = "--phone",
) -> dict[str, str | None]:
    """The fields given (None = not given), checked; an empty text given means 'clear it'."""
    ref = validate.text(reference, "payer reference", required=True, limit=64)
    assert ref is not None
    fields: dict[str, str | None] = {"reference": ref}
    if name is not None or name_required:
        fields["name"] = validate.text(name, "name", required=True)
    if group is not None:
        fields["group"] = validate.text(group, "class or group", limit=100)
    if phone is not None:
        fields["phone"] = validate.phone(phone, phone_field)
    if email is not None:
        fields["email"] = validate.email(email)
    return fields


def payer_record(row: dict[str, Any]) -> dict[str, Any]:
    record = {key: row.get(_COLUMN.get(key, key)) for key in PAYER_KEYS}
    record["no_sms"], record["no_email"] = bool(row.get("no_sms")), bool(row.get("no_email"))
    return record


def find_payer(store: Store, reference: str) -> dict[str, Any]:
    row = q.get_payer(store, reference.strip())
    if row is None:
        raise NotFound(
            f"No payer has reference {reference.strip()!r}. Add them with: khalti payers add "
            f"{reference.strip()} --name NAME (see khalti payers list)."
        )
    return row


def save_payer(
    store: Store, fields: dict[str, str | None], *, must_exist: bool = False, opt_outs: dict[str, bool] | None = None
) -> tuple[dict[str, Any], str]:
    """Add a payer, or change the given fields of an existing one. Returns (record, 'added' | 'updated' |
    'unchanged'). Payments already made keep the details they were made with. `opt_outs` maps a channel
    (sms, email) to True (no messages by it) or False (messages again)."""
    from khalti_cli.store.messages import set_opt_out

    with store.write():
        before = q.get_payer(store, str(fields["reference"]))
        outcome = _save(store, fields, must_exist=must_exist, at=stamp())
        for channel, out in (opt_outs or {}).items():
            if before is None or bool(before[f"no_{channel}"]) != out:
                set_opt_out(store, str(fields["reference"]), channel, out)
                outcome = "updated"
    row = q.get_payer(store, str(fields["reference"]))
    assert row is not None
    return payer_record(row), outcome


def _save(store: Store, fields: dict[str, str | None], *, must_exist: bool, at: str) -> str:
    ref = str(fields["reference"])
    old = q.get_payer(store, ref)
    if old is None:
        if must_exist:
            find_payer(store, ref)  # raises NotFound
        if not fields.get("name"):
            raise InvalidInput(f"Payer {ref} is new: give their name.")
        row = {_COLUMN[k]: v for k, v in fields.items()}
        q.insert_payer(store, {**row, "created_at": at, "updated_at": at})
        return "added"
    changes = {_COLUMN[k]: v for k, v in fields.items() if k != "reference" and old[_COLUMN[k]] != v}
    if not changes:
        return "unchanged"
    q.update_payer(store, old["id"], {**changes, "updated_at": at})
    return "updated"


@dataclass
class PayersImport:
    source: str
    rows: int = 0
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    bad: list[BadRow] = field(default_factory=list)
    stored: bool = False

    @property
    def exit_code(self) -> ExitCode:
        return ExitCode.INVALID if self.bad else ExitCode.OK


def import_payers(
    store: Store, path: str, *, input_format_name: str | None = None, skip_invalid: bool = False
) -> PayersImport:
    """Add or update payers from a file: every row checked first, then all stored in one transaction
    (with skip_invalid, the good rows even when some are bad). An empty cell leaves that detail as it is."""
    result = PayersImport(source_name(path))
    good: list[dict[str, str | None]] = []
    seen: dict[str, int] = {}
    with open_source(path) as stream:
        for line, item in read_rows(stream, input_format(path, input_format_name), PAYER_COLUMNS):
            result.rows += 1
            if isinstance(item, BadRow):
                result.bad.append(item)
                continue
            given = {k: v for k, v in item.items() if v is not None and v.strip()}
            try:
                fields = check_payer(
                    reference=given.get("reference"),
                    name=given.get("name"),
                    group=given.get("group"),
                    phone=given.get("phone"),
                    email=given.get("email"),
                    phone_field="column phone",
                )
            except InvalidInput as exc:
                result.bad.append(BadRow(line, _bad_column(given), str(exc)))
                continue
            ref = str(fields["reference"])
            if ref in seen:
                result.bad.append(BadRow(line, "reference", f"payer {ref} is also on line {seen[ref]}."))
                continue
            seen[ref] = line
            good.append(fields)
    if result.bad and not skip_invalid:
        return result
    at = stamp()
    with store.write():
        for fields in good:
            outcome = _save(store, fields, must_exist=False, at=at)
            setattr(result, outcome, getattr(result, outcome) + 1)
    result.stored = True
    return result


def _bad_column(given: dict[str, str]) -> str | None:
    for column in PAYER_COLUMNS.known:
        if column not in given and column not in PAYER_COLUMNS.required:
            continue
        probe: dict[str, str | None] = {"reference": "x", "name": "x", column: given.get(column)}
        try:
            check_payer(
                reference=probe["reference"],
                name=probe["name"],
                group=probe.get("group"),
                phone=probe.get("phone"),
                email=probe.get("email"),
            )
        except InvalidInput:
            return column
    return None


def list_payers(store: Store, *, search: str | None = None, group: str | None = None) -> Iterator[dict[str, Any]]:
    """By group, then reference, in natural order: Grade 3 before Grade 10, S-9 before S-10."""
    records = [payer_record(row) for row in q.list_payers(store, search=search, group=group)]
    records.sort(key=lambda r: (class_key(r.get("group")), reference_key(r.get("reference"))))
    yield from records


def totals(store: Store, reference: str) -> dict[str, Any]:
    """What a payer owes and has paid: counts and amounts (paisa, and rupees as text)."""
    by_status = {r["status"]: r for r in q.payer_status_totals(store, reference)}

    def amount(statuses: tuple[str, ...]) -> int:
        return sum(int(by_status[s]["amount_paisa"] or 0) for s in statuses if s in by_status)

    refunded = sum(
        int(r["refunded_paisa"]) or (int(r["amount_paisa"]) if s == "refunded" else 0) for s, r in by_status.items()
    )
    figures = {
        "payments": sum(int(r["count"]) for r in by_status.values()),
        "due_paisa": amount(DUE),
        "pending_paisa": amount(PENDING),
        "paid_paisa": amount(PAID),
        "refunded_paisa": refunded,
        "review_paisa": amount(("review",)),
        "offline_paisa": amount(("paid_offline",)),
        "voided_paisa": amount(("voided",)),
    }
    out: dict[str, Any] = dict(figures)
    for key in ("due", "pending", "paid", "refunded", "review", "offline", "voided"):
        out[key] = format_paisa(figures[f"{key}_paisa"])
    out["by_status"] = {
        s: {"count": int(r["count"]), "amount": format_paisa(int(r["amount_paisa"] or 0))} for s, r in by_status.items()
    }
    return out


def show_payer(store: Store, reference: str) -> dict[str, Any]:
    """The payer, every payment made for them (newest first) and the totals."""
    row = find_payer(store, reference)
    record = payer_record(row)
    record["payments"] = [payment_record(p) for p in q.list_payments(store, q.PaymentFilter(payer=row["reference"]))]
    record["totals"] = totals(store, row["reference"])
    return record


def apply_payer(new: NewPayment, payer: dict[str, Any]) -> NewPayment:
    """The payer's details fill what the payment does not give itself (given values win)."""
    return dataclasses.replace(
        new,
        payer_ref=payer["reference"],
        customer_name=new.customer_name or payer["name"],
        customer_phone=new.customer_phone or payer.get("phone"),
        customer_email=new.customer_email or payer.get("email"),
        reference=new.reference or payer["reference"],
    )


def fill_from_register(store: Store, new: NewPayment) -> NewPayment:
    """For `create --payer REF`: the register's details, or NotFound."""
    if not new.payer_ref:
        return new
    return apply_payer(new, find_payer(store, new.payer_ref))
