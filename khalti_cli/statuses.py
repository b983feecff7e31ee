"""Khalti's answers -> the contract's statuses. Pure functions: no I/O, no clock.

Rules (contract, "Statuses"): only `Completed` for the exact amount is paid; anything we do not
understand goes to `review`, never to a guess; `review` is sticky; a paid payment never silently goes
back to unpaid.
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
# Link states Khalti reports as final: reconcile stops asking about them.
FINAL = {"completed", "refunded", "partially_refunded", "expired", "canceled", "failed"}
# A payment in one of these may be initiated again without --force.
REINITIABLE = {"created", "expired", "canceled", "failed"}
NEEDS_FORCE = {"initiated", "pending"}
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


def decide(current: str, amount_paisa: int, links: Sequence[LinkView], old_reason: str | None) -> Decision:
    """The payment's status from all its links, oldest first."""
    if not links:
        return Decision(current, old_reason, None)
    problems: list[str] = []
    paid: list[LinkView] = []
    live: list[LinkView] = []
    pending: list[LinkView] = []
    for link in links:
        mapped = link_status(link.khalti_status)
        if link.khalti_status is None:
            live.append(link)  # never looked up yet: as initiated
        elif mapped is None:
            problems.append(
                f"Khalti reported status {link.khalti_status!r} for link {link.pidx}, which its docs "
                "does not list; ask Khalti what it means."
            )
        elif mapped == NOT_FOUND:
            problems.append(f"Khalti does not know link {link.pidx} (lookup said 'Not found').")
        elif mapped in PAID:
            paid.append(link)
            if link.total_amount_paisa != amount_paisa:
                reported = "no amount" if link.total_amount_paisa is None else format_rupees(link.total_amount_paisa)
                problems.append(
                    f"Amount mismatch on link {link.pidx}: Khalti reports {reported} paid, "
                    f"the payment is for {format_rupees(amount_paisa)}."
                )
        elif mapped == "pending":
            pending.append(link)
        elif mapped == "initiated":
            live.append(link)
    if len(paid) >= 2:
        problems.append(
            "Double payment: links " + " and ".join(p.pidx for p in paid) + " were both paid; "
            "refund one of them (khalti refund) and note it."
        )
    if current in PAID and not paid:
        newest = links[-1]
        problems.append(
            f"This payment was {current}, but Khalti now reports link {newest.pidx} as "
            f"{newest.khalti_status!r}; check with Khalti before doing anything."
        )

    if paid:
        shown = paid[0]
        status = link_status(shown.khalti_status) or "review"
    elif pending:
        shown, status = pending[-1], "pending"
    elif live:
        shown, status = live[-1], "initiated"
    else:
        shown = links[-1]
        status = link_status(shown.khalti_status) or "review"

    if current == "review":
        reasons = [old_reason] if old_reason else []
        reasons += [p for p in problems if not old_reason or p not in old_reason]
        return Decision("review", " ".join(reasons) or None, shown.pidx)
    if problems:
        return Decision("review", " ".join(problems), shown.pidx)
    return Decision(status, None, shown.pidx)


def link_is_final(khalti_word: str | None) -> bool:
    mapped = link_status(khalti_word)
    return mapped in FINAL or mapped == NOT_FOUND
