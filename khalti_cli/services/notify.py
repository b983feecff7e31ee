"""notify, notify --paid and remind: choose the payments, write each message, send them (delivery.py).

Rules: a payer who opted out of a channel gets nothing by it; a payer with no phone/email for the
channel asked, a phone that is not a Nepali mobile number, or an SMS longer than MAX_SEGMENTS is named
(a problem: exit 3) and nothing is sent for that one while the rest go. Nothing at all is sent in quiet
hours. A reminder goes at most once every `every_s` seconds per payment.
"""

from __future__ import annotations

import dataclasses
import secrets
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from typing import Any

from khalti_cli.channels import ChannelAnswer
from khalti_cli.clock import now as utc_now
from khalti_cli.clock import parse, stamp
from khalti_cli.config import Settings
from khalti_cli.errors import InvalidInput, NotFound
from khalti_cli.services import validate
from khalti_cli.services.delivery import (
    Outgoing,
    SenderFactory,
    Summary,
    Unit,
    deliver,
    email_sender,
    recover,
    sms_sender,
)
from khalti_cli.services.message_text import NEPAL, Template, load_template, nepali_mobile, values_for
from khalti_cli.smsparts import count
from khalti_cli.store import Store
from khalti_cli.store import messages as m

MAX_SEGMENTS = 6  # Sparrow SMS documents no limit; a text of more parts than this is refused here
VIA = {"sms": ("sms",), "email": ("email",), "both": ("sms", "email")}
DEFAULT_QUIET = "20:00-07:00"


@dataclass
class Request:
    kind: str  # fee | reminder | thanks
    via: tuple[str, ...] = ("sms", "email")
    lang: str = "ne"
    template: str | None = None  # a file
    again: bool = False
    every_s: int | None = None
    concurrency: int = 16
    dry_run: bool = False
    moment: datetime = field(default_factory=utc_now)


@dataclass(frozen=True)
class Texts:
    sms: Template
    email: list[Template]  # Nepali then English (or the one file)


def texts(req: Request) -> Texts:
    """The templates, every placeholder checked, before anything is chosen or sent."""
    if req.template:
        one = load_template(req.kind, req.lang, req.template)
        return Texts(one, [one])
    return Texts(
        load_template(req.kind, req.lang, None), [load_template(req.kind, lang, None) for lang in ("ne", "en")]
    )


def quiet_window(spec: str | None) -> tuple[time, time] | None:
    """`20:00-07:00` (Nepal time) or `off`."""
    text = (spec or DEFAULT_QUIET).strip().lower()
    if text in ("off", "none", "0"):
        return None
    try:
        start, end = (datetime.strptime(part.strip(), "%H:%M").time() for part in text.split("-"))
    except ValueError:
        raise InvalidInput(f"Quiet hours {spec!r} are not like 20:00-07:00 (Nepal time) or off.") from None
    return start, end


def in_quiet_hours(moment: datetime, window: tuple[time, time] | None) -> bool:
    if window is None:
        return False
    start, end = window
    local = moment.astimezone(NEPAL).time()
    return start <= local < end if start <= end else (local >= start or local < end)


def choose_by_order_ids(store: Store, order_ids: list[str]) -> list[dict[str, Any]]:
    wanted = [validate.order_id(o) for o in order_ids]
    found = m.candidates_by_order_ids(store, wanted)
    missing = [o for o in wanted if o not in found]
    if missing:
        raise NotFound(
            f"No payment has order id {missing[0]!r}"
            + (f" (and {len(missing) - 1} more)" if len(missing) > 1 else "")
            + ". Nothing was sent."
        )
    return [found[o] for o in dict.fromkeys(wanted)]


def choose_unpaid(store: Store, *, group: str | None, payer: str | None, month: str | None) -> list[dict[str, Any]]:
    """Unpaid fees; `month` (any form `khalti bill --month` takes) keeps those billed for that BS month."""
    period = None
    if month is not None:
        from khalti_cli.calendar import parse_month, period_key

        period = period_key(*parse_month(month))
    return list(m.unpaid(store, group=group, payer=payer, period=period))


def choose_newly_paid(store: Store, since_s: int, moment: datetime) -> list[dict[str, Any]]:
    return list(m.newly_paid(store, stamp(moment - timedelta(seconds=since_s))))


def plan(
    store: Store, settings: Settings, rows: Iterable[dict[str, Any]], req: Request, summary: Summary
) -> list[Outgoing]:
    return list(plan_lazy(store, settings, rows, req, summary))


def plan_lazy(
    store: Store, settings: Settings, rows: Iterable[dict[str, Any]], req: Request, summary: Summary
) -> Iterator[Outgoing]:
    """The messages to send, written as they are asked for (so the first go out while the rest are
    written). The templates are checked, and the ledger read, before the first is given."""
    words = texts(req)
    school = settings.school_name
    chosen = list(rows)
    if req.kind != "thanks":
        with_pay_urls(store, chosen, dry_run=req.dry_run)
    ledger = m.ledger_of(store, req.kind, [int(r["id"]) for r in chosen])
    return _planned(chosen, ledger, req, words, school, summary)


def with_pay_urls(store: Store, rows: list[dict[str, Any]], *, dry_run: bool) -> None:
    """With KHALTI_PUBLIC_URL set, every payable fee's message carries its durable pay_url: the payments
    without a pay-page token get one now (as `khalti slips` does). A dry run stores nothing: its texts
    carry a stand-in token of the same length, so the SMS parts are counted right."""
    from khalti_cli.services.paylink import PAYABLE, ensure_tokens
    from khalti_cli.services.records import pay_url_of, public_url
    from khalti_cli.store.queries import PAY_TOKEN_BYTES

    if public_url() is None:
        return
    payable = [r for r in rows if r["status"] in PAYABLE]
    missing = [int(r["id"]) for r in payable if not r.get("pay_token")]
    tokens: dict[int, str] = {}
    if missing and not dry_run:
        ensure_tokens(store, missing)
        tokens = m.pay_tokens(store, missing)
    stand_in = "x" * len(secrets.token_urlsafe(PAY_TOKEN_BYTES))
    for row in payable:
        row["pay_token"] = row.get("pay_token") or tokens.get(int(row["id"]))
        row["pay_url"] = pay_url_of(row["pay_token"] or stand_in)


def _planned(
    chosen: list[dict[str, Any]],
    ledger: dict[int, list[dict[str, Any]]],
    req: Request,
    words: Texts,
    school: str,
    summary: Summary,
) -> Iterator[Outgoing]:
    for row in chosen:
        past = ledger.get(int(row["id"]), [])
        if req.kind == "reminder" and req.every_s and _recent(past, req):
            summary.skipped["reminded recently"] += 1
            continue
        yield from _for_payment(past, row, req, words, school, summary)


def _recent(past: list[dict[str, Any]], req: Request) -> bool:
    """A reminder of this payment went (or may have gone) within the last `every_s`."""
    moments = [parse(str(r["sent_at"] or r["updated_at"])) for r in past if r["state"] in m.LEFT]
    return bool(moments) and req.moment - max(moments) < timedelta(seconds=req.every_s or 0)


def _for_payment(
    past: list[dict[str, Any]], row: dict[str, Any], req: Request, words: Texts, school: str, summary: Summary
) -> list[Outgoing]:
    who = f"{row['order_id']} ({row.get('payer_name') or row.get('payer_ref') or 'no payer'})"
    receipt_no, receipt = None, None
    if req.kind == "thanks":
        from khalti_cli.services.message_parts import receipt_part

        receipt_no, receipt = receipt_part(row, school)
    values = values_for(row, school, receipt_no)
    if req.kind != "thanks" and not values["pay_url"]:
        if req.kind == "reminder":  # cron: counted, not an error on every run
            summary.skipped["no live link"] += 1
        else:
            summary.problems.append(
                f"{who}: the payment has no live payment link to send; nothing sent. "
                f"Make one with: khalti initiate {row['order_id']}"
            )
        return []
    out: list[Outgoing] = []
    reachable = [c for c in req.via if row.get(f"to_{'phone' if c == 'sms' else 'email'}")]
    for channel in req.via:
        if row.get(f"no_{channel}"):
            summary.skipped[f"opted out of {channel}"] += 1
            continue
        address = row.get("to_phone" if channel == "sms" else "to_email")
        if not address:
            if len(req.via) == 1 or not reachable:
                thing = {"sms": "phone", "email": "email"}[channel] if len(req.via) == 1 else "phone or email"
                option = (
                    "--phone NUMBER"
                    if thing == "phone"
                    else "--email ADDRESS"
                    if thing == "email"
                    else "--phone/--email"
                )
                ref = row.get("payer_ref") or "REF"
                problem = (
                    f"{who}: the payer has no {thing}; nothing sent. Add it with: khalti payers update {ref} {option}"
                )
                if problem not in summary.problems:
                    summary.problems.append(problem)
            else:
                summary.skipped[f"no {'phone' if channel == 'sms' else 'email'}"] += 1
            continue
        try:
            item = _message(past, row, req, words, values, channel, str(address), who)
        except InvalidInput as exc:
            summary.problems.append(str(exc))
            continue
        if item is None:
            summary.skipped["already sent"] += 1
            continue
        if channel == "email":
            if receipt is not None:
                item = dataclasses.replace(item, attachments=(receipt,))
            elif not req.dry_run:
                item = dataclasses.replace(item, attach=_slip(row, school))
        out.append(item)
    return out


def _slip(row: dict[str, Any], school: str) -> Callable[[], tuple[Any, ...]]:
    """The fee slip, drawn by the email sender just before the email goes (never all held at once)."""

    def draw() -> tuple[Any, ...]:
        from khalti_cli.services.message_parts import slip_part

        slip = slip_part(row, school)
        return (slip,) if slip is not None else ()

    return draw


def _message(
    past: list[dict[str, Any]],
    row: dict[str, Any],
    req: Request,
    words: Texts,
    values: dict[str, str],
    channel: str,
    address: str,
    who: str,
) -> Outgoing | None:
    if channel == "sms":
        recipient = nepali_mobile(address, who)
        text = words.sms.render(values)
        segments = count(text).segments
        if segments > MAX_SEGMENTS:
            raise InvalidInput(
                f"{who}: the SMS would take {segments} parts ({len(text)} characters); khalti sends at most "
                f"{MAX_SEGMENTS}. Shorten the template (--template FILE) or send it by email."
            )
        subject = ""
    else:
        recipient = validate.email(address) or address
        text = "\n\n".join(t.render(values) for t in words.email)
        subject = words.email[-1].render_subject(values)
        segments = 0
    n = 1
    if req.kind == "reminder" or req.again:
        n = sum(1 for r in past if r["channel"] == channel and r["state"] in m.LEFT) + 1
    key = f"{req.kind}:{row['id']}:{channel}:{n}"
    existing = next((r for r in past if r["dedupe_key"] == key), None)
    if existing is not None and existing["state"] in m.LEFT:
        return None
    return Outgoing(
        payment_id=row["id"],
        order_id=row["order_id"],
        who=who,
        kind=req.kind,
        channel=channel,
        recipient=recipient,
        dedupe_key=key,
        text=text,
        subject=subject,
        segments=segments,
        reuse_id=existing["id"] if existing is not None else None,
    )


def credit_note(settings: Settings, needed: int) -> str:
    """One sentence on the Sparrow SMS account's credits against what a run needs (for --dry-run)."""
    from khalti_cli.channels.sms import SparrowClient
    from khalti_cli.errors import KhaltiError

    try:
        root, token, sender = settings.messaging.require_sms()
        with SparrowClient(root, token, sender, timeout_ms=settings.timeout_ms, pool=1) as client:
            available = client.credit()["credits_available"]
    except KhaltiError as exc:
        return f"Could not read the SMS credits: {exc}"
    if available < needed:
        return f"The SMS account has {available} credit(s), fewer than the {needed} this run needs: top it up first."
    return f"The SMS account has {available} credit(s); this run needs {needed}."


def factories(settings: Settings, req: Request, log: Callable[[str], None] | None) -> dict[str, SenderFactory]:
    """How to make each channel's sender; the settings are checked only when a channel is first used."""

    def sms() -> tuple[Callable[[Unit], ChannelAnswer], Callable[[], None]]:
        from khalti_cli.channels.sms import SparrowClient

        root, token, sender = settings.messaging.require_sms()
        client = SparrowClient(root, token, sender, timeout_ms=settings.timeout_ms, pool=req.concurrency, log=log)
        return sms_sender(client), client.close

    def email() -> tuple[Callable[[Unit], ChannelAnswer], Callable[[], None]]:
        from khalti_cli.channels.email import SmtpMailer, parse_smtp_url

        url, password = settings.messaging.require_smtp()
        target = parse_smtp_url(url, settings.messaging.smtp_from)
        mailer = SmtpMailer(target, password, sender_name=settings.school_name, timeout_ms=settings.timeout_ms, log=log)
        return email_sender(mailer), mailer.close

    return {"sms": sms, "email": email}


def send(
    store: Store,
    settings: Settings,
    items: Iterable[Outgoing],
    req: Request,
    summary: Summary,
    *,
    log: Callable[[str], None] | None = None,
) -> None:
    """Plan (lazily: `items` may be plan_lazy's generator), record and send."""
    deliver(store, items, factories(settings, req, log), summary, concurrency=req.concurrency)


__all__ = [
    "Request",
    "Summary",
    "choose_by_order_ids",
    "choose_newly_paid",
    "choose_unpaid",
    "in_quiet_hours",
    "plan",
    "quiet_window",
    "recover",
    "send",
]
