"""refund: ask on a terminal, refuse without --yes elsewhere, print the record."""

from __future__ import annotations

from typing import TYPE_CHECKING, cast

import typer

from khalti_cli.cli.asking import confirm as ask
from khalti_cli.cli.asking import fit
from khalti_cli.cli.options import FormatOption, check_format
from khalti_cli.cli.state import state
from khalti_cli.errors import ExitCode
from khalti_cli.money import format_rupees
from khalti_cli.output import resolve_format, write_records

if TYPE_CHECKING:
    from khalti_cli.services.refund import RefundPlan


def register(app: typer.Typer) -> None:
    app.command("refund")(refund)


def refund(
    ctx: typer.Context,
    order_id: str = typer.Argument(..., help="The order id of a completed payment."),
    amount: str | None = typer.Option(
        None, "--amount", help="Refund only this much, in rupees (default: all that is left)."
    ),
    mobile: str | None = typer.Option(
        None, "--mobile", help="The payer's Khalti-registered mobile number (needed for bank payments)."
    ),
    pidx: str | None = typer.Option(
        None, "--pidx", help="Refund this one paid link (e.g. the second of a double payment), in any status."
    ),
    yes: bool = typer.Option(False, "--yes", "-y", help="Do not ask; required when not on a terminal."),
    fmt: str | None = FormatOption,
) -> None:
    """Refund a completed payment in full, or in part with --amount; or one paid link of it with --pidx.
    Prints the payment record."""
    from khalti_cli.services.refund import RefundGateway
    from khalti_cli.services.refund import refund as run

    fmt = check_format(fmt)
    st = state(ctx)

    def confirm(plan: RefundPlan) -> bool:
        return ask(
            describe(plan),
            "Send this refund to Khalti?",
            yes=yes,
            refusal=f"Refusing to refund payment {plan.order_id} without --yes when not on a terminal. "
            "Nothing was sent.",
        )

    def gateway() -> RefundGateway:
        return cast(RefundGateway, st.gateway())  # the KhaltiClient: initiate, lookup and refund

    result = run(st.store(), st.settings(), gateway, order_id, amount=amount, mobile=mobile, confirm=confirm, pidx=pidx)
    if result.declined:
        st.say("Nothing was refunded.")
        return
    if result.earlier_applied:
        st.say(
            f"An earlier refund of {result.record['order_id']} that got no answer was made after all; "
            "nothing more was sent."
        )
    elif result.went_to_review:
        st.warn(f"Payment {result.record['order_id']} needs a person to look: {result.record['review_reason']}")
    else:
        st.say(f"Refunded. {result.record['order_id']} is now {result.record['status']}.")
    write_records([result.record], resolve_format(fmt), single=True, color=st.stdout_color())
    if result.went_to_review:
        raise typer.Exit(int(ExitCode.REVIEW))


def describe(plan: RefundPlan) -> str:
    """The confirmation text: who paid, how much, what goes back."""
    paid = format_rupees(plan.paid_paisa)
    if plan.whole and plan.refunded_before == 0:
        what = [f"the whole {paid}"]
    elif plan.whole:
        what = [
            f"all that is left, {format_rupees(plan.amount_paisa)}",
            f"(of {paid} paid; {format_rupees(plan.refunded_before)} refunded already)",
        ]
    else:
        what = [f"{format_rupees(plan.amount_paisa)} of {paid} paid,", f"leaving {format_rupees(plan.remaining_after)}"]
    rows: list[tuple[str, list[str]]] = [
        ("Payment:", [plan.order_id, plan.name]),
        ("Payer:", [plan.payer or "(no name recorded)"]),
        (
            "Paid:",
            [f"{paid} ({plan.status})", f"Khalti transaction {plan.transaction_id}"]
            + ([f"on link {plan.pidx}"] if plan.by_link else []),
        ),
        ("Refund:", what),
    ]
    if plan.mobile:
        rows.append(("To:", [f"Khalti mobile {plan.mobile} (bank payment)"]))
    return fit(rows)
