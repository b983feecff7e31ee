"""Adapters to the channels that reach parents: SMS (Sparrow SMS's HTTP API, `sms.py`, the only importer
of httpx here) and email (SMTP, `email.py`, the only importer of smtplib).

Every send gives a `ChannelAnswer`: what the ledger records and what the run does next. The outcome says
whether the message can have reached the gateway, because that decides whether it may be sent again:

- ``sent``: the gateway accepted it.
- ``rejected``: the gateway refused this message (a bad number, an empty text): nothing was sent.
- ``not_sent``: the gateway was not reached or said it did nothing (connection refused, 429, 503):
  the message stays queued and the next run sends it.
- ``unknown``: no usable answer after the request may have arrived (timeout, dropped connection, other
  5xx, an answer we do not understand): it may have been sent, so it is never sent again by itself.

``stop`` is set when no other message can succeed either (``config``: a bad token, account or sender;
``credits``: no credits left; ``outage``: not reached): the run stops sending, and the rest wait.
"""

from __future__ import annotations

from dataclasses import dataclass

SENT, REJECTED, NOT_SENT, UNKNOWN = "sent", "rejected", "not_sent", "unknown"
ANSWER_CAP = 500  # characters of a gateway's answer kept in the ledger


@dataclass(frozen=True)
class ChannelAnswer:
    outcome: str
    answer: str  # what the gateway said (capped, secrets removed), or what went wrong
    stop: str | None = None  # "config" | "credits" | "outage"
    count: int | None = None  # SMS: how many receivers the gateway queued


def cap(text: str, secrets: tuple[str, ...] = ()) -> str:
    """A gateway's answer as stored and shown: secrets replaced by ***, at most ANSWER_CAP characters."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    return text if len(text) <= ANSWER_CAP else text[: ANSWER_CAP - 1] + "…"
