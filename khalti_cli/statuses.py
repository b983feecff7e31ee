"""Khalti's answers -> the contract's statuses. Pure functions: no I/O, no clock.

Rules (contract, "Statuses"): only `Completed` for the exact amount is paid; anything we do not
understand goes to `review`, never to a guess; `review` is sticky; a paid payment never silently goes
back to unpaid. A person's standing decision (`void`, `settle`, `resolve`) holds until money arrives
that it did not account for: then `review` again. Every review reason names the command(s) that settle it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from khalti_cli.money import format_rupees

STATUSES = (
    "created",
    "initiated",
    "pending",
    "completed",
    "partially_refunded",
    "refunded",
    "expired",
    "canceled",
    "failed",
    "review",
    "voided",
    "paid_offline",
)

# Khalti's words (compared case-insensitively, with spaces folded) -> contract status.
KHALTI_WORDS = {
    "initiated": "initiated",
    "pending": "pending",
    "completed": "completed",
    "refunded": "refunded",
    "partially refunded": "partially_refunded",
    "expired": "expired",
    "user canceled": "canceled",
    "failed": "failed",
}
PAID = {"completed", "refunded", "partially_refunded"}
# Money Khalti still holds for the school on a link (a fully refunded link went back to the payer).
KEPT = {"completed", "partially_refunded"}
# Link states Khalti reports as final: reconcile stops asking about them.
FINAL = {"completed", "refunded", "partially_refunded", "expired", "canceled", "failed"}
# A payment in one of these may be initiated again without --force.
REINITIABLE = {"created", "expired", "canceled", "failed"}
NEEDS_FORCE = {"initiated", "pending"}
# A person's standing decision on a payment (payments.decision): void, settle, resolve.
DECISIONS = {"voided", "paid_offline", "completed"}
NOT_FOUND = "not_found"  # our marker for Khalti's 404 "Not found."


def normalise_word(word: str) -> str:
    return " ".join(word.split()).lower()


def link_status(khalti_word: str | None) -> str | None:
    """Khalti's status word -> contract status, or None when Khalti does not document it."""
    if khalti_word is None:
        return None
    if khalti_word == NOT_FOUND:
        return NOT_FOUND
    return KHALTI_WORDS.get(normalise_word(khalti_word))


@dataclass(frozen=True)
class LinkView:
    pidx: str
    khalti_status: str | None  # Khalti's own word, NOT_FOUND, or None if never looked up
    total_amount_paisa: int | None


@dataclass(frozen=True)
class Decision:
    status: str
    review_reason: str | None
    # the link whose details the payment shows (the paid one, else the newest)
    pidx: str | None
    # keys of every problem seen (stable across runs): what a person's `resolve` accepts
    problems: tuple[str, ...] = ()


@dataclass(frozen=True)
class Standing:
    """A person's decision that outranks the links: `decision` (voided, paid_offline or completed) and the
    problem keys that were known and accepted when it was taken."""

    decision: str | None = None
    accepted: frozenset[str] = frozenset()


def _ways_out(oid: str) -> str:
    return f"khalti resolve {oid} --as completed|voided --reason TEXT"


def _problems(
    oid: str, amount_paisa: int, links: Sequence[LinkView], current: str, standing: Standing
) -> tuple[list[tuple[str, str]], list[LinkView], list[LinkView]]:
    """(key, sentence) for everything a person must look at, and the kept and returned paid links."""
    problems: list[tuple[str, str]] = []
    kept: list[LinkView] = []
    returned: list[LinkView] = []
    for link in links:
        mapped = link_status(link.khalti_status)
        if link.khalti_status is not None and mapped is None:
            problems.append(
                (
                    f"undocumented:{link.pidx}:{link.khalti_status}",
                    f"Khalti reported status {link.khalti_status!r} for link {link.pidx}, which its docs do "
                    f"not list. Ask Khalti what it means; then look again (khalti lookup {oid}) or decide: "
                    f"{_ways_out(oid)}.",
                )
            )
        elif mapped == NOT_FOUND:
            problems.append(
                (
                    f"not_found:{link.pidx}",
                    f"Khalti does not know link {link.pidx} (lookup said 'Not found'). Check the Khalti "
                    f"merchant dashboard; then decide: {_ways_out(oid)} (or khalti settle {oid} if it was paid "
                    "at the counter).",
                )
            )
        elif mapped in KEPT:
            kept.append(link)
        elif mapped == "refunded":
            returned.append(link)
    for link in kept:
        if link.total_amount_paisa != amount_paisa:
            reported = "no amount" if link.total_amount_paisa is None else format_rupees(link.total_amount_paisa)
            under = link.total_amount_paisa is not None and link.total_amount_paisa < amount_paisa
            problems.append(
                (
                    f"mismatch:{link.pidx}:{link.total_amount_paisa}",
                    f"Amount mismatch on link {link.pidx}: Khalti reports {reported} paid, the payment is for "
                    f"{format_rupees(amount_paisa)}. "
                    + ("Accept the smaller amount: " if under else "Accept it: ")
                    + f"khalti resolve {oid} --as completed --reason TEXT; or give it back: khalti refund {oid} "
                    f"--pidx {link.pidx}, then khalti initiate {oid}.",
                )
            )
    if len(kept) >= 2:
        others = kept[1:]
        problems.append(
            (
                "double:" + ",".join(sorted(p.pidx for p in kept)),
                "Double payment: links " + " and ".join(p.pidx for p in kept) + " were both paid. Refund the "
                "extra one: "
                + "; ".join(f"khalti refund {oid} --pidx {p.pidx}" for p in others)
                + " (the payment is then completed).",
            )
        )
    if standing.decision == "voided":
        for link in kept:
            problems.append(
                (
                    f"paid_after_void:{link.pidx}",
                    f"Link {link.pidx} was paid on Khalti after the fee was voided. Give it back: khalti refund "
                    f"{oid} --pidx {link.pidx}; or keep it: khalti resolve {oid} --as completed --reason TEXT.",
                )
            )
    if standing.decision == "paid_offline":
        for link in kept:
            problems.append(
                (
                    f"paid_twice:{link.pidx}",
                    f"Paid twice: link {link.pidx} was paid on Khalti after the fee was settled outside Khalti. "
                    f"Refund the Khalti payment: khalti refund {oid} --pidx {link.pidx}; or, after giving the "
                    f"counter money back, khalti resolve {oid} --as completed --reason TEXT.",
                )
            )
    # (not after a person resolved it as completed: that decision is what they took knowing this)
    if current in PAID and not kept and not returned and links and standing.decision != "completed":
        newest = links[-1]
        problems.append(
            (
                f"unpaid_after_paid:{newest.pidx}:{newest.khalti_status}",
                f"This payment was {current}, but Khalti now reports link {newest.pidx} as "
                f"{newest.khalti_status!r}. Check with Khalti before doing anything; then look again (khalti "
                f"lookup {oid}) or decide: {_ways_out(oid)}.",
            )
        )
    return problems, kept, returned


def decide(
    current: str,
    amount_paisa: int,
    links: Sequence[LinkView],
    old_reason: str | None,
    *,
    order_id: str = "ORDER_ID",
    standing: Standing = Standing(),
    fresh: bool = False,
) -> Decision:
    """The payment's status from all its links, oldest first.

    `fresh`: decide again from scratch (after a person's correction, e.g. a refund of one link), instead of
    keeping `review` sticky.
    """
    if not links:
        return Decision(current, old_reason, None)
    found, kept, returned = _problems(order_id, amount_paisa, links, current, standing)
    keys = tuple(key for key, _ in found)
    problems = [text for key, text in found if key not in standing.accepted]
    pending = [lk for lk in links if link_status(lk.khalti_status) == "pending"]
    live = [lk for lk in links if lk.khalti_status is None or link_status(lk.khalti_status) == "initiated"]
    exact_returned = [lk for lk in returned if lk.total_amount_paisa == amount_paisa]

    if kept:
        shown = kept[0]
        status = link_status(shown.khalti_status) or "review"
    elif exact_returned:
        shown, status = exact_returned[0], "refunded"
    elif pending:
        shown, status = pending[-1], "pending"
    elif live:
        shown, status = live[-1], "initiated"
    else:
        shown = links[-1]
        status = link_status(shown.khalti_status) or "review"
    if status not in STATUSES:
        status = "review"  # e.g. the only link is one Khalti does not know, and a person accepted that
    if standing.decision in ("voided", "paid_offline") or (standing.decision == "completed" and status not in PAID):
        status = standing.decision

    if current == "review" and not fresh:
        reasons = [old_reason] if old_reason else []
        reasons += [p for p in problems if not old_reason or p not in old_reason]
        return Decision("review", " ".join(reasons) or None, shown.pidx, keys)
    if problems:
        return Decision("review", " ".join(problems), shown.pidx, keys)
    return Decision(status, None, shown.pidx, keys)


def link_is_final(khalti_word: str | None) -> bool:
    mapped = link_status(khalti_word)
    return mapped in FINAL or mapped == NOT_FOUND
