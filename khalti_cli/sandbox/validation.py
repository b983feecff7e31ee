"""Khalti's request checks, with Django REST Framework's messages (reference 3.3 and 3.5).

Field errors are collected for every field and reported together; the object-level check
("Amount Breakdown mismatch.") runs only when every field passed, as in DRF.
"""

from __future__ import annotations

import ipaddress
import json
import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

REQUIRED = "This field is required."
NULL = "This field may not be null."
BLANK = "This field may not be blank."
NOT_STRING = "Not a valid string."
BAD_URL = "Enter a valid URL."
BAD_INT = "A valid integer is required."
MIN_AMOUNT_MSG = "Amount should be greater than Rs. 10, that is 1000 paisa."
BREAKDOWN_MISMATCH = "Amount Breakdown mismatch."
MIN_AMOUNT = 1000

# DRF's IntegerField strips a trailing ".0…" (so "1000.0" and 1000.0 pass); we also insist on digits
# so Python-only forms such as "1_000" are refused.
_INTEGER = re.compile(r"\s*[+-]?\d+(\.0*)?\s*")
_LABEL = re.compile(r"(?!-)[a-z0-9\u00a1-\uffff-]{1,63}(?<!-)", re.IGNORECASE)
_TLD = re.compile(r"([a-z\u00a1-\uffff]{2,63}|xn--[a-z0-9]{1,59})", re.IGNORECASE)

Errors = dict[str, Any]


class JSONParseError(ValueError):
    """The body is not JSON; str() is DRF's detail text."""


def parse_json(raw: bytes) -> Any:
    """The request body as JSON; an empty body is an empty object, as DRF treats it."""
    if not raw.strip():
        return {}
    try:
        return json.loads(raw.decode("utf-8"), parse_constant=_reject_constant)
    except (UnicodeDecodeError, ValueError) as exc:
        raise JSONParseError(f"JSON parse error - {exc}") from None


def parse_form(raw: bytes) -> dict[str, str]:
    """A form-encoded body as Django's QueryDict reads it: text values, the last of a repeated key."""
    from urllib.parse import parse_qsl

    return dict(parse_qsl(raw.decode("utf-8", "replace"), keep_blank_values=True))


def _reject_constant(name: str) -> Any:
    # DRF's strict JSON parser refuses NaN and Infinity, which Python's json would accept.
    raise ValueError("Out of range float values are not JSON compliant")


def not_a_dict(data: Any) -> Errors:
    return {"non_field_errors": [f"Invalid data. Expected a dictionary, but got {_type_name(data)}."]}


def _type_name(value: Any) -> str:
    # DRF names the Python type of the parsed JSON value.
    return type(value).__name__


def parse_integer(value: Any) -> int | None:
    """DRF IntegerField coercion; None when the value is not an integer."""
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        return None
    text = str(value)
    if not _INTEGER.fullmatch(text):
        return None
    return int(text.strip().split(".")[0])


def is_valid_url(text: str) -> bool:
    """Roughly Django's URLValidator, restricted to http and https."""
    if len(text) > 2048 or any(ch.isspace() for ch in text):
        return False
    try:
        parts = urlsplit(text)
        parts.port  # noqa: B018 - raises ValueError for a bad port
    except ValueError:
        return False
    host = parts.hostname
    if parts.scheme.lower() not in ("http", "https") or not host:
        return False
    if host == "localhost":
        return True
    if "[" in parts.netloc or re.fullmatch(r"[\d.]+", host):  # an IPv6 or IPv4 literal
        return _is_ip(host)
    labels = host.rstrip(".").split(".")
    return len(labels) >= 2 and all(_LABEL.fullmatch(lb) for lb in labels) and bool(_TLD.fullmatch(labels[-1]))


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def _char(data: dict[str, Any], name: str, errors: Errors, *, required: bool = True) -> str | None:
    """DRF CharField: required, not null, a string (numbers are stringified), not blank after strip."""
    if name not in data:
        if required:
            errors[name] = [REQUIRED]
        return None
    value = data[name]
    if value is None:
        errors[name] = [NULL]
        return None
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        errors[name] = [NOT_STRING]
        return None
    text = str(value).strip()
    if not text:
        errors[name] = [BLANK]
        return None
    return text


def _url(data: dict[str, Any], name: str, errors: Errors) -> str | None:
    text = _char(data, name, errors)
    if text is not None and not is_valid_url(text):
        errors[name] = [BAD_URL]
        return None
    return text


def _amount(data: dict[str, Any], errors: Errors) -> int | None:
    if "amount" not in data:
        errors["amount"] = [REQUIRED]
        return None
    if data["amount"] is None:
        errors["amount"] = [NULL]
        return None
    amount = parse_integer(data["amount"])
    if amount is None:
        errors["amount"] = [BAD_INT]
    elif amount < MIN_AMOUNT:
        errors["amount"] = [MIN_AMOUNT_MSG]
        return None
    return amount


def _breakdown(value: Any, errors: Errors) -> list[int] | None:
    """amount_breakdown: a list of {label, amount}; returns the amounts, or None after an error."""
    if value is None:
        return None
    if not isinstance(value, list):
        errors["amount_breakdown"] = [f'Expected a list of items but got type "{_type_name(value)}".']
        return None
    amounts: list[int] = []
    item_errors: list[Errors] = []
    for item in value:
        if not isinstance(item, dict):
            item_errors.append(not_a_dict(item))
            continue
        errs: Errors = {}
        _char(item, "label", errs)
        amount = parse_integer(item.get("amount"))
        if "amount" not in item:
            errs["amount"] = [REQUIRED]
        elif amount is None:
            errs["amount"] = [NULL if item["amount"] is None else BAD_INT]
        else:
            amounts.append(amount)
        item_errors.append(errs)
    if any(item_errors):
        errors["amount_breakdown"] = item_errors
        return None
    return amounts


@dataclass
class InitiateRequest:
    return_url: str
    website_url: str
    amount: int
    purchase_order_id: str
    purchase_order_name: str
    customer_info: Any = None
    # Accepted as-is: amount_breakdown, product_details, modes, bank, ttl and every merchant_* key.
    extra: dict[str, Any] = field(default_factory=dict)


_EXTRA_KEYS = ("amount_breakdown", "product_details", "modes", "bank", "ttl")


def validate_initiate(data: dict[str, Any]) -> InitiateRequest | Errors:
    """The checked request, or DRF's error dict (without error_key; the caller adds it)."""
    errors: Errors = {}
    return_url = _url(data, "return_url", errors)
    website_url = _url(data, "website_url", errors)
    amount = _amount(data, errors)
    order_id = _char(data, "purchase_order_id", errors)
    order_name = _char(data, "purchase_order_name", errors)
    customer_info = data.get("customer_info")
    if customer_info is not None and not isinstance(customer_info, dict):
        errors["customer_info"] = [f'Expected a dictionary of items but got type "{_type_name(customer_info)}".']
    breakdown = _breakdown(data.get("amount_breakdown"), errors)
    if errors or return_url is None or website_url is None or amount is None or order_id is None or order_name is None:
        return errors
    if breakdown is not None and sum(breakdown) != amount:
        return {"amount": [BREAKDOWN_MISMATCH]}
    extra = {k: v for k, v in data.items() if k in _EXTRA_KEYS or k.startswith("merchant_")}
    return InitiateRequest(return_url, website_url, amount, order_id, order_name, customer_info, extra)


def validate_pidx(data: dict[str, Any]) -> str | Errors:
    errors: Errors = {}
    pidx = _char(data, "pidx", errors)
    return errors if pidx is None else pidx
