"""An emulator of Sparrow SMS's HTTP API (github.com/sparrowsms/apidocs, docs/sms/), word for word:

    GET|POST /v2/sms/     token, from, to (comma-separated 10-digit numbers), text
    GET      /v2/credit/  token

Parameters may come in the query string, a form body (application/x-www-form-urlencoded) or a
multipart body (curl -F, as the docs' example). Every documented answer is given where it applies,
with the documented bodies and HTTP codes (200; 403 with response_code 1000-1013). Any non-empty
token is accepted unless the sandbox was started with --sms-token; the sender identity is checked only
when started with --sms-from. Each receiver costs one credit a segment.

Control (for tests and training): GET /sandbox/sms (the messages received and the credits),
POST /sandbox/sms {"credits": n} (set the credits available) or {"error": 1001 | 1003..1006 | null} (the
account answers every request with that documented error, or again normally), DELETE /sandbox/sms (forget
the messages).
Faults: POST /sandbox/faults with "path": "sms" or "credit" (a fault without a path is for Khalti's API).
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass, field
from email.parser import BytesParser
from email.policy import HTTP
from typing import Any
from urllib.parse import parse_qsl

from khalti_cli.smsparts import count

from .reply import Reply, json_reply

ROUTES = (("sms", re.compile(r"/v2/sms/?")), ("credit", re.compile(r"/v2/credit/?")))
RECEIVER = re.compile(r"9[678]\d{8}")
DEFAULT_CREDITS = 100_000

ACCOUNT_ERRORS = frozenset({1001, 1003, 1004, 1005, 1006})  # the account, not the request
ERRORS = {
    1000: "A required field is missing",
    1001: "Invalid IP Address",
    1002: "Invalid Token",
    1003: "Account Inactive",
    1004: "Account Inactive",
    1005: "Account has been expired",
    1006: "Account has been expired",
    1007: "Invalid Receiver",
    1008: "Invalid Sender",
    1010: "Text cannot be empty",
    1011: "No valid receiver",
    1012: "No Credits Available",
    1013: "Insufficient Credits",
}


@dataclass
class SmsState:
    token: str | None = field(default=None, repr=False)
    sender: str | None = None
    credits_available: int = DEFAULT_CREDITS
    credits_consumed: int = 0
    requests: int = 0  # accepted send requests; each message names the one it came in
    account_error: int | None = None  # 1001, 1003-1006: every request answered so (POST {"error": code})
    messages: list[dict[str, Any]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def control(self, method: str, body: dict[str, Any]) -> Reply:
        with self.lock:
            if method == "POST":
                if "error" in body:
                    code = body["error"]
                    if code is not None and code not in ACCOUNT_ERRORS:
                        return json_reply(400, {"error": f"'error' must be one of {sorted(ACCOUNT_ERRORS)} or null"})
                    self.account_error = code
                if "credits" in body:
                    credits = body["credits"]
                    if isinstance(credits, bool) or not isinstance(credits, int) or credits < 0:
                        return json_reply(400, {"error": "'credits' must be a whole number, 0 or more"})
                    self.credits_available = credits
            elif method == "DELETE":
                self.messages.clear()
            elif method != "GET":
                return json_reply(405, {"error": f"{method} is not allowed here; use GET, POST or DELETE"})
            return json_reply(
                200,
                {
                    "messages": list(self.messages),
                    "credits_available": self.credits_available,
                    "credits_consumed": self.credits_consumed,
                    "error": self.account_error,
                },
            )


def match_sms(path: str) -> str | None:
    for name, pattern in ROUTES:
        if pattern.fullmatch(path):
            return name
    return None


def _params(query: str, raw: bytes, content_type: str) -> dict[str, str]:
    values = dict(parse_qsl(query, keep_blank_values=True))
    if content_type.lower().startswith("multipart/form-data"):
        message = BytesParser(policy=HTTP).parsebytes(b"Content-Type: " + content_type.encode() + b"\r\n\r\n" + raw)
        for part in message.iter_parts():
            name = part.get_param("name", header="content-disposition")
            payload = part.get_payload(decode=True)
            if name and isinstance(payload, bytes | None):
                values[str(name)] = (payload or b"").decode("utf-8", "replace")
    elif raw:
        values.update(parse_qsl(raw.decode("utf-8", "replace"), keep_blank_values=True))
    return values


def _error(code: int) -> Reply:
    return json_reply(403, {"response_code": code, "response": ERRORS[code]})


def handle_sms(state: SmsState, endpoint: str, query: str, raw: bytes, content_type: str) -> Reply:
    params = _params(query, raw, content_type)
    token = params.get("token", "")
    if endpoint == "credit":
        if not token or (state.token is not None and token != state.token):
            return _error(1002)
        if state.account_error is not None:
            return _error(state.account_error)
        with state.lock:
            return json_reply(
                200,
                {
                    "credits_available": state.credits_available,
                    "credits_consumed": state.credits_consumed,
                    "response_code": 200,
                },
            )
    if any(name not in params for name in ("token", "from", "to", "text")) or not token:
        return _error(1000)
    if state.token is not None and token != state.token:
        return _error(1002)
    if state.account_error is not None:
        return _error(state.account_error)
    if state.sender is not None and params["from"] != state.sender:
        return _error(1008)
    text = params["text"]
    if not text.strip():
        return _error(1010)
    numbers = [n.strip() for n in params["to"].split(",") if n.strip()]
    valid = [n for n in numbers if RECEIVER.fullmatch(n)]
    if not valid:
        return _error(1007 if len(numbers) <= 1 else 1011)
    n = len(valid)
    cost = count(text).segments * n
    with state.lock:
        if state.credits_available <= 0:
            return _error(1012)
        if state.credits_available < cost:
            return _error(1013)
        state.credits_available -= cost
        state.credits_consumed += cost
        state.requests += 1
        for number in valid:
            state.messages.append(
                {
                    "id": len(state.messages) + 1,
                    "request": state.requests,
                    "from": params["from"],
                    "to": number,
                    "text": text,
                    "credits": cost // n,
                }
            )
    return json_reply(200, {"count": n, "response_code": 200, "response": f"{n} mesages has been queued for delivery"})
