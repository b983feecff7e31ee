"""void, settle, resolve, edit, note: a person's corrections. The ones that change money ask first on a
terminal and need --yes elsewhere (exit 2 without it)."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import typer

from khalti_cli.cli import completion
from khalti_cli.cli.asking import confirm as ask
from khalti_cli.cli.asking import fit, for_screen
from khalti_cli.cli.options import FormatOption, check_format, read_ids
from khalti_cli.cli.state import AppState, state
from khalti_cli.output import resolve_format, write_records

if TYPE_CHECKING:
    from khalti_cli.services.corrections import Plan

YesOption: Any = typer.Option(False, "--yes", "-y", help="Do not ask; required when not on a terminal.")


def register(app: typer.Typer) -> None:
    app.command("void")(void)
    app.command("settle")(settle)
    app.command("resolve")(resolve)
    app.command("edit")(edit)
    app.command("note")(note)


def _asker(yes: bool, question: str, verb: str) -> Any:
    def confirm(plans: Sequence[Plan]) -> bool:
        ids = ", ".join(p.order_id for p in plans[:5]) + (" ..." if len(plans) > 5 else "")
        return ask(
            "\n\n".join(fit(p.rows()) for p in plans),
            question,
            yes=yes,
            refusal=f"Refusing to {verb} {ids} without --yes when not on a terminal. Nothing was changed.",
        )

    return confirm


def _finish(st: AppState, records: list[dict[str, Any]] | None, fmt: str | None, done: str) -> None:
    if records is None:
        st.say("Nothing was changed.")
        return
    for record in records:
        st.say(f"{record['order_id']} is now {record['status']}{done}.")
    write_records(records, resolve_format(fmt), single=len(records) == 1, color=st.stdout_color())


def void(
    ctx: typer.Context,
    order_ids: list[str] = typer.Argument(..., help="Order ids, or - to read them from stdin."),
    reason: str = typer.Option(..., "--reason", help="Why the fee is withdrawn (kept in the history)."),
    yes: bool = YesOption,
    fmt: str | None = FormatOption,
) -> None:
    """Withdraw fees recorded by mistake or waived: status voided (neither due nor paid). Prints the records."""
    from khalti_cli.services.corrections import void as run

    fmt = check_format(fmt)
    st = state(ctx)
    ids = read_ids(order_ids)
    verb = "void" if len(ids) == 1 else f"void {len(ids)} payments:"
    records = run(st.store(), ids, reason, confirm=_asker(yes, "Void this?" if len(ids) == 1 else "Void these?", verb))
    _finish(st, records, fmt, "")


def settle(
    ctx: typer.Context,
    order_id: str = typer.Argument(..., help="The order id of a fee paid outside Khalti."),
    method: str = typer.Option(
        ...,
        "--method",
        metavar="[cash|bank|cheque|other]",
        help="cash, bank, cheque or other.",
        autocompletion=completion.methods,
    ),
    reference: str = typer.Option(..., "--reference", help="Receipt, voucher or cheque number."),
    on: str | None = typer.Option(None, "--date", help="The day the money was received, YYYY-MM-DD (default today)."),
    yes: bool = YesOption,
    fmt: str | None = FormatOption,
) -> None:
    """The whole fee was paid at the counter or the bank: status paid_offline (counts as paid)."""
    from khalti_cli.services.corrections import settle as run

    fmt = check_format(fmt)
    method = check_choice(method, "--method")
    st = state(ctx)
    records = run(
        st.store(),
        order_id,
        method=method,
        reference=reference,
        on=on,
        confirm=_asker(yes, "Record this payment?", "settle"),
    )
    _finish(st, records, fmt, " (paid outside Khalti)")


def check_choice(value: str, option: str) -> str:
    """settle --method and resolve --as are choices: anything else is a usage error (exit 2) listing the
    valid values."""
    from khalti_cli.services.corrections import METHODS, OUTCOMES

    choices = METHODS if option == "--method" else OUTCOMES
    chosen = value.strip().lower()
    if chosen not in choices:
        raise typer.BadParameter(f"{value[:30]!r} is not one of {', '.join(choices)}.", param_hint=option)
    return chosen


def resolve(
    ctx: typer.Context,
    order_id: str = typer.Argument(..., help="The order id of a payment in review."),
    outcome: str = typer.Option(
        ...,
        "--as",
        help="completed (accept it as paid) or voided (withdraw the fee).",
        autocompletion=completion.outcomes,
    ),
    reason: str = typer.Option(..., "--reason", help="Why (kept in the history)."),
    yes: bool = YesOption,
    fmt: str | None = FormatOption,
) -> None:
    """Decide a payment in review: accept it as completed (an underpayment) or void it. A later Khalti answer
    that contradicts the decision sends it back to review."""
    from khalti_cli.services.corrections import resolve as run

    outcome = check_choice(outcome, "--as")  # before the database is opened: bad input changes nothing
    fmt = check_format(fmt)
    st = state(ctx)
    records = run(
        st.store(),
        order_id,
        outcome=outcome,
        reason=reason,
        confirm=_asker(yes, "Decide it so?", "resolve"),
    )
    _finish(st, records, fmt, " by your decision")


def edit(
    ctx: typer.Context,
    order_id: str = typer.Argument(...),
    amount: str | None = typer.Option(None, "--amount", help="The new amount in rupees."),
    name: str | None = typer.Option(None, "--name", help="What the fee is for."),
    customer_name: str | None = typer.Option(None, "--customer-name", help="Empty text clears it."),
    customer_email: str | None = typer.Option(None, "--customer-email", help="Empty text clears it."),
    customer_phone: str | None = typer.Option(None, "--customer-phone", help="Empty text clears it."),
    reference: str | None = typer.Option(None, "--reference", help="Empty text clears it."),
    payer: str | None = typer.Option(None, "--payer", help="A payer's reference (khalti payers); empty clears it."),
    fmt: str | None = FormatOption,
) -> None:
    """Change a fee while no link of it can be paid (created, or every link expired, canceled or failed).
    The old values stay in the history. Prints the record."""
    from khalti_cli.services.edit import edit as run
    from khalti_cli.services.edit import edit_changes

    fmt = check_format(fmt)
    st = state(ctx)
    changes = edit_changes(
        st.store(),
        amount=amount,
        name=name,
        customer_name=customer_name,
        customer_email=customer_email,
        customer_phone=customer_phone,
        reference=reference,
        payer=payer,
    )
    if not changes:
        raise typer.BadParameter("give at least one field to change (--amount, --name, ...).", param_hint="options")
    record, changed = run(st.store(), order_id, changes)
    names = ", ".join(key.replace("_paisa", "").replace("payer_ref", "payer") for key in changed)
    st.say(for_screen(f"Changed {names} of {record['order_id']}." if changed else "Nothing was different."))
    write_records([record], resolve_format(fmt), single=True, color=st.stdout_color())


def note(
    ctx: typer.Context,
    order_id: str = typer.Argument(...),
    text: str = typer.Argument(..., metavar="TEXT", help="The note (one line)."),
) -> None:
    """Add a note to a payment's history, like 'father phoned; pays on Sunday'."""
    from khalti_cli.services.corrections import note as run

    st = state(ctx)
    record = run(st.store(), order_id, text)
    st.say(f"Noted on {record['order_id']}.")
    sys.stdout.flush()
