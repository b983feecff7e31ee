"""One HTTP exchange: read the request, route it to the API, the page or the control API, answer."""

from __future__ import annotations

import contextlib
import re
import socket
import sys
import threading
import time
import traceback
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any, Protocol, TextIO, cast
from urllib.parse import urlsplit

from .api import handle_api, match_api
from .control import handle_control
from .faults import HOLD_S, fault_reply
from .page import get_page, post_page, return_page
from .reply import Reply, html_reply, json_reply
from .sparrow import handle_sms, match_sms
from .state import SandboxState

_MAX_BODY = 5 * 1024 * 1024
_HOST_HEADER = re.compile(r"[A-Za-z0-9.\-]+(:\d{1,5})?|\[[0-9A-Fa-f:.]+\](:\d{1,5})?")


@dataclass
class Config:
    """Per-server settings the handler reads."""

    latency_ms: int
    key: str | None = field(repr=False)  # never printed, never logged
    log: TextIO | None
    wildcard: bool
    log_lock: threading.Lock = field(default_factory=threading.Lock)

    def write(self, line: str) -> None:
        if self.log is None:
            return
        with self.log_lock:
            try:
                self.log.write(line if line.endswith("\n") else line + "\n")
                self.log.flush()
            except (OSError, ValueError):  # a closed or broken log stream must not kill a request
                pass


class _BadRequest(Exception):
    pass


class _ClientGone(Exception):
    """The client hung up before its request was complete: nobody is left to answer."""


class Served(Protocol):
    """What the handler needs from its server."""

    state: SandboxState
    config: Config


def report_bug(config: Config) -> None:
    text = traceback.format_exc()
    if config.log is not None:
        config.write(text)
    else:
        sys.stderr.write(text)


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "khalti-sandbox"
    sys_version = ""
    disable_nagle_algorithm = True  # headers and body go out in two writes: avoid Nagle's 40 ms stall

    def log_message(self, format: str, *args: Any) -> None:
        """Silence http.server's stderr log; we write our own line to the configured stream."""

    def do_GET(self) -> None:
        self._dispatch()

    do_POST = do_PUT = do_PATCH = do_DELETE = do_GET

    @property
    def _srv(self) -> Served:
        return cast(Served, self.server)

    def _dispatch(self) -> None:
        started = time.perf_counter()
        path = urlsplit(self.path).path or "/"
        note = ""
        try:
            raw = self._read_body()
            reply, note = self._route(path, urlsplit(self.path).query, raw)
        except (_ClientGone, ConnectionError, TimeoutError):
            self.close_connection = True
            self._srv.config.write(f"{self.command} {path} client-closed")
            return
        except _BadRequest as exc:
            self.close_connection = True
            reply = json_reply(400, {"detail": str(exc)})
        except Exception:
            report_bug(self._srv.config)
            self.close_connection = True
            reply = json_reply(500, {"detail": "A server error occurred."})
        if reply.drop:
            self._drop()
        else:
            self._send(reply)
        elapsed = (time.perf_counter() - started) * 1000
        status = "dropped" if reply.drop else str(reply.status)
        self._srv.config.write(f"{self.command} {path} {status} {elapsed:.1f}ms{note}")

    def _route(self, path: str, query: str, raw: bytes) -> tuple[Reply, str]:
        state, config, method = self._srv.state, self._srv.config, self.command
        api = match_api(path)
        if api is not None:
            endpoint, arg = api
            if config.latency_ms:
                time.sleep(config.latency_ms / 1000)  # outside every lock
            fault = state.take_fault(endpoint) if method == "POST" else None
            if fault is not None and not fault.does_work:
                time.sleep(fault.delay_ms / 1000)
                injected = fault_reply(fault)
                if injected is not None:  # always, for a fault that does no work
                    return injected, " (fault)"
            auth = self.headers.get("Authorization")
            content_type = self.headers.get("Content-Type")
            reply = handle_api(state, config.key, method, endpoint, arg, raw, auth, self._base_url(), content_type)
            if fault is not None:
                # A pure delay: the work is done on arrival and only the answer is late, so a client
                # that gives up (times out) finds the work done, as with a slow network to Khalti.
                time.sleep(fault.delay_ms / 1000)
                if fault.hold:
                    state.wait_for_release(HOLD_S)
                    return reply, " (held)"
                return reply, " (delayed)"
            return reply, ""
        sms = match_sms(path)
        if sms is not None:
            return self._sms(sms, query, raw)
        if path == "/sandbox" or path.startswith("/sandbox/"):
            return handle_control(state, method, path, raw), ""
        if path == "/" and method == "GET":
            return get_page(state, query), ""
        if path == "/return" and method == "GET":
            return return_page(state, query), ""
        if path in ("/pay", "/cancel") and method == "POST":
            return post_page(state, path[1:], raw), ""
        if path in ("/", "/pay", "/cancel"):
            return html_reply(405, "<!doctype html><title>405</title><p>Method not allowed.</p>\n"), ""
        return json_reply(404, {"detail": "Not found."}), ""

    def _sms(self, endpoint: str, query: str, raw: bytes) -> tuple[Reply, str]:
        state, config = self._srv.state, self._srv.config
        if config.latency_ms:
            time.sleep(config.latency_ms / 1000)
        fault = state.take_fault(endpoint)
        if fault is not None and not fault.does_work:
            time.sleep(fault.delay_ms / 1000)
            injected = fault_reply(fault)
            if injected is not None:
                return injected, " (fault)"
        reply = handle_sms(state.sms, endpoint, query, raw, self.headers.get("Content-Type", ""))
        if fault is not None:
            time.sleep(fault.delay_ms / 1000)
            if fault.hold:
                state.wait_for_release(HOLD_S)
                return reply, " (held)"
            return reply, " (delayed)"
        return reply, ""

    def _base_url(self) -> str:
        """The payment page's address: ours, or the Host the client used when bound to all interfaces."""
        host = self.headers.get("Host", "")
        if self._srv.config.wildcard and _HOST_HEADER.fullmatch(host):
            return f"http://{host}"
        return self._srv.state.base_url

    def _read_body(self) -> bytes:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            return self._read_chunked()
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            raise _BadRequest("Invalid Content-Length header.") from None
        if not 0 <= length <= _MAX_BODY:
            raise _BadRequest("Request body too large.")
        raw = self.rfile.read(length) if length else b""
        if len(raw) < length:
            raise _ClientGone
        return raw

    def _read_chunked(self) -> bytes:
        chunks: list[bytes] = []
        total = 0
        while True:
            line = self.rfile.readline(1024)
            if not line:
                raise _ClientGone
            try:
                size = int(line.split(b";")[0].strip(), 16)
            except ValueError:
                raise _BadRequest("Invalid chunked body.") from None
            if size == 0:
                while self.rfile.readline(1024).strip():  # skip trailers up to the blank line
                    pass
                return b"".join(chunks)
            total += size
            if total > _MAX_BODY:
                raise _BadRequest("Request body too large.")
            chunk = self.rfile.read(size)
            if len(chunk) < size:
                raise _ClientGone
            chunks.append(chunk)
            self.rfile.readline(1024)  # the CRLF after each chunk

    def _send(self, reply: Reply) -> None:
        try:
            self.send_response(reply.status)
            self.send_header("Content-Type", reply.content_type)
            self.send_header("Content-Length", str(len(reply.body)))  # always: keep-alive needs it
            for name, value in reply.headers:
                self.send_header(name, value)
            if self.close_connection:
                self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(reply.body)
        except (ConnectionError, TimeoutError):
            self.close_connection = True  # the client went away; nothing to tell anyone

    def _drop(self) -> None:
        """Close the socket without a single byte of response (the "drop" fault)."""
        self.close_connection = True
        with contextlib.suppress(OSError):
            self.connection.shutdown(socket.SHUT_RDWR)
