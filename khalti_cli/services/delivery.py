"""Sending planned messages: every one recorded (committed) before it goes, and never sent twice.

The calling thread is the only writer. It records all planned messages as `queued`, then hands them to
the senders a window at a time, committing `sending` for a window before its first request goes out.
SMS go through a pool of threads sharing one HTTP client (texts that are exactly the same go in one
request with a comma-separated `to`, as Sparrow SMS allows); email through one SMTP connection.

A killed run leaves `queued` messages (never handed over: the next run sends them) and `sending` ones
(the gateway may have them: the next run marks them `unknown`). A gateway that cannot be reached stops
the run (exit 75) and leaves the rest queued for the next one.
"""

from __future__ import annotations

import hashlib
import queue
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from khalti_cli.channels import NOT_SENT, REJECTED, SENT, UNKNOWN, ChannelAnswer
from khalti_cli.channels.email import Attachment, Email
from khalti_cli.clock import stamp
from khalti_cli.errors import ExitCode
from khalti_cli.store import Store
from khalti_cli.store import messages as m

SMS_BATCH = 100  # numbers in one request when the text is exactly the same


@dataclass(frozen=True)
class Outgoing:
    payment_id: int
    order_id: str
    who: str
    kind: str
    channel: str
    recipient: str
    dedupe_key: str
    text: str
    subject: str = ""
    segments: int = 0
    attachments: tuple[Attachment, ...] = ()
    reuse_id: int | None = None

    @property
    def body_sha256(self) -> str:
        return hashlib.sha256(f"{self.subject}\n{self.text}".encode()).hexdigest()


@dataclass
class Summary:
    planned: int = 0
    sent: int = 0
    failed: int = 0
    unknown: int = 0
    waiting: int = 0
    credits: int = 0
    emails: int = 0
    skipped: Counter[str] = field(default_factory=Counter)
    problems: list[str] = field(default_factory=list)
    stop: str | None = None
    stop_message: str | None = None
    recovered: int = 0

    @property
    def exit_code(self) -> ExitCode:
        if self.stop == "config":
            return ExitCode.CONFIG
        if self.problems:
            return ExitCode.INVALID
        if self.unknown or self.waiting or self.stop:
            return ExitCode.TEMPORARY
        return ExitCode.OK

    def as_json(self) -> dict[str, Any]:
        return {
            "planned": self.planned,
            "sent": self.sent,
            "failed": self.failed,
            "unknown": self.unknown,
            "waiting": self.waiting,
            "skipped": dict(sorted(self.skipped.items())),
            "sms_credits": self.credits,
            "emails": self.emails,
            "problems": len(self.problems),
        }

    def line(self) -> str:
        skipped = ", ".join(f"{k} {v}" for k, v in sorted(self.skipped.items()))
        text = (
            f"sent {self.sent}, failed {self.failed}, unknown {self.unknown}, waiting {self.waiting}, "
            f"skipped {sum(self.skipped.values())}"
        )
        return text + (f" ({skipped})" if skipped else "") + f"; SMS credits {self.credits}"


@dataclass
class Unit:
    """One request: an email, or an SMS text to one or more numbers."""

    channel: str
    ids: list[int]
    items: list[Outgoing]


Senders = dict[str, Callable[[Unit], ChannelAnswer]]


def recover(store: Store) -> int:
    """Messages a killed run had handed over without hearing back: unknown (they may have gone)."""
    rows = m.orphans(store)
    if rows:
        with store.write():
            for row in rows:
                m.mark(store, row["id"], "unknown", "the run that sent it stopped before the gateway answered")
    return len(rows)


def _row(item: Outgoing, message_id: int = 0) -> dict[str, Any]:
    return {
        "id": message_id,
        "payment_id": item.payment_id,
        "kind": item.kind,
        "channel": item.channel,
        "recipient": item.recipient,
        "dedupe_key": item.dedupe_key,
        "body_sha256": item.body_sha256,
        "segments": item.segments,
    }


def record(store: Store, items: list[Outgoing]) -> list[int]:
    """Commit every planned message as queued (with its event) before any is sent."""
    ids: list[int] = []
    for start in range(0, len(items), 1000):
        with store.write():
            at = stamp()
            chunk = [_row(item) for item in items[start : start + 1000]]
            for item, row in zip(items[start : start + 1000], chunk, strict=True):
                row["id"] = m.plan(store, row, reuse_id=item.reuse_id, at=at)
                ids.append(row["id"])
            m.add_events(store, [(row, "queued", None) for row in chunk], at=at)
    return ids


def units(items: list[Outgoing], ids: list[int]) -> list[Unit]:
    out: list[Unit] = []
    open_sms: dict[str, Unit] = {}
    for item, message_id in zip(items, ids, strict=True):
        if item.channel == "sms":
            unit = open_sms.get(item.text)
            if unit is None or len(unit.ids) >= SMS_BATCH or item.recipient in (i.recipient for i in unit.items):
                unit = open_sms[item.text] = Unit("sms", [], [])
                out.append(unit)
            unit.ids.append(message_id)
            unit.items.append(item)
        else:
            out.append(Unit(item.channel, [message_id], [item]))
    return out


def sms_sender(client: Any) -> Callable[[Unit], ChannelAnswer]:
    def send(unit: Unit) -> ChannelAnswer:
        return client.send([i.recipient for i in unit.items], unit.items[0].text)  # type: ignore[no-any-return]

    return send


def email_sender(mailer: Any) -> Callable[[Unit], ChannelAnswer]:
    def send(unit: Unit) -> ChannelAnswer:
        item, message_id = unit.items[0], unit.ids[0]
        email = Email(
            item.recipient,
            item.subject,
            item.text,
            f"<khalti-message-{message_id}-{item.body_sha256[:16]}@khalti>",
            item.attachments,
        )
        return mailer.send(email)  # type: ignore[no-any-return]

    return send


STOP_WORDS = {
    "config": "The {channel} gateway refused this account: {answer}. Check the settings (README, Messages to parents).",
    "credits": "The SMS gateway has no credits left: {answer}. Top up the Sparrow SMS account.",
    "outage": "The {channel} gateway could not be reached or is unavailable: {answer}.",
}


def deliver(
    store: Store,
    items: list[Outgoing],
    senders: Senders,
    summary: Summary,
    *,
    concurrency: int = 16,
    on_done: Callable[[Outgoing, str, str], None] | None = None,
) -> None:
    """Record, then send; fills `summary`. `senders` maps a channel to the function that sends a unit."""
    ids = record(store, items)
    summary.planned += len(items)
    todo = units(items, ids)
    pools = {
        "sms": ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="khalti-sms"),
        "email": ThreadPoolExecutor(max_workers=1, thread_name_prefix="khalti-email"),
    }
    # Units handed over (`sending`) but not yet in a request: a few beyond the senders, so that no sender
    # waits for the writer's commit; a crash makes at most these few unknown without their having gone.
    limits = {"sms": concurrency + max(2, concurrency // 4), "email": 2}
    answers: queue.Queue[tuple[Unit, ChannelAnswer]] = queue.Queue()
    in_flight: Counter[str] = Counter()
    stopped: set[str] = set()
    waiting = iter(todo)
    pending: Unit | None = None

    def run(unit: Unit) -> None:
        try:
            answer = senders[unit.channel](unit)
        except Exception as exc:  # a bug in a sender must not leave the message looking unsent
            answer = ChannelAnswer(UNKNOWN, f"khalti failed while sending ({exc.__class__.__name__})")
        answers.put((unit, answer))

    def next_units() -> Iterator[Unit]:
        nonlocal pending
        held: list[Unit] = []
        while True:
            unit = pending if pending is not None else next(waiting, None)
            pending = None
            if unit is None:
                break
            if unit.channel in stopped:
                summary.waiting += len(unit.ids)
                continue
            if in_flight[unit.channel] + sum(1 for h in held if h.channel == unit.channel) >= limits[unit.channel]:
                pending = unit
                break
            held.append(unit)
        yield from held

    done: list[tuple[Unit, ChannelAnswer]] = []
    try:
        while True:
            # One transaction a round: the answers that came in, and the next units handed over.
            for unit, _answer in done:
                in_flight[unit.channel] -= 1
            with store.write():
                changes: list[m.Change] = []
                for unit, answer in done:
                    changes.extend(_settle(unit, answer, summary, stopped))
                batch = list(next_units())  # after the answers: a channel that stopped gets no more
                # handed over: from here a crash makes them unknown, never resent
                changes.extend(
                    (_row(i, n), "sending", None) for u in batch for i, n in zip(u.items, u.ids, strict=True)
                )
                m.mark_many(store, changes)
            if on_done is not None:
                for unit, answer in done:
                    for item in unit.items:
                        on_done(item, answer.outcome, answer.answer)
            for unit in batch:
                in_flight[unit.channel] += 1
                pools[unit.channel].submit(run, unit)
            if not +in_flight:
                break
            done = [answers.get()]
            while True:
                try:
                    done.append(answers.get_nowait())
                except queue.Empty:
                    break
    finally:
        for pool in pools.values():
            pool.shutdown(wait=True)
    if pending is not None:
        summary.waiting += len(pending.ids)
    for unit in waiting:
        summary.waiting += len(unit.ids)


def _settle(unit: Unit, answer: ChannelAnswer, summary: Summary, stopped: set[str]) -> list[m.Change]:
    n = len(unit.ids)
    if answer.outcome == SENT:
        state = "sent"
        summary.sent += n
        if unit.channel == "sms":
            summary.credits += sum(i.segments for i in unit.items)
        else:
            summary.emails += n
    elif answer.outcome == REJECTED:
        state = "failed"
        summary.failed += n
        for item in unit.items:
            summary.problems.append(
                f"{item.who}: the {item.channel} gateway refused the message to {item.recipient}: {answer.answer}"
            )
    elif answer.outcome == NOT_SENT:
        state = "queued"
        summary.waiting += n
    else:
        state = "unknown"
        summary.unknown += n
    pairs = zip(unit.items, unit.ids, strict=True)
    changes: list[m.Change] = [(_row(item, message_id), state, answer.answer) for item, message_id in pairs]
    if answer.stop and unit.channel not in stopped:
        stopped.add(unit.channel)
        if summary.stop != "config":
            summary.stop = answer.stop
            summary.stop_message = STOP_WORDS[answer.stop].format(channel=unit.channel, answer=answer.answer[:200])
    return changes
