"""The control API for scripts and tests: drive payments and queue faults. No auth; JSON in and out.

    GET    /sandbox/payments                    every payment's state, oldest first
    GET    /sandbox/payments/<pidx>             one payment's state
    POST   /sandbox/payments/<pidx>/<action>    complete | pending | cancel | expire | refund
    GET    /sandbox/faults                      the queued fault specs
    POST   /sandbox/faults                      queue a fault spec (see faults.py)
    DELETE /sandbox/faults                      clear the queue
    GET|POST|DELETE /sandbox/sms                the SMS emulator: messages, credits (see sparrow.py)

Errors: 400 for a bad request (unknown action, bad body), 404 for an unknown pidx, 409 for a
transition the payment cannot make; every error body is {"error": "..."}.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .errors import SandboxError, UnknownPaymentError
from .reply import Reply, json_reply
from .state import SandboxState
from .validation import JSONParseError, parse_json

ACTIONS = ("complete", "pending", "cancel", "expire", "refund")


def _error(status: int, message: str) -> Reply:
    return json_reply(status, {"error": message})


def _whole(body: dict[str, Any], key: str, minimum: int) -> int | None:
    value = body.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(f"{key!r} must be a whole number of paisa, at least {minimum}")
    return value


def _act(state: SandboxState, pidx: str, action: str, body: dict[str, Any]) -> dict[str, Any]:
    if action == "complete":
        mobile = body.get("mobile", "9800000001")
        if not isinstance(mobile, str):
            raise ValueError("'mobile' must be a string")
        return state.complete(pidx, _whole(body, "total_amount", 0), mobile)
    if action == "refund":
        return state.refund(pidx, _whole(body, "amount", 1))
    simple: dict[str, Callable[[str], dict[str, Any]]] = {
        "pending": state.set_pending,
        "cancel": state.cancel,
        "expire": state.expire,
    }
    return simple[action](pidx)


def handle_control(state: SandboxState, method: str, path: str, raw: bytes) -> Reply:
    parts = [p for p in path.split("/") if p][1:]  # drop the leading "sandbox"
    try:
        body = parse_json(raw)
    except JSONParseError as exc:
        return _error(400, str(exc))
    if not isinstance(body, dict):
        return _error(400, "the request body must be a JSON object")
    if parts == ["sms"]:
        return state.sms.control(method, body)
    if parts == ["faults"]:
        return _faults(state, method, body)
    if not parts or parts[0] != "payments" or len(parts) > 3:
        return _error(404, f"no control endpoint at {path}")
    if len(parts) < 3:
        if method != "GET":
            return _error(405, f"{method} is not allowed here; use GET")
        if len(parts) == 1:
            return json_reply(200, state.all())
        payment = state.get(parts[1])
        return json_reply(200, payment) if payment else _error(404, f"unknown pidx {parts[1]!r}")
    pidx, action = parts[1], parts[2]
    if method != "POST":
        return _error(405, f"{method} is not allowed here; use POST")
    if action not in ACTIONS:
        return _error(400, f"unknown action {action!r}; use one of: {', '.join(ACTIONS)}")
    try:
        return json_reply(200, _act(state, pidx, action, body))
    except UnknownPaymentError as exc:
        return _error(404, str(exc))
    except SandboxError as exc:
        return _error(409, str(exc))
    except ValueError as exc:
        return _error(400, str(exc))


def _faults(state: SandboxState, method: str, body: dict[str, Any]) -> Reply:
    if method == "POST":
        try:
            state.add_fault(body)
        except SandboxError as exc:
            return _error(400, str(exc))
    elif method == "DELETE":
        state.clear_faults()
    elif method != "GET":
        return _error(405, f"{method} is not allowed here; use GET, POST or DELETE")
    return json_reply(200, {"faults": state.faults()})
