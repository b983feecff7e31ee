"""Refunds: check, ask, send once, and never guess what an unanswered refund did.

Every step is an event of kind `refund` in the payment's history:

    attempt      written (and committed) before the request goes out; its detail says what was asked
    ok           Khalti refunded (its answer said so, or a lookup showed it)
    rejected     Khalti refused the refund (HTTP 4xx); nothing changed
    error        the request did not get through (unreachable, throttled, key refused); nothing changed
    unknown      no usable answer, and a lookup could not settle it yet: the attempt stays open
    not_applied  an open attempt that a later lookup shows never took effect; a new refund may go out
    review       a lookup cannot tell whether it took effect (e.g. a second partial refund): a person checks

An attempt is *open* while the newest refund event is `attempt` or `unknown`. No new refund of that
payment is sent while one is open: the next `khalti refund` looks the payment up first, once the open
attempt is older than the gateway timeout plus a grace minute (before that, Khalti may still be working
on it), and records what it learns.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Protocol

from khalti_cli import money
from khalti_cli.clock import now, parse, stamp
from khalti_cli.config import Settings
from khalti_cli.errors import (
    AuthError,
    GatewayDropped,
    GatewayError,
    GatewayRateLimited,
    GatewayRejected,
    GatewayServerError,
    GatewayTimeout,
    GatewayUnreachable,
    InvalidInput,
    TemporaryError,
)
from khalti_cli.gateway.answers import LookupAnswer, RefundAnswer
from khalti_cli.services import validate
from khalti_cli.services.apply import apply_answer
from khalti_cli.services.payments import find_payment
from khalti_cli.services.records import payment_record
from khalti_cli.services.refund_link import chosen_link, decided_again
from khalti_cli.statuses import link_status
from khalti_cli.store import Store
from khalti_cli.store import queries as q
from khalti_cli.times import local

REFUNDABLE = ("completed", "partially_refunded")
# After an unanswered refund, look again after pauses of one and two times this (the timeout, at most 1 s)
# before saying "unknown": Khalti may still have been working on it.
RECHECK_MAX_S = 1.0
GRACE_S = 60  # on top of the gateway timeout: how long an unanswered refund may still be in Khalti's hands
OPEN_OUTCOMES = ("attempt", "unknown")
KHALTI_WORD = {"refunded": "Refunded", "partially_refunded": "Partially Refunded"}
_MOBILE = re.compile(r"^(?:\+?977[- ]?)?(9\d{9})$")


class RefundGateway(Protocol):
    def refund(self, transaction_id: str, amount: int | None, mobile: str | None) -> RefundAnswer: ...
    def lookup(self, pidx: str, *, deadline: float | None = None) -> LookupAnswer: ...


@dataclass(frozen=True)
class RefundPlan:
    """What one `khalti refund` will ask Khalti for. Amounts in paisa."""

    order_id: str
    payment_id: int
    link_id: int
    pidx: str
    transaction_id: str
    name: str
    payer: str | None
    status: str
    khalti_status: str | None
    paid_paisa: int
    refunded_before: int
    amount_paisa: int
    mobile: str | None
    by_link: bool = False  # refund --pidx: one link of the payment; its status is decided again from all links

    @property
    def remaining_before(self) -> int:
        return self.paid_paisa - self.refunded_before

    @property
    def remaining_after(self) -> int:
        return self.remaining_before - self.amount_paisa

    @property
    def whole(self) -> bool:
        """True when this refunds everything that is left."""
        return self.amount_paisa >= self.remaining_before

    @property
    def send_amount(self) -> int | None:
        """The `amount` sent: none for a full refund of an untouched payment (Khalti's empty body)."""
        return None if self.whole and self.refunded_before == 0 else self.amount_paisa

    def detail(self) -> dict[str, Any]:
        return {
            "transaction_id": self.transaction_id,
            "amount_paisa": self.amount_paisa,
            "sent_amount_paisa": self.send_amount,
            "paid_paisa": self.paid_paisa,
            "refunded_before_paisa": self.refunded_before,
            "whole": self.whole,
            # what a later lookup compares with: the link's own status for refund --pidx
            "status_before": (link_status(self.khalti_status) or self.status) if self.by_link else self.status,
            "bank": self.mobile is not None,
            "by_link": self.by_link,
        }


@dataclass(frozen=True)
class RefundResult:
    record: dict[str, Any]
    went_to_review: bool = False
    declined: bool = False  # the person answered no: nothing was sent
    # An earlier unanswered refund turned out to be made, and it was this same request: nothing new was sent.
    earlier_applied: bool = False


Confirm = Callable[[RefundPlan], bool]


def mobile_number(value: str | None) -> str | None:
    if value is None or not value.strip():
        return None
    digits = value.strip().replace(" ", "").replace("-", "")
    m = _MOBILE.match(digits)
    if not m:
        raise InvalidInput(
            f"The mobile number {value.strip()[:30]!r} is not a Khalti mobile number (10 digits, like 9800000001)."
        )
    return m.group(1)


def refund_amount(text: str | None, remaining: int, order_id: str) -> int:
    if remaining <= 0:
        raise InvalidInput(f"Payment {order_id} has nothing left to refund.")
    if text is None:
        return remaining
    paisa = money.parse_rupees(text, minimum=1)
    if paisa > remaining:
        raise InvalidInput(
            f"Cannot refund {money.format_rupees(paisa)}: only {money.format_rupees(remaining)} of payment "
            f"{order_id} is left to refund."
        )
    return paisa


def _open_attempt(store: Store, payment_id: int) -> dict[str, Any] | None:
    """The newest `attempt` event, when the newest refund event leaves it open."""
    refund_events = [e for e in q.events_of(store, payment_id) if e["kind"] == "refund"]
    if not refund_events or refund_events[-1]["outcome"] not in OPEN_OUTCOMES:
        return None
    attempts = [e for e in refund_events if e["outcome"] == "attempt"]
    return attempts[-1] if attempts else None


def _paid_link(store: Store, payment: dict[str, Any]) -> dict[str, Any]:
    order_id = payment["order_id"]
    link = q.get_link(store, payment["pidx"]) if payment.get("pidx") else None
    if link is None or not link.get("transaction_id"):
        raise InvalidInput(f"Payment {order_id} has no Khalti transaction id to refund. Run: khalti lookup {order_id}")
    return link


def plan_refund(
    store: Store, order_id: str, amount: str | None, mobile: str | None, pidx: str | None = None
) -> RefundPlan:
    """Every check that needs no network; raises InvalidInput (exit 3) and sends nothing."""
    payment = find_payment(store, validate.order_id(order_id))
    oid = payment["order_id"]
    if pidx is not None:
        link, paid, refunded_before = chosen_link(store, payment, pidx)
    else:
        if payment["status"] not in REFUNDABLE:
            raise InvalidInput(
                f"Payment {oid} has status {payment['status']}; only a completed or partially refunded payment "
                "can be refunded (or one paid link of it: khalti refund ORDER_ID --pidx PIDX). Nothing was sent."
            )
        link = _paid_link(store, payment)
        paid = payment.get("total_amount_paisa") or payment["amount_paisa"]
        refunded_before = payment.get("refunded_paisa") or 0
    checked_mobile = mobile_number(mobile)
    paisa = refund_amount(amount, paid - refunded_before, oid)
    payer = payment.get("customer_name") or payment.get("customer_phone") or payment.get("customer_email")
    return RefundPlan(
        order_id=oid,
        payment_id=payment["id"],
        link_id=link["id"],
        pidx=link["pidx"],
        transaction_id=link["transaction_id"],
        name=payment["name"],
        payer=payer,
        status=payment["status"],
        khalti_status=link.get("khalti_status"),
        paid_paisa=paid,
        refunded_before=refunded_before,
        amount_paisa=paisa,
        mobile=checked_mobile,
        by_link=pidx is not None,
    )


def _grace(settings: Settings) -> timedelta:
    return timedelta(milliseconds=settings.timeout_ms) + timedelta(seconds=GRACE_S)


def refund(
    store: Store,
    settings: Settings,
    gateway: Callable[[], RefundGateway],
    order_id: str,
    *,
    amount: str | None = None,
    mobile: str | None = None,
    confirm: Confirm | None = None,
    pidx: str | None = None,
) -> RefundResult:
    """Refund a payment in full (amount None) or in part. `confirm` is asked after every check, before
    anything is sent; it may raise (e.g. a usage error when nobody can be asked)."""
    payment = find_payment(store, validate.order_id(order_id))
    client: RefundGateway | None = None
    earlier = _open_attempt(store, payment["id"])
    if earlier is not None:
        age = now() - parse(earlier["at"])
        if age < _grace(settings):
            raise TemporaryError(
                f"A refund of payment {payment['order_id']} was sent at {local(earlier['at'])} and Khalti's answer "
                "is not known yet. Nothing was sent now; run the same command again in two minutes and "
                "khalti will check with Khalti before sending anything."
            )
        settings.require_key()
        client = gateway()
        settled = settle(store, settings, client, earlier, recent=False)
        if settled is None:
            raise TemporaryError(
                f"Could not learn from Khalti what an earlier refund of payment {payment['order_id']} did, "
                "so nothing was sent. Try again later."
            )
        fresh = q.get_payment_by_id(store, payment["id"])
        assert fresh is not None
        if settled == "review":
            return RefundResult(payment_record(fresh), went_to_review=True)
        if settled == "ok" and _same_request(earlier, amount):
            return RefundResult(payment_record(fresh), earlier_applied=True)
    plan = plan_refund(store, order_id, amount, mobile, pidx)
    settings.require_key()
    if confirm is not None and not confirm(plan):
        fresh = q.get_payment_by_id(store, payment["id"])
        assert fresh is not None
        return RefundResult(payment_record(fresh), declined=True)
    if client is None:
        client = gateway()
    _record_attempt(store, plan)
    try:
        answer = client.refund(plan.transaction_id, plan.send_amount, plan.mobile)
    except GatewayRejected as exc:
        _close_attempt(store, plan.payment_id, "rejected", str(exc), detail=exc.body)
        raise
    except (AuthError, GatewayUnreachable, GatewayRateLimited) as exc:
        # Refused before Khalti did anything (no key, not reached, throttled): nothing happened.
        _close_attempt(store, plan.payment_id, "error", str(exc))
        raise
    except GatewayError as exc:
        # Timed out, dropped, 5xx or an unreadable answer: the refund may have been made. Never resend
        # blindly: look the payment up and record what it shows.
        attempt = _open_attempt(store, plan.payment_id)
        assert attempt is not None
        outcome = settle(store, settings, client, attempt, recent=True, cause=str(exc))
        fresh = q.get_payment_by_id(store, plan.payment_id)
        assert fresh is not None
        if outcome == "ok":
            return RefundResult(payment_record(fresh))
        if outcome == "review":
            return RefundResult(payment_record(fresh), went_to_review=True)
        shown = "the lookup to check it failed too" if outcome is None else "Khalti does not show it (yet)"
        raise TemporaryError(
            f"Khalti gave no clear answer to the refund of payment {plan.order_id} ({_what_happened(exc)}) "
            f"and {shown}, so nothing more was sent. Run the same command again in two minutes: khalti "
            "checks with Khalti first and sends a new refund only if the first one was not made."
        ) from None
    _record_success(store, plan, answer)
    fresh = q.get_payment_by_id(store, plan.payment_id)
    assert fresh is not None
    return RefundResult(payment_record(fresh), went_to_review=fresh["status"] == "review" != plan.status)


def _what_happened(exc: GatewayError) -> str:
    if isinstance(exc, GatewayTimeout):
        return "no answer in time"
    if isinstance(exc, GatewayDropped):
        return "the connection was closed"
    if isinstance(exc, GatewayServerError):
        return f"HTTP {exc.status_code}"
    return "an answer that could not be read"


def _same_request(attempt: dict[str, Any], amount: str | None) -> bool:
    """Is this run the same refund as the earlier attempt (a re-run after an unanswered request)?"""
    detail = json.loads(attempt["detail"]) if attempt.get("detail") else {}
    if amount is None:
        return bool(detail.get("whole"))
    try:
        return money.parse_rupees(amount, minimum=1) == detail.get("amount_paisa")
    except InvalidInput:
        return False


def _record_attempt(store: Store, plan: RefundPlan) -> None:
    """Commit the attempt before sending; refuse if the payment changed since the plan (another refund)."""
    with store.write():
        row = q.get_payment_by_id(store, plan.payment_id)
        assert row is not None
        if _open_attempt(store, plan.payment_id) is not None:
            raise TemporaryError(
                f"Another refund of payment {plan.order_id} is in progress. Nothing was sent; try again later."
            )
        refunded_now = plan.refunded_before if plan.by_link else (row.get("refunded_paisa") or 0)
        if row["status"] != plan.status or refunded_now != plan.refunded_before:
            raise TemporaryError(
                f"Payment {plan.order_id} changed while this refund was being prepared. Nothing was sent; "
                "run the command again."
            )
        what = (
            "the whole payment"
            if plan.whole and plan.refunded_before == 0
            else ("all that is left" if plan.whole else "part of it")
        )
        q.add_event(
            store,
            plan.payment_id,
            "refund",
            outcome="attempt",
            pidx=plan.pidx,
            message=f"Asking Khalti to refund {money.format_rupees(plan.amount_paisa)} ({what})",
            detail=plan.detail(),
        )


def _close_attempt(
    store: Store, payment_id: int, outcome: str, message: str, *, pidx: str | None = None, detail: Any = None
) -> None:
    with store.write():
        q.add_event(store, payment_id, "refund", outcome=outcome, pidx=pidx, message=message, detail=detail)


def _refunded_changes(payment: dict[str, Any], refunded_paisa: int, at: str) -> tuple[str, dict[str, Any]]:
    paid = payment.get("total_amount_paisa") or payment["amount_paisa"]
    status = "refunded" if refunded_paisa >= paid else "partially_refunded"
    return status, {
        "status": status,
        "khalti_status": KHALTI_WORD[status],
        "refunded": 1,
        "refunded_paisa": min(refunded_paisa, paid),
        "updated_at": at,
    }


def _record_success(store: Store, plan: RefundPlan, answer: RefundAnswer) -> None:
    """Khalti said the refund was made: the link and the payment show it, in one transaction."""
    at = stamp()
    with store.write():
        payment = q.get_payment_by_id(store, plan.payment_id)
        assert payment is not None
        refunded = plan.refunded_before + plan.amount_paisa
        word = KHALTI_WORD["refunded" if refunded >= plan.paid_paisa else "partially_refunded"]
        q.update_link(store, plan.link_id, {"khalti_status": word, "refunded": 1, "updated_at": at})
        if plan.by_link:
            kept = min(refunded, plan.paid_paisa)
            status, changes = decided_again(store, payment, plan.payment_id, plan.link_id, kept, at)
        else:
            status, changes = _refunded_changes(payment, refunded, at)
        q.update_payment(store, plan.payment_id, changes)
        q.add_event(
            store,
            plan.payment_id,
            "refund",
            outcome="ok",
            pidx=plan.pidx,
            at=at,
            message=f"Khalti refunded {money.format_rupees(plan.amount_paisa)}: {answer.detail}".rstrip(": "),
            detail=answer.raw,
        )
        if payment["status"] != status:
            q.add_event(
                store,
                plan.payment_id,
                "status",
                pidx=plan.pidx,
                from_status=payment["status"],
                to_status=status,
                message=changes.get("review_reason"),
                at=at,
            )


def settle(
    store: Store,
    settings: Settings,
    client: RefundGateway,
    attempt: dict[str, Any],
    *,
    recent: bool,
    cause: str | None = None,
) -> str | None:
    """Learn from a lookup what an open refund attempt did, and record it.

    Returns the outcome recorded: "ok", "not_applied", "review", or "unknown"/None when it stays open
    (None: the lookup itself failed). `recent`: the attempt was just sent, so "no refund shown" may
    only mean "not yet".
    """
    detail = json.loads(attempt["detail"]) if attempt.get("detail") else {}
    payment_id = attempt["payment_id"]
    pidx = attempt["pidx"]
    link = q.get_link(store, pidx) if pidx else None
    prefix = f"{cause} " if cause else ""
    if link is None or not detail:
        _to_review(
            store,
            payment_id,
            pidx,
            "An earlier refund attempt cannot be matched to its payment link; "
            "check the refund in the Khalti merchant dashboard.",
        )
        return "review"
    before = detail.get("status_before")
    whole = bool(detail.get("whole"))
    amount = int(detail.get("amount_paisa") or 0)
    refunded_before = int(detail.get("refunded_before_paisa") or 0)
    paid = int(detail.get("paid_paisa") or 0)
    pause = min(settings.timeout_ms / 1000, RECHECK_MAX_S)
    waits = [pause, 2 * pause] if recent else []
    while True:
        try:
            answer = client.lookup(pidx)
        except AuthError:
            raise
        except (GatewayError, GatewayRejected) as exc:
            _close_attempt(
                store,
                payment_id,
                "unknown",
                f"{prefix}The refund may or may not have been made; the lookup to check failed too ({exc}).",
                pidx=pidx,
                detail=detail,
            )
            return None
        apply_answer(store, link["id"], answer)
        now_status = link_status(answer.status)
        no_sign = (now_status == "completed" and before == "completed") or (
            now_status == "partially_refunded" and before == "partially_refunded" and whole
        )
        if not (no_sign and waits):
            break
        time.sleep(waits.pop(0))  # Khalti may still be working on it: look again shortly
    said = f"Khalti's lookup shows {answer.status!r}"
    if now_status == "refunded":
        by_link = bool(detail.get("by_link"))
        _settle_applied(store, payment_id, pidx, paid, f"{prefix}{said}: the refund was made.", by_link=by_link)
        return "ok"
    if now_status == "partially_refunded" and before == "completed" and not whole:
        _settle_applied(
            store,
            payment_id,
            pidx,
            refunded_before + amount,
            f"{prefix}{said}: the refund of {money.format_rupees(amount)} was made.",
            by_link=bool(detail.get("by_link")),
        )
        return "ok"
    if no_sign:
        if recent:
            _close_attempt(
                store, payment_id, "unknown", f"{prefix}{said}: no sign of the refund yet.", pidx=pidx, detail=detail
            )
            return "unknown"
        _close_attempt(
            store,
            payment_id,
            "not_applied",
            f"{said}: the earlier refund of {money.format_rupees(amount)} was not made.",
            pidx=pidx,
        )
        return "not_applied"
    reason = (
        f"A refund of {money.format_rupees(amount)} got no clear answer and {said}, which cannot tell "
        "whether it was made. Check the refund in the Khalti merchant dashboard."
    )
    _to_review(store, payment_id, pidx, reason, prefix)
    return "review"


def _settle_applied(
    store: Store, payment_id: int, pidx: str, refunded_paisa: int, message: str, *, by_link: bool = False
) -> None:
    at = stamp()
    with store.write():
        payment = q.get_payment_by_id(store, payment_id)
        assert payment is not None
        if by_link:  # refund --pidx whose answer was lost: decided again from all links, as when answered
            link = q.get_link(store, pidx)
            assert link is not None
            status, changes = decided_again(store, payment, payment_id, link["id"], refunded_paisa, at)
        else:
            paid = payment.get("total_amount_paisa") or payment["amount_paisa"]
            status = payment["status"]
            changes = {"refunded": 1, "refunded_paisa": min(refunded_paisa, paid), "updated_at": at}
        q.update_payment(store, payment_id, changes)
        q.add_event(store, payment_id, "refund", outcome="ok", pidx=pidx, at=at, message=message)
        if status != payment["status"]:
            q.add_event(store, payment_id, "status", pidx=pidx, from_status=payment["status"], to_status=status, at=at)


def _to_review(store: Store, payment_id: int, pidx: str | None, reason: str, prefix: str = "") -> None:
    """Close the attempt as `review` and move the payment to review, in one transaction."""
    at = stamp()
    with store.write():
        q.add_event(store, payment_id, "refund", outcome="review", pidx=pidx, message=f"{prefix}{reason}", at=at)
        payment = q.get_payment_by_id(store, payment_id)
        assert payment is not None
        if payment["status"] == "review":
            old = payment.get("review_reason")
            q.update_payment(
                store, payment_id, {"review_reason": f"{old} {reason}" if old else reason, "updated_at": at}
            )
            return
        q.update_payment(store, payment_id, {"status": "review", "review_reason": reason, "updated_at": at})
        q.add_event(
            store, payment_id, "status", from_status=payment["status"], to_status="review", message=reason, at=at
        )
