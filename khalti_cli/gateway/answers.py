"""Khalti's answers -> typed results or typed errors. Pure: takes a code and bytes, no httpx.

The body is read before the HTTP code: lookup answers `Expired` and `User canceled` with HTTP 400 and a
normal body, which is an answer, not an error. Two error envelopes exist: `{detail, status_code}` for
authentication and `{<field>: [msg], error_key: "validation_error"}` for validation.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from khalti_cli.errors import (
    AuthError,
    GatewayBadResponse,
    GatewayRateLimited,
    GatewayRejected,
    GatewayServerError,
)
from khalti_cli.statuses import NOT_FOUND

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


@dataclass(frozen=True)
class RefundAnswer:
    detail: str
    raw: dict[str, Any]


def _json(content: bytes) -> Any:
    try:
        return json.loads(content.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return None


_INT64 = 2**63  # SQLite's INTEGER range: a larger "amount" is not one we can store (or believe)


def _int_or_none(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, str) and value.strip().isascii() and value.strip().isdigit():
        value = int(value.strip())
    if isinstance(value, int) and -_INT64 < value < _INT64:
        return value
    return None


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
        hint = f" (Khalti said: {detail})" if isinstance(detail, str) else ""
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
    return "Khalti rejected the request: " + "; ".join(parts), fields


def interpret_initiate(status_code: int, content: bytes, headers: dict[str, str]) -> InitiateAnswer:
    body = _json(content)
    common_errors(status_code, body, headers, "initiate")
    if status_code == 200 and isinstance(body, dict):
        pidx, url = body.get("pidx"), body.get("payment_url")
        if isinstance(pidx, str) and pidx and isinstance(url, str) and url:
            expires_at = body.get("expires_at")
            return InitiateAnswer(
                pidx=pidx,
                payment_url=url,
                expires_at=expires_at if isinstance(expires_at, str) else None,
                expires_in=_int_or_none(body.get("expires_in")),
                raw=body,
            )
        raise GatewayBadResponse(
            "Khalti's answer to initiate had no pidx or payment_url. Nothing usable was made; try again later."
        )
    if isinstance(body, dict) and 400 <= status_code < 500:
        message, fields = rejected_message(body)
        raise GatewayRejected(message, fields, body)
    raise GatewayBadResponse(f"Khalti answered initiate with an unexpected HTTP {status_code}.")


def interpret_lookup(pidx: str, status_code: int, content: bytes, headers: dict[str, str]) -> LookupAnswer:
    body = _json(content)
    # A status body is an answer whatever the code (Expired and User canceled come with HTTP 400).
    if isinstance(body, dict) and isinstance(body.get("status"), str) and status_code < 500:
        if body.get("pidx") not in (None, pidx):
            raise GatewayBadResponse(
                f"Khalti answered a lookup of {pidx} about another link ({body.get('pidx')}). Nothing was changed."
            )
        return LookupAnswer(
            pidx=pidx,
            status=body["status"],
            total_amount=_int_or_none(body.get("total_amount")),
            transaction_id=body.get("transaction_id") if isinstance(body.get("transaction_id"), str) else None,
            fee=_int_or_none(body.get("fee")),
            refunded=body.get("refunded") is True,
            http_status=status_code,
            raw=body,
        )
    common_errors(status_code, body, headers, "lookup")
    if status_code == 404 and isinstance(body, dict) and str(body.get("detail", "")).startswith("Not found"):
        return LookupAnswer(pidx, NOT_FOUND, None, None, None, False, status_code, body)
    if isinstance(body, dict) and 400 <= status_code < 500:
        message, fields = rejected_message(body)
        raise GatewayRejected(message, fields, body)
    raise GatewayBadResponse(
        f"Khalti's answer to the lookup of {pidx} had no status (HTTP {status_code}). Nothing was changed."
    )


def interpret_refund(status_code: int, content: bytes, headers: dict[str, str]) -> RefundAnswer:
    body = _json(content)
    common_errors(status_code, body, headers, "refund")
    if 200 <= status_code < 300 and isinstance(body, dict):
        return RefundAnswer(detail=str(body.get("detail", "")), raw=body)
    if isinstance(body, dict) and 400 <= status_code < 500:
        message, fields = rejected_message(body)
        raise GatewayRejected(message, fields, body)
    raise GatewayBadResponse(f"Khalti answered the refund with an unexpected HTTP {status_code}.")
