"""Fault specs: make the next API requests fail the way a real gateway sometimes does.

A spec is a JSON object; ``count`` (default 1) is how many API requests it serves, after which it is
gone. Specs are consumed first in, first out; a spec with ``path`` only serves that endpoint, and
requests to other endpoints pass it by. Only initiate, lookup, refund (and SMS) requests consume faults.

Keys:

- ``status``: answer with this HTTP code. A 5xx gets an HTML gateway page (as an nginx front would
  send), a 429 gets DRF's throttling body, any other code a JSON ``{"detail": ...}``.
- ``retry_after``: seconds for a ``Retry-After`` header (and for the 429 body's wait).
- ``body``: answer with this raw text (e.g. malformed JSON); ``status`` defaults to 200.
- ``json``: answer with this JSON value; ``status`` defaults to 200.
- ``content_type``: the Content-Type for ``body`` (default ``application/json``).
- ``drop``: close the connection without writing any response.
- ``delay_ms``: sleep this long first.
- ``hold``: ``true``: handle the request normally, then hold the answer back until the fault queue is
  cleared (``DELETE /sandbox/faults``) or ten minutes pass. A test kills the client while its request is
  held: the work was done at Khalti, and the client never learns it.
- ``path``: ``"initiate"``, ``"lookup"`` or ``"refund"``: only that endpoint consumes the spec;
  ``"sms"`` or ``"credit"``: the Sparrow SMS emulator's endpoints, which consume only specs with their path.

Which ones do the real work: a spec with only ``delay_ms`` (or ``hold``) handles the request normally and holds
the answer back for ``delay_ms`` (an initiate really creates the payment at once, which models a
client timing out after its request reached Khalti). Every other spec (status, body, json, drop,
with or without a delay, which then comes first) answers instead of the endpoint: nothing is
created, looked up or refunded.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any

from .errors import SandboxError
from .reply import JSON_TYPE, Reply, html_reply, json_reply

ENDPOINTS = ("initiate", "lookup", "refund", "sms", "credit")
SMS_ENDPOINTS = ("sms", "credit")  # Sparrow SMS: only a spec with this path applies
_KEYS = frozenset(
    {"status", "count", "retry_after", "delay_ms", "drop", "body", "json", "path", "content_type", "hold"}
)
HOLD_S = 600  # the longest a held answer waits for its release

# DRF's default `detail` texts, so an injected 4xx looks like one DRF would send.
_DRF_DETAILS = {
    400: "Malformed request.",
    401: "Incorrect authentication credentials.",
    403: "You do not have permission to perform this action.",
    404: "Not found.",
    406: "Could not satisfy the request Accept header.",
}


@dataclass
class Fault:
    count: int = 1
    status: int | None = None
    retry_after: int | None = None
    delay_ms: int = 0
    drop: bool = False
    body: str | None = None
    json_value: Any = None
    has_json: bool = False
    path: str | None = None
    content_type: str = JSON_TYPE
    hold: bool = False

    @property
    def does_work(self) -> bool:
        """True when the request is still handled normally (a pure delay)."""
        return not (self.drop or self.status is not None or self.body is not None or self.has_json)

    def matches(self, endpoint: str) -> bool:
        if endpoint in SMS_ENDPOINTS:
            return self.path == endpoint
        return self.path is None or self.path == endpoint

    def to_spec(self) -> dict[str, Any]:
        """The spec as it would be posted, with the remaining count."""
        spec: dict[str, Any] = {"count": self.count}
        for key, value in (
            ("status", self.status),
            ("retry_after", self.retry_after),
            ("body", self.body),
            ("path", self.path),
        ):
            if value is not None:
                spec[key] = value
        if self.delay_ms:
            spec["delay_ms"] = self.delay_ms
        if self.drop:
            spec["drop"] = True
        if self.hold:
            spec["hold"] = True
        if self.has_json:
            spec["json"] = self.json_value
        if self.body is not None:
            spec["content_type"] = self.content_type
        return spec


def _int(spec: Mapping[str, Any], key: str, low: int, high: int) -> int | None:
    value = spec.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise SandboxError(f"fault {key!r} must be an integer from {low} to {high}, got {value!r}")
    return value


def parse_fault(spec: Any) -> Fault:
    """Check a spec and turn it into a Fault; raises SandboxError with a clear message."""
    if not isinstance(spec, Mapping):
        raise SandboxError("a fault spec must be a JSON object")
    unknown = sorted(set(spec) - _KEYS)
    if unknown:
        raise SandboxError(f"unknown fault key(s): {', '.join(unknown)}; known: {', '.join(sorted(_KEYS))}")
    fault = Fault(
        count=_int(spec, "count", 1, 1_000_000) or 1,
        status=_int(spec, "status", 200, 599),
        retry_after=_int(spec, "retry_after", 0, 86_400),
        delay_ms=_int(spec, "delay_ms", 0, 600_000) or 0,
    )
    drop = spec.get("drop", False)
    if not isinstance(drop, bool):
        raise SandboxError("fault 'drop' must be true or false")
    fault.drop = drop
    hold = spec.get("hold", False)
    if not isinstance(hold, bool):
        raise SandboxError("fault 'hold' must be true or false")
    fault.hold = hold
    body = spec.get("body")
    if body is not None and not isinstance(body, str):
        raise SandboxError("fault 'body' must be a string (use 'json' for a JSON value)")
    fault.body = body
    if "json" in spec:
        fault.json_value, fault.has_json = spec["json"], True
    content_type = spec.get("content_type", JSON_TYPE)
    if not isinstance(content_type, str) or not content_type:
        raise SandboxError("fault 'content_type' must be a non-empty string")
    fault.content_type = content_type
    path = spec.get("path")
    if path is not None and path not in ENDPOINTS:
        raise SandboxError(f"fault 'path' must be one of {', '.join(ENDPOINTS)}, got {path!r}")
    fault.path = path
    if fault.body is not None and fault.has_json:
        raise SandboxError("a fault takes 'body' or 'json', not both")
    if fault.drop and (fault.status is not None or fault.body is not None or fault.has_json):
        raise SandboxError("a 'drop' fault sends no response, so it takes no status, body or json")
    if fault.hold and not fault.does_work:
        raise SandboxError("a 'hold' fault handles the request and holds its answer: no status, body, json or drop")
    if fault.does_work and "delay_ms" not in spec and not fault.hold:
        raise SandboxError("a fault needs at least one of: status, body, json, drop, delay_ms, hold")
    return fault


def throttled_detail(wait: int | None) -> str:
    """DRF's Throttled message, singular/plural included."""
    if wait is None:
        return "Request was throttled."
    unit = "second" if wait == 1 else "seconds"
    return f"Request was throttled. Expected available in {math.ceil(wait)} {unit}."


def gateway_page(status: int) -> str:
    """An nginx-style error page: what a load balancer in front of Khalti would send."""
    title = f"{status} {_phrase(status)}"
    return (
        f"<html>\r\n<head><title>{title}</title></head>\r\n<body>\r\n<center><h1>{title}</h1></center>\r\n"
        "<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n"
    )


def _phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


def fault_reply(fault: Fault) -> Reply | None:
    """The answer a fault gives instead of the endpoint, or None when the request runs normally."""
    if fault.drop:
        return Reply(0, drop=True)
    if fault.does_work:
        return None
    headers = [] if fault.retry_after is None else [("Retry-After", str(fault.retry_after))]
    status = fault.status if fault.status is not None else 200
    if fault.body is not None:
        return Reply(status, fault.body.encode("utf-8"), fault.content_type, headers)
    if fault.has_json:
        return json_reply(status, fault.json_value, headers)
    if status == 429:
        return json_reply(429, {"detail": throttled_detail(fault.retry_after)}, headers)
    if status >= 500:
        return html_reply(status, gateway_page(status), headers)
    detail = _DRF_DETAILS.get(status, f"{_phrase(status)}.")
    return json_reply(status, {"detail": detail}, headers)
