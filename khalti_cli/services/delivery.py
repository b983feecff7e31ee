"""Sending planned messages: every one recorded (committed) before it goes, and never sent twice.

The calling thread is the only writer. In rounds of one transaction each, it stores the answers that came
in, records the next planned messages as `queued` (a chunk at a time, ahead of the senders, so the first
go out while the rest are still being written), and commits `sending` for the units it then hands over.
SMS go through a pool of threads sharing one HTTP client (texts that are exactly the same go in one
request with a comma-separated `to`, as Sparrow SMS allows); email through one SMTP connection.

A killed run leaves `queued` messages (never handed over: the next run sends them) and `sending` ones
(the gateway may have them: the next run marks them `unknown`). A gateway that cannot be reached stops
the run (exit 75) and leaves the rest queued for the next one.
"""

from __future__ import annotations

import hashlib
import queue
import time
from collections import Counter, deque
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from itertools import islice
from typing import Any

from khalti_cli.channels import NOT_SENT, REJECTED, SENT, UNKNOWN, ChannelAnswer
from khalti_cli.channels.email import Attachment, Email
from khalti_cli.clock import stamp
from khalti_cli.errors import ConfigError, ExitCode
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
    attach: Callable[[], tuple[Attachment, ...]] | None = None  # more, made by the sender when it sends
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
    """Record planned messages as queued, each with its event (inside the caller's transaction)."""
    at = stamp()
    rows = [_row(item) for item in items]
    for item, row in zip(items, rows, strict=True):
        row["id"] = m.plan(store, row, reuse_id=item.reuse_id, at=at)
    m.add_events(store, [(row, "queued", None) for row in rows], at=at)
    return [row["id"] for row in rows]


def units(items: list[Outgoing], ids: list[int]) -> list[Unit]:
    """One unit an email; SMS with exactly the same text share a unit (up to SMS_BATCH numbers, each once)."""
    out: list[Unit] = []
    open_sms: dict[str, tuple[Unit, set[str]]] = {}
    for item, message_id in zip(items, ids, strict=True):
        if item.channel != "sms":
            out.append(Unit(item.channel, [message_id], [item]))
            continue
        unit, numbers = open_sms.get(item.text) or (None, set())
        if unit is None or len(unit.ids) >= SMS_BATCH or item.recipient in numbers:
            unit, numbers = Unit("sms", [], []), set()
            open_sms[item.text] = (unit, numbers)
            out.append(unit)
        unit.ids.append(message_id)
        unit.items.append(item)
        numbers.add(item.recipient)
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
            item.attachments + (item.attach() if item.attach is not None else ()),
        )
        return mailer.send(email)  # type: ignore[no-any-return]

    return send


STOP_WORDS = {
    "config": "The {channel} gateway refused this account: {answer}. Check the settings (README, Messages to parents).",
    "credits": "The SMS gateway has no credits left: {answer}. Top up the Sparrow SMS account.",
    "outage": "The {channel} gateway could not be reached or is unavailable: {answer}.",
}


SenderFactory = Callable[[], tuple[Callable[[Unit], ChannelAnswer], Callable[[], None]]]
CHUNK = 500  # messages planned and recorded at a time, ahead of the senders
MAX_AHEAD = 20_000  # at most this many recorded and waiting for a sender (a slow channel's queue)


class _Work:
    """The units to send, a queue per channel, planned and recorded a chunk at a time as the senders
    need them (so a slow channel never holds up a fast one)."""

    def __init__(self, store: Store, items: Iterable[Outgoing], summary: Summary) -> None:
        self.store, self.source, self.summary = store, iter(items), summary
        self.todo: dict[str, deque[Unit]] = {}
        self.exhausted = False

    def refill(self, wanted: dict[str, int], stopped: set[str]) -> None:
        """Plan and record more (inside the caller's transaction) while a channel that has messages and
        has not stopped has fewer than `wanted[channel]` units waiting, up to MAX_AHEAD messages."""

        def short() -> bool:
            return any(len(q) < wanted[c] for c, q in self.todo.items() if c not in stopped) or not self.todo

        while not self.exhausted and short() and self.left() < MAX_AHEAD:
            chunk = list(islice(self.source, CHUNK))
            if not chunk:
                self.exhausted = True
                break
            self.summary.planned += len(chunk)
            for unit in units(chunk, record(self.store, chunk)):
                self.todo.setdefault(unit.channel, deque()).append(unit)

    def left(self) -> int:
        """Recorded but not handed over: if the run ends now, they wait, queued, for the next run."""
        return sum(len(u.ids) for q in self.todo.values() for u in q)


def deliver(
    store: Store,
    items: Iterable[Outgoing],
    factories: dict[str, SenderFactory],
    summary: Summary,
    *,
    concurrency: int = 16,
) -> None:
    """Plan, record, then send; fills `summary`. `factories` make a channel's sender when it is first
    needed (a ConfigError then stops that channel: its messages wait, queued)."""
    pools = {
        "sms": ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="khalti-sms"),
        "email": ThreadPoolExecutor(max_workers=1, thread_name_prefix="khalti-email"),
    }
    # Units handed over (`sending`) but not yet in a request: some beyond the senders, so that no sender
    # waits while the writer gathers answers and commits; a crash makes at most these unknown without
    # their having gone.
    limits = {"sms": concurrency + max(2, concurrency // 2), "email": 2}
    answers: queue.Queue[tuple[Unit, ChannelAnswer]] = queue.Queue()
    in_flight: Counter[str] = Counter()
    stopped: set[str] = set()
    senders: dict[str, Callable[[Unit], ChannelAnswer]] = {}
    closers: list[Callable[[], None]] = []
    work = _Work(store, items, summary)

    handed: list[Unit] = []  # units given to a pool, in order
    started: set[int] = set()  # id() of units whose request began (set.add is atomic)
    settled: set[int] = set()  # id() of units whose answer is committed
    results: dict[int, ChannelAnswer] = {}  # every answer, by id() of its unit (for an interrupted run)

    def run(unit: Unit) -> None:
        started.add(id(unit))
        try:
            answer = senders[unit.channel](unit)
        except Exception as exc:  # a bug in a sender must not leave the message looking unsent
            answer = ChannelAnswer(UNKNOWN, f"khalti failed while sending ({exc.__class__.__name__})")
        results[id(unit)] = answer
        answers.put((unit, answer))

    def ready(channel: str) -> bool:
        if channel in senders:
            return True
        if channel not in stopped:
            try:
                senders[channel], close = factories[channel]()
                closers.append(close)
                return True
            except ConfigError as exc:
                stopped.add(channel)
                summary.stop, summary.stop_message = "config", str(exc)
        return False

    def next_units() -> list[Unit]:
        """The units to hand over now: for each channel, as many as it has room for."""
        batch: list[Unit] = []
        if not stopped.issuperset(factories):  # every channel stopped: plan and record no more
            work.refill(limits, stopped)
        for channel, todo in work.todo.items():
            if todo and (channel in stopped or not ready(channel)):
                summary.waiting += sum(len(u.ids) for u in todo)  # they stay queued for the next run
                todo.clear()
            for _ in range(min(len(todo), limits[channel] - in_flight[channel])):
                batch.append(todo.popleft())
        return batch

    done: list[tuple[Unit, ChannelAnswer]] = []
    try:
        while True:
            # One transaction a round: the answers that came in, more planned messages recorded, and the
            # next units handed over.
            for unit, _answer in done:
                in_flight[unit.channel] -= 1
            with store.write():
                changes: list[m.Change] = []
                for unit, answer in done:
                    changes.extend(_settle(unit, answer, summary, stopped))
                batch = next_units()  # after the answers: a channel that stopped gets no more
                handed.extend(batch)  # before the commit: an interrupt from here on finds them
                # handed over: from here a crash makes them unknown, never resent
                changes.extend(
                    (_row(i, n), "sending", None) for u in batch for i, n in zip(u.items, u.ids, strict=True)
                )
                m.mark_many(store, changes)
            settled.update(id(unit) for unit, _ in done)
            for unit in batch:
                in_flight[unit.channel] += 1
                pools[unit.channel].submit(run, unit)
            if not +in_flight:
                break
            done = _gather(answers, sum(in_flight.values()))
    except KeyboardInterrupt:
        _wind_down(store, pools, handed, started, results, settled, summary, stopped)
        raise
    finally:
        for pool in pools.values():
            pool.shutdown(wait=True)
        for close in closers:
            close()
    summary.waiting += work.left()
    for item in work.source:  # planned after every channel stopped: not recorded, planned again next run
        summary.waiting += 1
        del item


def _wind_down(
    store: Store,
    pools: dict[str, ThreadPoolExecutor],
    handed: list[Unit],
    started: set[int],
    results: dict[int, ChannelAnswer],
    settled: set[int],
    summary: Summary,
    stopped: set[str],
) -> None:
    """Ctrl-C: no new request starts; the ones under way finish and every answer not yet stored is;
    units handed over but never started go back to `queued`. Nothing is left `sending` to be doubted."""
    for pool in pools.values():
        pool.shutdown(wait=True, cancel_futures=True)
    changes: list[m.Change] = []
    for unit in handed:
        if id(unit) in settled:
            continue
        answer = results.get(id(unit))
        if answer is not None:
            changes.extend(_settle(unit, answer, summary, stopped))
        elif id(unit) not in started:
            pairs = zip(unit.items, unit.ids, strict=True)
            changes.extend((_row(i, n), "queued", "not sent: the run was interrupted") for i, n in pairs)
    with store.write():
        m.mark_many(store, changes)


ROUND_S = 0.025  # how long the writer gathers answers before one commit (commits cost ms; answers 100s of ms)


def _gather(answers: queue.Queue[tuple[Unit, ChannelAnswer]], in_flight: int) -> list[tuple[Unit, ChannelAnswer]]:
    """The next answers: wait for one, then take what comes within ROUND_S (all of them, at the most)."""
    done = [answers.get()]
    until = time.monotonic() + ROUND_S
    while len(done) < in_flight:
        left = until - time.monotonic()
        try:
            done.append(answers.get(timeout=left) if left > 0 else answers.get_nowait())
        except queue.Empty:
            break
    return done


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
