"""Khalti's answers -> typed results or typed errors. Pure: takes a code and bytes, no httpx.

The body is read before the HTTP code: lookup answers `Expired` and `User canceled` with HTTP 400 and a
normal body, which is an answer, not an error. Two error envelopes exist: `{detail, status_code}` for
authentication and `{<field>: [msg], error_key: "validation_error"}` for validation.

This is the gateway boundary for text: every string of every answer passes `from_outside` (the key
redacted in any form a gateway or proxy may echo it, control characters and escape sequences made
harmless) before anything prints or stores it. An answer that cannot be stored as text (a lone surrogate)
or is nested deeper than any of Khalti's is a bad answer, not a crash.
"""

from __future__ import annotations

import functools
import json
import re
from dataclasses import dataclass, field
from typing import Any, TypeGuard
from urllib.parse import quote, quote_plus

from khalti_cli.errors import (
    AuthError,
    GatewayBadResponse,
    GatewayRateLimited,
    GatewayRejected,
    GatewayServerError,
)
from khalti_cli.output import printable
from khalti_cli.statuses import NOT_FOUND, link_status, normalise_word

LOOKUP_KEYS = ("pidx", "total_amount", "status", "transaction_id", "fee", "refunded")


@dataclass(frozen=True)
class InitiateAnswer:
    pidx: str
    payment_url: str
    expires_at: str | None
    expires_in: int | None
    raw: dict[str, Any]


@dataclass(frozen=True)
class LookupAnswer:
    pidx: str
    status: str  # Khalti's own word, or statuses.NOT_FOUND
    total_amount: int | None
    transaction_id: str | None
    fee: int | None
    refunded: bool
    http_status: int
    raw: dict[str, Any]
    # Amounts Khalti reported that cannot be real ("fee 9e+18"): the payment goes to review.
    implausible: tuple[str, ...] = field(default=())


@dataclass(frozen=True)
class RefundAnswer:
    detail: str
    raw: dict[str, Any]


REDACTED = "[key redacted]"
_MAX_DEPTH = 32  # Khalti's answers nest 3 deep
_EXCERPT = 2000  # characters of a bad answer kept in its event


@functools.lru_cache(maxsize=4)
def _key_pattern(key: str) -> re.Pattern[str]:
    forms = {key, quote(key, safe=""), quote_plus(key, safe=""), json.dumps(key)[1:-1]}
    alternatives = "|".join(re.escape(f) for f in sorted(forms, key=len, reverse=True))
    # "Key <k>", "Bearer <k>", "Token <k>" in any case, or the key alone (raw, url-encoded, JSON-escaped).
    return re.compile(rf"(?:\b(?:key|bearer|token)(?:\s+|%20|\+))?(?:{alternatives})", re.IGNORECASE)


def from_outside(text: str, key: str | None = None) -> str:
    """The one function every text from the gateway passes before it is printed or stored: the key
    redacted (raw, url-encoded, `Key <k>`, `Bearer <k>`, any case), then made printable."""
    if key and len(key) >= 4:
        text = _key_pattern(key).sub(REDACTED, text)
    return printable(text)


class _Unstorable(Exception):
    pass


def _clean(value: Any, key: str | None, depth: int = 0) -> Any:
    """A parsed answer with every string (keys too) passed through from_outside."""
    if depth > _MAX_DEPTH:
        raise _Unstorable("nested deeper than any answer Khalti sends")
    if isinstance(value, str):
        if any("\ud800" <= ch <= "\udfff" for ch in value):
            raise _Unstorable("a lone surrogate escape (text that is not Unicode)")
        return from_outside(value, key)
    if isinstance(value, dict):
        return {_clean(k, key, depth + 1): _clean(v, key, depth + 1) for k, v in value.items()}
    if isinstance(value, list):
        return [_clean(v, key, depth + 1) for v in value]
    return value


def excerpt(content: bytes, key: str | None) -> str:
    """A bad answer as it can be kept in an event: decoded leniently, the key redacted, capped."""
    text = content[: _EXCERPT * 4].decode("utf-8", "replace")
    return from_outside(text, key)[:_EXCERPT]


def _json(content: bytes, key: str | None = None, what: str = "the request") -> Any:
    """The parsed answer, cleaned; None when it is not JSON (the callers say so, with the HTTP code)."""
    try:
        body = json.loads(content.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return None
    except RecursionError:
        body, problem = None, "nested deeper than any answer Khalti sends"
    else:
        try:
            return _clean(body, key)
        except (_Unstorable, RecursionError) as exc:
            problem = str(exc) if isinstance(exc, _Unstorable) else "nested deeper than any answer Khalti sends"
    raise GatewayBadResponse(
        f"Khalti's answer to {what} could not be stored: {problem}. Nothing was changed; tell Khalti if it "
        "keeps happening (the answer is kept in the payment's history).",
        excerpt=excerpt(content, key),
        retryable=False,
    )


_MAX_PAISA = 10**12  # Rs 10 billion: above any school fee, and far inside SQLite's INTEGER


def _int_or_none(value: Any) -> int | None:
    amount, _ = _amount(value)
    return amount


def _amount(value: Any) -> tuple[int | None, bool]:
    """(amount in paisa, implausible?): negative, not an integer, a bool or beyond any real fee."""
    if value is None:
        return None, False
    if isinstance(value, bool):
        return None, True
    if isinstance(value, str) and value.strip().isascii() and value.strip().isdigit() and len(value) < 20:
        value = int(value.strip())
    if isinstance(value, int) and 0 <= value <= _MAX_PAISA:
        return value, False
    return None, True


def _shown(value: Any) -> str:
    text = printable(json.dumps(value, ensure_ascii=False) if not isinstance(value, float) else repr(value))
    return text if len(text) <= 40 else text[:37] + "..."


def _flatten(fields: dict[str, Any]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for key, value in fields.items():
        if key in ("error_key", "status_code"):
            continue
        if isinstance(value, list):
            out[key] = [str(v) for v in value]
        else:
            out[key] = [str(value)]
    return out


def _retry_after(headers: dict[str, str]) -> float | None:
    value = headers.get("retry-after")
    if value and value.strip().isdigit():
        return int(value.strip())
    return None


def common_errors(status_code: int, body: Any, headers: dict[str, str], what: str) -> None:
    """Raise for the answers every endpoint shares: auth, throttling, server errors, non-JSON."""
    if status_code == 401 or status_code == 403:
        detail = body.get("detail") if isinstance(body, dict) else None
        hint = f" (Khalti said: {_short(detail)})" if isinstance(detail, str) else ""
        raise AuthError(
            f"Khalti refused the secret key{hint}. Check KHALTI_SECRET_KEY: for the sandbox use the live "
            "secret key from test-admin.khalti.com, for production the one from admin.khalti.com."
        )
    if status_code == 429:
        wait = _retry_after(headers)
        raise GatewayRateLimited(f"Khalti is limiting requests ({what}). Try again in a few minutes.", retry_after=wait)
    if status_code >= 500:
        raise GatewayServerError(
            f"Khalti answered with a server error (HTTP {status_code}) to {what}. "
            "Nothing was changed; try again in a few minutes.",
            status_code,
        )
    if body is None:
        raise GatewayBadResponse(
            f"Khalti's answer to {what} was not the JSON it documents (HTTP {status_code}). "
            "Nothing was changed; try again later, and tell Khalti if it keeps happening."
        )


def rejected_message(body: dict[str, Any]) -> tuple[str, dict[str, list[str]]]:
    fields = _flatten(body)
    parts = [f"{k}: {' '.join(v)}" if k != "detail" else " ".join(v) for k, v in fields.items()]
    return "Khalti rejected the request: " + _short("; ".join(parts), 500), fields


def _short(text: str, limit: int = 200) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


def interpret_initiate(
    status_code: int, content: bytes, headers: dict[str, str], *, key: str | None = None
) -> InitiateAnswer:
    body = _json(content, key, "initiate")
    common_errors(status_code, body, headers, "initiate")
    if status_code == 200 and isinstance(body, dict):
        pidx, url = body.get("pidx"), body.get("payment_url")
        if _plausible_id(pidx) and isinstance(url, str) and url.lower().startswith(("https://", "http://")):
            expires_at = body.get("expires_at")
            return InitiateAnswer(
                pidx=pidx,
                payment_url=url,
                expires_at=expires_at if isinstance(expires_at, str) and len(expires_at) < 64 else None,
                expires_in=_int_or_none(body.get("expires_in")),
                raw=body,
            )
        raise GatewayBadResponse(
            "Khalti's answer to initiate had no usable pidx or payment_url. Nothing usable was made; try again later."
        )
    if isinstance(body, dict) and 400 <= status_code < 500:
        message, fields = rejected_message(body)
        raise GatewayRejected(message, fields, body)
    raise GatewayBadResponse(f"Khalti answered initiate with an unexpected HTTP {status_code}.")


def _plausible_id(value: Any) -> TypeGuard[str]:
    """A pidx or transaction id: Khalti's are 22 letters and digits."""
    return isinstance(value, str) and 0 < len(value) <= 64 and value.isascii() and value.isprintable()


# Lookup answers with a status come with HTTP 200, or 400 for the final unpaid ones (docs, "Payment Status
# Code"). A paid or live status under any other code (401, 302, 400...) is not believed.
_NOT_ON_400 = {"completed", "refunded", "partially_refunded", "initiated", "pending"}


def _status_counts(word: str, status_code: int) -> bool:
    if status_code == 200:
        return True
    return status_code == 400 and link_status(word) not in _NOT_ON_400


def _is_not_found(body: dict[str, Any]) -> bool:
    detail = body.get("detail")
    return "status" not in body and isinstance(detail, str) and normalise_word(detail).rstrip(".") == "not found"


def interpret_lookup(
    pidx: str, status_code: int, content: bytes, headers: dict[str, str], *, key: str | None = None
) -> LookupAnswer:
    what = f"the lookup of {pidx}"
    body = _json(content, key, what)
    word = body.get("status") if isinstance(body, dict) else None
    if isinstance(body, dict) and isinstance(word, str) and _status_counts(word, status_code):
        if body.get("pidx") != pidx:
            about = body.get("pidx")
            said = "no pidx" if about is None else f"pidx {_shown(about)}"
            raise GatewayBadResponse(
                f"Khalti's answer to {what} was about another link ({said}). Nothing was changed; "
                "tell Khalti if it keeps happening.",
                retryable=False,
            )
        implausible: list[str] = []
        amounts: dict[str, int | None] = {}
        for name in ("total_amount", "fee"):
            amounts[name], bad = _amount(body.get(name))
            if bad:
                implausible.append(f"{name} {_shown(body.get(name))}")
        txn = body.get("transaction_id")
        return LookupAnswer(
            pidx=pidx,
            status=word,
            total_amount=amounts["total_amount"],
            transaction_id=txn if _plausible_id(txn) else None,
            fee=amounts["fee"],
            refunded=body.get("refunded") is True,
            http_status=status_code,
            raw=body,
            implausible=tuple(implausible),
        )
    common_errors(status_code, body, headers, "lookup")
    # The docs give no HTTP code for "Not found.": the body says it, under any 4xx.
    if 400 <= status_code < 500 and isinstance(body, dict) and _is_not_found(body):
        return LookupAnswer(pidx, NOT_FOUND, None, None, None, False, status_code, body)
    if isinstance(word, str):
        raise GatewayBadResponse(
            f"Khalti's answer to {what} said {_shown(word)} with HTTP {status_code}, a code Khalti does not "
            "send with it; it was not believed. Nothing was changed; try again later.",
            retryable=False,
        )
    if isinstance(body, dict) and 400 <= status_code < 500:
        message, fields = rejected_message(body)
        raise GatewayRejected(message, fields, body)
    raise GatewayBadResponse(f"Khalti's answer to {what} had no status (HTTP {status_code}). Nothing was changed.")


def interpret_refund(
    status_code: int, content: bytes, headers: dict[str, str], *, key: str | None = None
) -> RefundAnswer:
    body = _json(content, key, "the refund")
    common_errors(status_code, body, headers, "refund")
    if 200 <= status_code < 300 and isinstance(body, dict):
        return RefundAnswer(detail=str(body.get("detail", "")), raw=body)
    if isinstance(body, dict) and 400 <= status_code < 500:
        message, fields = rejected_message(body)
        raise GatewayRejected(message, fields, body)
    raise GatewayBadResponse(f"Khalti answered the refund with an unexpected HTTP {status_code}.")
