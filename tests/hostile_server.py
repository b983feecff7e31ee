"""A small hostile 'Khalti' on 127.0.0.1 (port 0) for the tests: every answer is scripted, byte for byte.

An `Answer` says what to send: the status line, headers and body, and how: all at once, dripped one byte at
a time from a chosen point (status line, headers or body) with a pause between bytes, or a huge body
streamed until the client stops reading. It speaks HTTP/1.1 over a raw socket (not http.server), so it
can send what a well-behaved server never would. Each request is recorded (path, headers, JSON body),
so a test can echo the Authorization header back the way a careless proxy does.

`FakeKhalti` answers initiate like Khalti (a new pidx each time) and lets the test script each lookup.
"""

from __future__ import annotations

import json
import socket
import socketserver
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from typing import Any

REASONS = {200: "OK", 302: "Found", 400: "Bad Request", 401: "Unauthorized", 404: "Not Found", 500: "Error"}


@dataclass
class Request:
    method: str
    path: str
    headers: dict[str, str]  # lower-case names
    body: bytes

    def json(self) -> Any:
        try:
            return json.loads(self.body or b"null")
        except ValueError:
            return None

    @property
    def authorization(self) -> str:
        return self.headers.get("authorization", "")


@dataclass
class Answer:
    status: int = 200
    body: bytes = b""
    headers: list[tuple[str, str]] = field(default_factory=list)
    content_length: bool = True  # False: no Content-Length, the body ends when the connection closes
    drip_from: str | None = None  # "status", "headers" or "body": from there, one byte per `drip_s`
    drip_s: float = 0.02
    huge: int = 0  # after `body`, stream this many filler bytes (counted in Content-Length)

    @staticmethod
    def json(status: int, value: Any, **kw: Any) -> Answer:
        return Answer(status, json.dumps(value).encode(), headers=[("Content-Type", "application/json")], **kw)

    def wire(self) -> tuple[bytes, bytes, bytes]:
        """(status line, header block, body), each as sent."""
        status = f"HTTP/1.1 {self.status} {REASONS.get(self.status, 'Whatever')}\r\n".encode()
        headers = [*self.headers, ("Connection", "close")]
        if self.content_length:
            headers.append(("Content-Length", str(len(self.body) + self.huge)))
        block = "".join(f"{k}: {v}\r\n" for k, v in headers).encode("latin-1") + b"\r\n"
        return status, block, self.body


Script = Callable[[Request], Answer]


class _Handler(socketserver.BaseRequestHandler):
    server: _Server

    def handle(self) -> None:
        sock: socket.socket = self.request
        sock.settimeout(10)
        try:
            request = _read_request(sock)
            if request is None:
                return
            self.server.requests.append(request)
            answer = self.server.script(request)
            _send(sock, answer, self.server.stopping)
        except OSError:
            pass  # the client went away: that is what many of these tests are about


class _Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, script: Script) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.script = script
        self.requests: list[Request] = []
        self.stopping = threading.Event()


def _read_request(sock: socket.socket) -> Request | None:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            return None
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    method, path, _ = lines[0].split(" ", 2)
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    length = int(headers.get("content-length", "0") or 0)
    while len(body) < length:
        chunk = sock.recv(65536)
        if not chunk:
            break
        body += chunk
    return Request(method, path, headers, body)


def _send(sock: socket.socket, answer: Answer, stopping: threading.Event) -> None:
    status, block, body = answer.wire()
    parts = {"status": status, "headers": block, "body": body}
    at_once = b""
    dripped = b""
    dripping = False
    for name in ("status", "headers", "body"):
        if name == answer.drip_from:
            dripping = True
        if dripping:
            dripped += parts[name]
        else:
            at_once += parts[name]
    if at_once:
        sock.sendall(at_once)
    for i in range(len(dripped)):
        if stopping.is_set():
            return
        sock.sendall(dripped[i : i + 1])
        time.sleep(answer.drip_s)
    sent = 0
    filler = b" " * 65536  # whitespace: still JSON, if anyone were to read it all
    while sent < answer.huge and not stopping.is_set():
        piece = filler[: min(len(filler), answer.huge - sent)]
        sock.sendall(piece)
        sent += len(piece)
    with suppress(OSError):
        sock.shutdown(socket.SHUT_WR)


class HostileServer:
    def __init__(self, script: Script) -> None:
        self._server = _Server(script)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    @property
    def requests(self) -> list[Request]:
        return self._server.requests

    @property
    def script(self) -> Script:
        return self._server.script

    @script.setter
    def script(self, script: Script) -> None:
        self._server.script = script

    def start(self) -> HostileServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.stopping.set()
        self._server.shutdown()
        self._server.server_close()


@contextmanager
def hostile_server(script: Script) -> Iterator[HostileServer]:
    server = HostileServer(script).start()
    try:
        yield server
    finally:
        server.stop()


# --- a scripted Khalti -------------------------------------------------------------------------------------


def lookup_body(pidx: str, status: str = "Completed", amount: int = 150000, **extra: Any) -> dict[str, Any]:
    body = {
        "pidx": pidx,
        "total_amount": amount,
        "status": status,
        "transaction_id": "T" + pidx[1:] if status == "Completed" else None,
        "fee": 0,
        "refunded": False,
    }
    body.update(extra)
    return body


class FakeKhalti:
    """Initiate answers like Khalti's; lookups are answered by `lookups[pidx]` (default: Initiated)."""

    def __init__(self) -> None:
        self.lookups: dict[str, Callable[[Request], Answer]] = {}
        self.initiate: Callable[[Request], Answer] | None = None
        self._count = 0
        self._lock = threading.Lock()

    def __call__(self, request: Request) -> Answer:
        if request.path.startswith("/api/v2/epayment/initiate"):
            if self.initiate is not None:
                return self.initiate(request)
            with self._lock:
                self._count += 1
                pidx = f"P{self._count:021d}"
            url = f"https://test-pay.khalti.com/?pidx={pidx}"
            return Answer.json(200, {"pidx": pidx, "payment_url": url, "expires_in": 1800})
        if request.path.startswith("/api/v2/epayment/lookup"):
            pidx = str((request.json() or {}).get("pidx"))
            answer = self.lookups.get(pidx)
            return answer(request) if answer else Answer.json(200, lookup_body(pidx, "Initiated"))
        return Answer.json(404, {"detail": "Not found."})


@contextmanager
def fake_khalti() -> Iterator[tuple[HostileServer, FakeKhalti]]:
    khalti = FakeKhalti()
    with hostile_server(khalti) as server:
        yield server, khalti
