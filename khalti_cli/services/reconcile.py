"""Reconcile: look up every link Khalti has not reported final, concurrently, and store the answers.

Shape: the lookups run in worker threads; this (the calling) thread is the only writer. Answers
reach it through a queue and are committed as they arrive, in small group commits, so a killed run loses
at most the answers in flight. A failed lookup leaves its payment exactly as it was.
"""

from __future__ import annotations

import queue
import sqlite3
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from khalti_cli.clock import now, stamp
from khalti_cli.config import Settings, check_base_url_safe, check_key_shape
from khalti_cli.errors import (
    AuthError,
    ExitCode,
    GatewayBadResponse,
    GatewayError,
    GatewayRejected,
    KhaltiError,
    Unexpected,
    unexpected,
)
from khalti_cli.gateway.answers import LookupAnswer
from khalti_cli.services.apply import Change, add_call_error, apply_answers
from khalti_cli.services.payments import initiate_grace
from khalti_cli.services.records import payment_record
from khalti_cli.store import Store
from khalti_cli.store import queries as q


@dataclass
class Options:
    concurrency: int = 8
    limit: int | None = None
    dry_run: bool = False
    older_than_s: int | None = None
    max_time_s: int | None = None
    rate: int | None = None  # requests per second, None = no cap
    include_final: bool = False
    seed: int | None = None


@dataclass
class Summary:
    checked: int = 0
    changed: int = 0
    unchanged: int = 0
    errors: int = 0
    review: int = 0
    voided: int = 0
    by_status: Counter[str] = field(default_factory=Counter)
    seconds: float = 0
    error_messages: list[str] = field(default_factory=list)
    auth_error: AuthError | None = None
    unexpected: list[Unexpected] = field(default_factory=list)  # bugs: the run exits 1

    def as_json(self) -> dict[str, Any]:
        return {
            "checked": self.checked,
            "changed": self.changed,
            "unchanged": self.unchanged,
            "errors": self.errors,
            "review": self.review,
            "by_status": dict(sorted(self.by_status.items())),
            "seconds": round(self.seconds, 3),
            "voided": self.voided,
        }

    def line(self) -> str:
        statuses = ", ".join(f"{k} {v}" for k, v in sorted(self.by_status.items()))
        text = (
            f"checked {self.checked}, changed {self.changed}, unchanged {self.unchanged}, "
            f"errors {self.errors}, review {self.review} in {self.seconds:.1f}s"
        )
        return text + (f" ({statuses})" if statuses else "")

    @property
    def exit_code(self) -> ExitCode:
        if self.auth_error is not None:
            return ExitCode.CONFIG
        if self.review:
            return ExitCode.REVIEW
        if self.unexpected:
            return ExitCode.BUG
        if self.errors:
            return ExitCode.TEMPORARY
        return ExitCode.OK


LinkRef = tuple[int, str, int]  # (link id, pidx, payment id)
Outcome = tuple[LinkRef, LookupAnswer | KhaltiError]
OnPayment = Callable[[dict[str, Any]], None]
OnProgress = Callable[[int, int], None]
_DONE = object()
_QUEUE_MAX = 2000  # answers waiting for the writer; bounds memory when the disk is slower than Khalti


class _Pacer:
    """--rate: spaces request starts evenly across all workers (a token bucket of one)."""

    def __init__(self, rate: int | None) -> None:
        self._gap = 1 / rate if rate else 0
        self._next = 0.0
        self._lock = threading.Lock()

    def wait(self) -> None:
        if not self._gap:
            return
        with self._lock:
            moment = time.monotonic()
            start = max(moment, self._next)
            self._next = start + self._gap
        time.sleep(start - moment)


def _lookups(
    settings: Settings, links: list[LinkRef], opts: Options, out: queue.Queue[Any], deadline: float | None
) -> None:
    """`concurrency` threads share one HTTP client (one connection pool) and one iterator of links.

    Threads and the sync client, not asyncio: on the 2-core machine this was built on, httpx's AsyncClient
    cost 5.8 ms of CPU per request at 20 in flight, the sync client 1.8 ms (bench/http_clients.py), and
    the CPU is what limits a reconcile run.
    """
    from khalti_cli.gateway.client import KhaltiClient

    pacer = _Pacer(opts.rate)
    todo = iter(links)
    take = threading.Lock()
    stopped: list[AuthError] = []

    def next_link() -> LinkRef | None:
        with take:
            return next(todo, None)

    def worker(client: KhaltiClient) -> None:
        while (link := next_link()) is not None:
            if stopped:
                out.put((link, stopped[0]))
                continue
            if deadline is not None and time.monotonic() > deadline:
                out.put((link, GatewayError("Not looked up: the run reached --max-time.")))
                continue
            pacer.wait()
            try:
                result: LookupAnswer | KhaltiError = client.lookup(link[1], deadline=deadline)
            except AuthError as exc:
                stopped.append(exc)  # every other lookup would fail the same way
                result = exc
            except (GatewayError, GatewayRejected) as exc:
                result = exc
            except Exception as exc:  # a bug: an error of this link only, never a dead worker
                result = unexpected(exc, f"the lookup of {link[1]}")
            out.put((link, result))  # blocks while the writer is behind: memory stays bounded

    with KhaltiClient(
        settings.base_url,
        settings.require_key(),
        timeout_ms=settings.timeout_ms,
        concurrency=opts.concurrency,
        seed=opts.seed,
    ) as client:
        threads = [
            threading.Thread(target=worker, args=(client,), name=f"khalti-lookup-{i}", daemon=True)
            for i in range(min(opts.concurrency, len(links)))
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()


def void_dangling(store: Store, settings: Settings, dry_run: bool) -> int:
    """Initiates whose answer was lost: their URL never reached anyone, so nobody can pay them."""
    links = q.dangling_links(store, stamp(now() - initiate_grace(settings)))
    if dry_run or not links:
        return len(links)
    at = stamp()
    with store.write():
        for link in links:
            q.update_link(store, link["id"], {"state": "void", "updated_at": at})
            q.add_event(
                store,
                link["payment_id"],
                "initiate",
                outcome="void",
                at=at,
                message="An earlier initiate got no answer; its link (if any) was never shown, so it is void.",
            )
    return len(links)


def reconcile(
    store: Store,
    settings: Settings,
    opts: Options,
    *,
    on_payment: OnPayment | None = None,
    on_progress: OnProgress | None = None,
) -> Summary:
    started = time.monotonic()
    check_base_url_safe(settings.env, settings.base_url)  # a cron job with an unsafe setting must say so now
    if settings.secret_key is not None:
        check_key_shape(settings.secret_key)  # before anything is written
    summary = Summary()
    summary.voided = void_dangling(store, settings, opts.dry_run)
    checked_before = stamp(now() - timedelta(seconds=opts.older_than_s)) if opts.older_than_s else None
    links = q.links_to_check(store, limit=opts.limit, checked_before=checked_before, include_final=opts.include_final)
    if not links:
        summary.seconds = time.monotonic() - started
        return summary
    settings.require_key()
    deadline = started + opts.max_time_s if opts.max_time_s else None
    remaining = Counter(link[2] for link in links)
    per_payment: dict[int, list[Change | KhaltiError]] = {}
    results: queue.Queue[Any] = queue.Queue(maxsize=_QUEUE_MAX)
    crash: list[BaseException] = []

    def worker() -> None:
        try:
            _lookups(settings, links, opts, results, deadline)
        except BaseException as exc:  # surfaced in the writer thread
            crash.append(exc)
        finally:
            results.put(_DONE)

    thread = threading.Thread(target=worker, name="khalti-lookups", daemon=True)
    thread.start()
    done = 0
    finished = False
    while not finished:
        batch: list[Outcome] = []
        item = results.get()
        while True:
            if item is _DONE:
                finished = True
                break
            batch.append(item)
            if len(batch) >= 200:
                break
            try:
                item = results.get_nowait()
            except queue.Empty:
                break
        _store_batch(store, batch, opts, summary, per_payment)
        for link, _ in batch:
            done += 1
            remaining[link[2]] -= 1
            if remaining[link[2]] == 0:
                del remaining[link[2]]
                _payment_done(store, link[2], per_payment.pop(link[2], []), summary, on_payment)
        if on_progress:
            on_progress(done, len(links))
    thread.join()
    if crash:
        raise crash[0]
    summary.seconds = time.monotonic() - started
    return summary


def _store_batch(
    store: Store,
    batch: list[Outcome],
    opts: Options,
    summary: Summary,
    per_payment: dict[int, list[Change | KhaltiError]],
) -> None:
    answers: list[tuple[LinkRef, LookupAnswer]] = [(link, r) for link, r in batch if isinstance(r, LookupAnswer)]
    outcomes = _apply_each(store, answers, opts.dry_run)
    batch = [(link, r) for link, r in batch if not isinstance(r, LookupAnswer)]
    for (link, _), outcome in zip(answers, outcomes, strict=True):
        if isinstance(outcome, Change):
            per_payment.setdefault(link[2], []).append(outcome)
        else:
            batch.append((link, outcome))
    kept = [(link, r) for link, r in batch if isinstance(r, GatewayBadResponse) and r.excerpt is not None]
    if kept and not opts.dry_run:
        with store.write():  # an answer that could not be stored as it came: its start, for a person
            for link, bad in kept:
                assert isinstance(bad, GatewayBadResponse)
                add_call_error(store, link[2], link[1], "lookup", str(bad), bad.excerpt)
    for link, r in batch:
        if isinstance(r, KhaltiError):
            per_payment.setdefault(link[2], []).append(r)
            if isinstance(r, AuthError):
                summary.auth_error = r
            elif isinstance(r, Unexpected):
                summary.unexpected.append(r)
            if not isinstance(r, AuthError) and str(r) not in summary.error_messages:
                summary.error_messages.append(str(r))


def _apply_each(store: Store, answers: list[tuple[LinkRef, LookupAnswer]], dry_run: bool) -> list[Change | KhaltiError]:
    """The batch in one transaction; if an answer cannot be stored, each alone, so only that one fails."""
    pairs = [(link[0], answer) for link, answer in answers]
    try:
        return list(apply_answers(store, pairs, dry_run=dry_run))
    except (KhaltiError, sqlite3.OperationalError):
        raise  # the database is busy, full or read-only: the run stops, nothing half-written
    except Exception:
        pass
    outcomes: list[Change | KhaltiError] = []
    for pair in pairs:
        try:
            outcomes.extend(apply_answers(store, [pair], dry_run=dry_run))
        except (KhaltiError, sqlite3.OperationalError):
            raise
        except Exception as exc:
            outcomes.append(unexpected(exc, f"storing the answer about {pair[1].pidx}"))
    return outcomes


def _payment_done(
    store: Store,
    payment_id: int,
    outcomes: list[Change | KhaltiError],
    summary: Summary,
    on_payment: OnPayment | None,
) -> None:
    row = q.get_payment_by_id(store, payment_id)
    assert row is not None
    changes = [o for o in outcomes if isinstance(o, Change)]
    errors = [o for o in outcomes if isinstance(o, KhaltiError)]
    summary.checked += 1
    before = changes[0].old_status if changes else row["status"]
    after = changes[-1].new_status if changes else row["status"]
    if errors:
        summary.errors += 1
    elif after != before:
        summary.changed += 1
    else:
        summary.unchanged += 1
    if after == "review" and before != "review":
        summary.review += 1
    summary.by_status[after] += 1
    if on_payment:
        record = payment_record(row)
        record["status"] = after  # a dry run stores nothing; show what would be
        record["previous_status"] = before
        record["changed"] = after != before
        record["error"] = "; ".join(str(e) for e in errors) or None
        if changes and after == "review":
            record["review_reason"] = changes[-1].review_reason
        on_payment(record)
