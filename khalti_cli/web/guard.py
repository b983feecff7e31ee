"""What keeps the pay page safe on the internet: security headers on every answer, a cap on request
bodies, an access log that never writes a token, and an in-memory rate limit for POSTs.

Plain ASGI middleware (no framework types), so every answer passes through it, errors included.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections import deque
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any
from urllib.parse import urlsplit

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

MAX_BODY = 16 * 1024  # the pay page's forms carry no data; anything bigger is not a parent
ACCESS_LOG = logging.getLogger("khalti.serve.access")
_TOKEN_PATH = re.compile(r"^/pay/[^/]+")


def khalti_origins(base_url: str) -> str:
    """Where the "Pay with Khalti" form may lead (CSP form-action also covers the 303 it answers)."""
    origins = ["https://khalti.com", "https://*.khalti.com"]
    parts = urlsplit(base_url)
    origin = f"{parts.scheme}://{parts.netloc}"
    if origin not in origins and not parts.netloc.endswith("khalti.com"):
        origins.append(origin)  # the sandbox's own payment page
    return " ".join(origins)


def security_headers(form_action: str, https: bool) -> list[tuple[bytes, bytes]]:
    csp = (
        "default-src 'none'; style-src 'self'; font-src 'self'; img-src 'self'; "
        f"form-action 'self' {form_action}; frame-ancestors 'none'; base-uri 'none'"
    )
    headers = [
        ("content-security-policy", csp),
        ("x-frame-options", "DENY"),
        ("referrer-policy", "no-referrer"),  # the token is in the URL: never send it to anyone
        ("x-content-type-options", "nosniff"),
        ("cross-origin-opener-policy", "same-origin"),
        ("cross-origin-resource-policy", "same-origin"),
        ("permissions-policy", "camera=(), microphone=(), geolocation=(), payment=(), usb=()"),
        ("x-robots-tag", "noindex, nofollow"),
    ]
    if https:
        headers.append(("strict-transport-security", "max-age=31536000"))
    return [(k.encode(), v.encode()) for k, v in headers]


def redact(path: str) -> str:
    """A path as the access log writes it: /pay/<token> -> /pay/***; no query string ever."""
    return _TOKEN_PATH.sub("/pay/***", path)


class Guard:
    """Headers, body cap and access log around the app."""

    def __init__(self, app: ASGIApp, *, form_action: str, https: bool, max_body: int = MAX_BODY) -> None:
        self.app = app
        self.headers = security_headers(form_action, https)
        self.max_body = max_body

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = [0]

        async def guarded_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                status[0] = message["status"]
                names = {k.lower() for k, _ in message.get("headers", [])}
                extra = [(k, v) for k, v in self.headers if k not in names]
                if b"cache-control" not in names:
                    extra.append((b"cache-control", b"no-store"))
                message["headers"] = [*message.get("headers", []), *extra]
            await send(message)

        try:
            body = await self._read_body(scope, receive)
            if body is None:
                await _plain(guarded_send, 413, "Request too large.\n")
                return
            await self.app(scope, _replay(body), guarded_send)
        finally:
            client = scope.get("client") or ("-", 0)
            ms = (time.perf_counter() - started) * 1000
            ACCESS_LOG.info('%s "%s %s" %s %.1fms', client[0], scope["method"], redact(scope["path"]), status[0], ms)

    async def _read_body(self, scope: Scope, receive: Receive) -> bytes | None:
        """The whole body (bounded), or None when it is larger than the cap."""
        for name, value in scope.get("headers", []):
            if name == b"content-length":
                try:
                    if int(value) > self.max_body:
                        return None
                except ValueError:
                    return None
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                break
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_body:
                return None
            chunks.append(chunk)
            if not message.get("more_body"):
                break
        return b"".join(chunks)


def _replay(body: bytes) -> Receive:
    sent = [False]

    async def receive() -> Message:
        if not sent[0]:
            sent[0] = True
            return {"type": "http.request", "body": body, "more_body": False}
        return {"type": "http.disconnect"}

    return receive


async def _plain(send: Send, status: int, text: str) -> None:
    body = text.encode()
    headers = [(b"content-type", b"text/plain; charset=utf-8"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


class RateLimit:
    """At most `limit` events per key in a sliding `window` seconds; in memory, thread-safe, bounded."""

    def __init__(self, limit: int, window: float = 60.0, max_keys: int = 100_000) -> None:
        self.limit = limit
        self.window = window
        self.max_keys = max_keys
        self._hits: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def allow(self, key: str) -> float | None:
        """None if allowed (and counted), else the seconds until it would be."""
        moment = time.monotonic()
        with self._lock:
            hits = self._hits.get(key)
            if hits is None:
                if len(self._hits) >= self.max_keys:
                    self._prune(moment)
                hits = self._hits[key] = deque()
            while hits and hits[0] <= moment - self.window:
                hits.popleft()
            if len(hits) >= self.limit:
                return max(0.0, hits[0] + self.window - moment)
            hits.append(moment)
            return None

    def _prune(self, moment: float) -> None:
        for key in [k for k, h in self._hits.items() if not h or h[-1] <= moment - self.window]:
            del self._hits[key]
        if len(self._hits) >= self.max_keys:  # still full (a flood of addresses): forget the oldest half
            for key in list(self._hits)[: self.max_keys // 2]:
                del self._hits[key]
