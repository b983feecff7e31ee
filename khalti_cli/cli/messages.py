"""notify, remind, messages: fee messages, reminders and thank-yous to parents by SMS and email."""

from __future__ import annotations

import sys
from typing import Any

import typer

from khalti_cli.cli.options import (
    SUMMARY_FORMATS,
    FormatOption,
    check_format,
    format_option,
    parse_duration,
    read_ids,
)
from khalti_cli.cli.state import AppState, state
from khalti_cli.output import resolve_format, write_records, write_summary

Via: Any = typer.Option("both", "--via", help="sms, email or both (both: every channel the payer has).")
Lang: Any = typer.Option("ne", "--lang", help="Language of the default SMS text: ne (Nepali) or en. Email has both.")
TemplateOpt: Any = typer.Option(None, "--template", metavar="FILE", help="Your own text, with {placeholders}.")
DryRun: Any = typer.Option(False, "--dry-run", help="Print each message, its SMS parts and the credits; send nothing.")
Concurrency: Any = typer.Option(16, "--concurrency", min=1, max=64, help="SMS requests in flight at once.")
SummaryFormat: Any = format_option(SUMMARY_FORMATS, "The run's summary as table, json, tsv or csv (default: one line).")
QuietHours: Any = typer.Option(
    None, "--quiet-hours", help="Send nothing between these Nepal times (default 20:00-07:00; 'off')."
)


def register(app: typer.Typer) -> None:
    app.command("notify")(notify)
    app.command("remind")(remind)
    app.command("messages")(messages)


def notify(
    ctx: typer.Context,
    order_ids: list[str] = typer.Argument(
        None, metavar="[ORDER_ID]...", help="Payments to send the fee message of; - reads stdin."
    ),
    paid: bool = typer.Option(
        False, "--paid", help="Instead: a thank-you with the receipt for every payment newly paid."
    ),
    since: str = typer.Option("7d", "--since", help="With --paid: paid within this long (7d)."),
    again: bool = typer.Option(False, "--again", help="Send the fee message again even if it was sent before."),
    via: str = Via,
    lang: str = Lang,
    template: str | None = TemplateOpt,
    dry_run: bool = DryRun,
    concurrency: int = Concurrency,
    quiet_hours: str | None = QuietHours,
    fmt: str | None = SummaryFormat,
) -> None:
    """Send each payment's fee message (school, payer, fee, amount, due date, pay link) to the payer;
    with --paid, a thank-you with the receipt to every payer whose payment was newly paid."""
    from khalti_cli.services import notify as svc

    if paid and order_ids:
        raise typer.BadParameter("give order ids or --paid, not both.", param_hint="--paid")
    req = _request(ctx, "thanks" if paid else "fee", via, lang, template, dry_run, concurrency, again=again)
    ids = [] if paid else read_ids(order_ids or [])  # after --via and --lang: a wrong one is named first
    since_s = parse_duration(since, "--since") or 0

    def choose(store: Any) -> list[dict[str, Any]]:
        if paid:
            return svc.choose_newly_paid(store, since_s, req.moment)
        return svc.choose_by_order_ids(store, ids)

    _run(ctx, req, choose, quiet_hours, fmt)


def remind(
    ctx: typer.Context,
    group: str | None = typer.Option(None, "--group", "--class", help="Only payers of this class or group."),
    month: str | None = typer.Option(None, "--month", help="Only fees of this month (BS YYYY-MM, from khalti bill)."),
    payer: str | None = typer.Option(None, "--payer", help="Only this payer (reference)."),
    every: str = typer.Option("3d", "--every", help="At most one reminder per payment this often (3d)."),
    via: str = Via,
    lang: str = Lang,
    template: str | None = TemplateOpt,
    dry_run: bool = DryRun,
    concurrency: int = Concurrency,
    quiet_hours: str | None = QuietHours,
    fmt: str | None = SummaryFormat,
) -> None:
    """Remind the payer of every unpaid fee, at most once every --every per payment, never in quiet
    hours, never by a channel the payer opted out of. Made for cron (-q)."""
    from khalti_cli.services import notify as svc

    req = _request(ctx, "reminder", via, lang, template, dry_run, concurrency)
    req.every_s = parse_duration(every, "--every")
    _run(ctx, req, lambda store: svc.choose_unpaid(store, group=group, payer=payer, month=month), quiet_hours, fmt)


def _request(
    ctx: typer.Context,
    kind: str,
    via: str,
    lang: str,
    template: str | None,
    dry_run: bool,
    concurrency: int,
    *,
    again: bool = False,
) -> Any:
    from khalti_cli.services.notify import VIA, Request

    if via.lower() not in VIA:
        raise typer.BadParameter(f"{via!r} is not sms, email or both.", param_hint="--via")
    if lang.lower() not in ("ne", "en"):
        raise typer.BadParameter(f"{lang!r} is not ne or en.", param_hint="--lang")
    return Request(
        kind=kind,
        via=VIA[via.lower()],
        lang=lang.lower(),
        template=template,
        again=again,
        concurrency=concurrency,
        dry_run=dry_run,
    )


def _run(ctx: typer.Context, req: Any, choose: Any, quiet_hours: str | None, fmt: str | None) -> None:
    from khalti_cli.lock import messages_lock
    from khalti_cli.services import notify as svc

    fmt = check_format(fmt, SUMMARY_FORMATS)
    st = state(ctx)
    settings = st.settings()
    svc.texts(req)  # every placeholder checked before anything else
    window = svc.quiet_window(quiet_hours or settings.messaging.quiet_hours)
    summary = svc.Summary()
    if req.dry_run:
        store = st.store()
        items = svc.plan(store, settings, choose(store), req, summary)
        credits = _print_dry(items, summary, svc.in_quiet_hours(req.moment, window))
        if credits and settings.messaging.sms_token is not None:
            st.say(svc.credit_note(settings, credits))
        _problems(st, summary)
        raise typer.Exit(3 if summary.problems else 0)
    if svc.in_quiet_hours(req.moment, window):
        st.say(
            "Quiet hours in Nepal (--quiet-hours, default 20:00-07:00): nothing sent. The next run after them sends."
        )
        raise typer.Exit(0)
    store = st.store()
    with messages_lock(settings.db_path):
        summary.recovered = svc.recover(store)
        planned = svc.plan_lazy(store, settings, choose(store), req, summary)
        svc.send(store, settings, planned, req, summary, log=st.log if st.verbose else None)
    _report(st, summary, fmt)


def _problems(st: AppState, summary: Any) -> None:
    for problem in summary.problems[:50]:
        st.warn(f"Error: {problem}")
    if len(summary.problems) > 50:
        st.warn(f"... and {len(summary.problems) - 50} more.")


def _report(st: AppState, summary: Any, fmt: str | None) -> None:
    _problems(st, summary)
    if summary.recovered:
        st.warn(
            f"{summary.recovered} message(s) of an interrupted run may or may not have gone: marked unknown, "
            "not sent again. See: khalti messages --state unknown"
        )
    if summary.stop_message:
        st.warn(f"Error: {summary.stop_message} {summary.waiting} message(s) wait for the next run.")
    elif summary.waiting:
        st.warn(f"{summary.waiting} message(s) were not sent and wait for the next run.")
    if summary.unknown:
        st.warn(
            f"{summary.unknown} message(s) got no clear answer and may have gone: not sent again by themselves. "
            "See: khalti messages --state unknown"
        )
    code = summary.exit_code
    write_summary(summary.as_json(), fmt, None if st.quiet and code == 0 else summary.line())
    raise typer.Exit(int(code))


def _print_dry(items: list[Any], summary: Any, quiet_now: bool) -> int:
    """Prints each message and the totals; returns the SMS credits the run would use."""
    from khalti_cli.smsparts import count

    out = sys.stdout
    credits = 0
    emails = 0
    for item in items:
        if item.channel == "sms":
            parts = count(item.text)
            credits += parts.segments
            out.write(
                f"[{item.kind}] SMS to {item.recipient}, {item.who}: {parts.segments} SMS "
                f"({parts.encoding}, {len(item.text)} characters)\n"
            )
        else:
            emails += 1
            out.write(f"[{item.kind}] email to {item.recipient}, {item.who}: {item.subject}\n")
        for line in item.text.splitlines():
            out.write(f"    {line}\n")
    sms = sum(1 for i in items if i.channel == "sms")
    skipped = sum(summary.skipped.values())
    out.write(
        f"(dry run) would send {sms} SMS using {credits} credit(s) and {emails} email(s); skipped {skipped}"
        + (" (quiet hours now: a real run would send nothing)" if quiet_now else "")
        + ".\n"
    )
    return credits


def messages(
    ctx: typer.Context,
    order_id: str | None = typer.Argument(None, help="Only this payment's messages."),
    states: list[str] = typer.Option([], "--state", help="queued, sending, sent, failed or unknown (repeatable)."),
    fmt: str | None = FormatOption,
) -> None:
    """Every message sent (or tried) to parents, oldest first, with its outcome."""
    from khalti_cli.store.messages import list_messages

    bad = [s for s in states if s not in ("queued", "sending", "sent", "failed", "unknown")]
    if bad:
        raise typer.BadParameter(f"{bad[0]!r} is not queued, sending, sent, failed or unknown.", param_hint="--state")
    fmt = resolve_format(check_format(fmt))
    st = state(ctx)
    write_records(list(list_messages(st.store(), states=states, order_id=order_id)), fmt, color=st.stdout_color())
