"""Khalti's merchant API: initiate, lookup and refund, with Khalti's bodies and HTTP codes."""

from __future__ import annotations

import re
from typing import Any

from .auth import check_auth
from .errors import SandboxError, UnknownPaymentError
from .payment import LOOKUP_400_STATUSES
from .reply import Reply, json_reply
from .state import SandboxState
from .validation import (
    JSONParseError,
    not_a_dict,
    parse_form,
    parse_integer,
    parse_json,
    validate_initiate,
    validate_pidx,
)

VALIDATION_ERROR = "validation_error"
NOT_FOUND = {"detail": "Not found.", "error_key": VALIDATION_ERROR}

# Both spellings of each path: the docs use the trailing slash, WooCommerce's plugin omits it.
_ROUTES = (
    ("initiate", re.compile(r"/api/v2/epayment/initiate/?")),
    ("lookup", re.compile(r"/api/v2/epayment/lookup/?")),
    ("refund", re.compile(r"/api/merchant-transaction/([^/]+)/refund/?")),
)


def match_api(path: str) -> tuple[str, str | None] | None:
    """(endpoint, transaction id or None) for an API path, else None."""
    for name, pattern in _ROUTES:
        found = pattern.fullmatch(path)
        if found:
            return name, (found.group(1) if found.groups() else None)
    return None


def handle_api(
    state: SandboxState,
    key: str | None,
    method: str,
    endpoint: str,
    arg: str | None,
    raw: bytes,
    authorization: str | None,
    base_url: str,
    content_type: str | None = None,
) -> Reply:
    """Auth first (as DRF's permission check runs before the method), then the endpoint."""
    denied = check_auth(authorization, key)
    if denied is not None:
        return denied
    if method != "POST":
        return json_reply(405, {"detail": f'Method "{method}" not allowed.'}, [("Allow", "POST, OPTIONS")])
    if (content_type or "").split(";")[0].strip().lower() == "application/x-www-form-urlencoded":
        data: Any = parse_form(raw)  # as DRF's FormParser: every value text, the last of a repeated key
    else:
        try:
            data = parse_json(raw)
        except JSONParseError as exc:
            return json_reply(400, {"detail": str(exc)})
    if endpoint == "initiate":
        return initiate(state, data, base_url)
    if endpoint == "lookup":
        return lookup(state, data)
    return refund(state, arg or "", data)


def _invalid(errors: dict[str, Any]) -> Reply:
    return json_reply(400, {**errors, "error_key": VALIDATION_ERROR})


def initiate(state: SandboxState, data: Any, base_url: str) -> Reply:
    if not isinstance(data, dict):
        return _invalid(not_a_dict(data))
    checked = validate_initiate(data)
    if isinstance(checked, dict):
        return _invalid(checked)
    body = state.initiate(
        amount=checked.amount,
        purchase_order_id=checked.purchase_order_id,
        purchase_order_name=checked.purchase_order_name,
        return_url=checked.return_url,
        website_url=checked.website_url,
        customer_info=checked.customer_info,
        extra=checked.extra,
        base_url=base_url,
        ttl=_ttl(checked.extra.get("ttl")),
    )
    return json_reply(200, body)


def _ttl(value: Any) -> int | None:
    """The request's `ttl` (seconds) when it is a positive whole number; otherwise the sandbox's own."""
    seconds = parse_integer(value) if value is not None else None
    return seconds if seconds is not None and 0 < seconds <= 30 * 86400 else None


def lookup(state: SandboxState, data: Any) -> Reply:
    if not isinstance(data, dict):
        return _invalid(not_a_dict(data))
    pidx = validate_pidx(data)
    if isinstance(pidx, dict):
        return _invalid(pidx)
    try:
        body = state.lookup(pidx)
    except UnknownPaymentError:
        return json_reply(404, NOT_FOUND)
    # Expired and User canceled come back as HTTP 400 with the normal six-key body (reference 4.2).
    return json_reply(400 if body["status"] in LOOKUP_400_STATUSES else 200, body)


def refund(state: SandboxState, transaction_id: str, data: Any) -> Reply:
    """Khalti documents only the success body; every error body here is our invention (reference 7)."""
    if not isinstance(data, dict):
        return json_reply(400, {"detail": "Expected a JSON object.", "error_key": VALIDATION_ERROR})
    amount: int | None = None
    if data.get("amount") is not None:
        amount = parse_integer(data["amount"])
        if amount is None:
            return json_reply(400, {"detail": "amount must be a whole number of paisa.", "error_key": VALIDATION_ERROR})
    # "mobile" (bank refunds) is accepted and not checked: the sandbox has only wallet payments.
    try:
        state.refund_transaction(transaction_id, amount)
    except UnknownPaymentError:
        return json_reply(404, NOT_FOUND)
    except SandboxError as exc:
        return json_reply(400, {"detail": _sentence(str(exc)), "error_key": VALIDATION_ERROR})
    return json_reply(200, {"detail": "Transaction refund successful."})


def _sentence(text: str) -> str:
    return text[:1].upper() + text[1:] + ("" if text.endswith(".") else ".")
