"""create, initiate, lookup."""

from __future__ import annotations

import itertools
import sys
from collections.abc import Iterable
from typing import Any

import typer

from khalti_cli.cli.options import MAX_SECONDS, FormatOption, check_format, read_ids
from khalti_cli.cli.state import AppState, state
from khalti_cli.errors import ExitCode, KhaltiError, worst
from khalti_cli.output import resolve_format, write_records

CREATED_VIEW = ("order_id", "customer_name", "name", "amount", "status", "reference", "payment_url", "expires_at")


def register(app: typer.Typer) -> None:
    app.command("create")(create)
    app.command("initiate")(initiate)
    app.command("lookup")(lookup)


def create(
    ctx: typer.Context,
    amount: str = typer.Option(..., "--amount", help="In rupees: 1500, 1500.50 or 1,500.50 (at least 10)."),
    name: str = typer.Option(..., "--name", help="What the fee is for, e.g. 'Grade 5 tuition, Mangsir'."),
    order_id: str | None = typer.Option(None, "--order-id", help="Your own unique id; made up if not given."),
    customer_name: str | None = typer.Option(None, "--customer-name"),
    customer_email: str | None = typer.Option(None, "--customer-email"),
    customer_phone: str | None = typer.Option(None, "--customer-phone"),
    reference: str | None = typer.Option(None, "--reference", help="Free text, e.g. a student id."),
    payer: str | None = typer.Option(
        None, "--payer", help="A payer's reference (khalti payers): their name, phone and email are copied."
    ),
    do_initiate: bool = typer.Option(False, "--initiate", help="Also make the payment link now."),
    open_browser: bool = typer.Option(False, "--open", help="With --initiate: open the link in the browser."),
    qr: bool = typer.Option(False, "--qr", help="With --initiate: draw the link as a QR code on the terminal."),
    fmt: str | None = FormatOption,
) -> None:
    """Record a payment. Prints its order id (with --initiate, its payment URL); on a terminal, the payment."""
    from khalti_cli.services import payments

    fmt = check_format(fmt)
    for flag, given in (("--open", open_browser), ("--qr", qr)):
        if given and not do_initiate:  # like import --slips: nothing to open or draw without a link
            raise typer.BadParameter(f"{flag} needs --initiate (it shows the payment link).", param_hint=flag)
    st = state(ctx)
    if do_initiate:  # check the set-up first: nothing is recorded without it, and exit 4 outranks 3
        st.settings().require_urls()
        st.settings().require_key()
    new = payments.new_payment(
        amount=amount,
        name=name,
        order_id=order_id,
        customer_name=customer_name,
        customer_email=customer_email,
        customer_phone=customer_phone,
        reference=reference,
        payer=payer,
    )
    if new.payer_ref:
        from khalti_cli.services.payers import fill_from_register

        new = fill_from_register(st.store(), new)
    record = payments.create_payment(st.store(), new)
    if not do_initiate:
        if fmt:
            write_records([record], fmt, single=True, color=st.stdout_color())
        elif st.stdout_is_terminal():  # a person: the key/value view; a pipe: just the order id
            write_records([record], "table", single=True, columns=CREATED_VIEW, color=st.stdout_color())
        else:
            _print(record["order_id"])
        return
    results = payments.initiate_many(st.store(), st.settings(), st.gateway, [record["order_id"]])
    _finish_initiate(st, results, fmt, open_browser, qr, single=True, view=fmt is None and st.stdout_is_terminal())


def initiate(
    ctx: typer.Context,
    order_ids: list[str] = typer.Argument(..., help="Order ids, or - to read them from stdin."),
    force: bool = typer.Option(False, "--force", help="Make a new link even if a live one exists."),
    open_browser: bool = typer.Option(False, "--open", help="Open each link in the browser."),
    qr: bool = typer.Option(False, "--qr", help="Draw each link as a QR code on the terminal (stderr)."),
    wait: bool = typer.Option(False, "--wait", help="Then poll Khalti until each payment is final."),
    wait_timeout: int = typer.Option(
        900, "--wait-timeout", min=1, max=MAX_SECONDS, help="Seconds --wait polls at most."
    ),
    interval: int = typer.Option(5, "--interval", min=1, max=3600, help="Seconds between polls with --wait."),
    fmt: str | None = FormatOption,
) -> None:
    """Make a payment link for each payment. Prints one URL per line, in input order."""
    from khalti_cli.services import payments

    fmt = check_format(fmt)
    st = state(ctx)
    ids = read_ids(order_ids)
    # Each URL is printed as soon as its answer is stored (in input order), not when all are in.
    results = payments.initiate_many(st.store(), st.settings(), st.gateway, ids, force=force)
    done: list[str] = []
    code = _finish_initiate(st, results, fmt, open_browser, qr, single=len(ids) == 1, exit_now=not wait, made=done)
    if wait:
        from khalti_cli.services.waiting import wait_until_final

        st.say(f"Waiting for {len(done)} payment(s) to finish (Ctrl-C to stop waiting)...")
        final = wait_until_final(
            st.store(),
            st.settings(),
            st.gateway,
            done,
            timeout_s=wait_timeout,
            interval_s=interval,
            on_status=lambda oid, status: st.say(f"{oid}: {status}"),
        )
        codes = {code}
        if any(s == "review" for s in final.values()):
            codes.add(ExitCode.REVIEW)
        if any(s in ("initiated", "pending") for s in final.values()):
            st.warn("Stopped waiting: some payments are still open. Run khalti reconcile later.")
            codes.add(ExitCode.TEMPORARY)
        raise typer.Exit(int(worst(codes)))


def _finish_initiate(
    st: AppState,
    results: Iterable[Any],
    fmt: str | None,
    open_browser: bool,
    qr: bool,
    *,
    single: bool,
    exit_now: bool = True,
    made: list[str] | None = None,
    view: bool = False,
) -> ExitCode:
    """Prints each result as it arrives (results come in input order): URLs (a pipe's contract), records
    with --format, or with `view` (a person at a terminal after create --initiate) the payment as a
    key/value view with its order id and link. `made` collects the order ids that got a link."""
    codes: set[ExitCode] = set()
    pending = iter(results)
    first = next(pending, None)  # every id is checked before the first result: an error prints nothing

    def stored() -> Any:
        for result in itertools.chain([first] if first is not None else [], pending):
            if result.error is not None:
                error: KhaltiError = result.error
                st.warn(f"Error: {result.order_id}: {error}")
                codes.add(error.exit_code)
                continue
            if made is not None and result.payment_url:
                made.append(result.order_id)
            if view:
                write_records([result.record], "table", single=True, columns=CREATED_VIEW, color=st.stdout_color())
            elif fmt is None:
                _print(result.payment_url)
            yield result.record
            if qr:
                from khalti_cli.qr import draw

                sys.stderr.write(f"{result.order_id}: scan to pay\n")
                draw(result.payment_url, sys.stderr, color=st.color)
            if open_browser:
                import webbrowser

                if not webbrowser.open(result.payment_url):
                    st.warn(f"Could not open a browser; the link is {result.payment_url}")

    if fmt is None:
        for _ in stored():
            pass
    else:  # one document for all of them: one JSON array, one header line
        write_records(stored(), fmt, single=single, color=st.stdout_color(), flush=True)
    code = worst(codes)
    if exit_now and code != ExitCode.OK:
        raise typer.Exit(int(code))
    return code


def lookup(
    ctx: typer.Context,
    ids: list[str] = typer.Argument(..., help="Order ids or pidx values, or - to read them from stdin."),
    fmt: str | None = FormatOption,
) -> None:
    """Ask Khalti now and store the answer. Prints ORDER_ID<TAB>status per id (records with --format)."""
    from khalti_cli.services import payments
    from khalti_cli.store import queries as q

    fmt = check_format(fmt)
    st = state(ctx)
    codes: set[ExitCode] = set()
    store = st.store()
    wanted = read_ids(ids)
    out_fmt = resolve_format(fmt) if fmt else None

    def records() -> Any:
        for result in payments.lookup_many(store, st.settings(), st.gateway, wanted):
            for error in result.errors:
                st.warn(f"Error: {result.order_id}: {error}")
                codes.add(error.exit_code)
                details = getattr(error, "details", None)
                if details:
                    st.log(details.rstrip())
            if any(c.went_to_review for c in result.changes):
                codes.add(ExitCode.REVIEW)
            if result.errors and not result.changes:
                continue  # Khalti gave no answer: the stored status is old news, not a result
            if out_fmt is None:
                _print(f"{result.order_id}\t{result.status}")
                continue
            from khalti_cli.services.records import payment_record

            row = q.get_payment(store, result.order_id)
            assert row is not None
            yield payment_record(row)

    if out_fmt is None:
        for _ in records():
            pass
    else:
        write_records(records(), out_fmt, single=len(wanted) == 1, color=st.stdout_color())
    code = worst(codes)
    if code != ExitCode.OK:
        raise typer.Exit(int(code))


def _print(text: str) -> None:
    sys.stdout.write(text + "\n")
    sys.stdout.flush()
