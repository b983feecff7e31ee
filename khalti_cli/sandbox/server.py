"""The sandbox's server: bind, serve in a thread or in the foreground, shut down cleanly."""

from __future__ import annotations

import contextlib
import socket
import socketserver
import sys
import threading
from collections.abc import Callable
from http.server import ThreadingHTTPServer
from types import TracebackType
from typing import Any, TextIO

from .handler import Config, Handler, report_bug
from .state import SandboxState

_WILDCARDS = ("", "0.0.0.0", "::")


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 256
    # Never wait for handler threads at close: a client may hold a keep-alive socket forever.
    block_on_close = False

    def __init__(self, host: str, port: int, state: SandboxState, config: Config) -> None:
        self.state = state
        self.config = config
        self._open: set[socket.socket] = set()
        self._open_lock = threading.Lock()
        self.address_family = socket.AF_INET6 if ":" in host else socket.AF_INET
        super().__init__((host, port), Handler)

    def server_bind(self) -> None:
        # HTTPServer.server_bind calls socket.getfqdn(), a reverse-DNS lookup that can stall for seconds.
        socketserver.TCPServer.server_bind(self)
        self.server_name = str(self.server_address[0])
        self.server_port = int(self.server_address[1])

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._open_lock:
            self._open.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self._open_lock:
            self._open.discard(request)
        super().shutdown_request(request)

    def close_connections(self) -> None:
        """End keep-alive connections still open, so no old thread serves after shutdown."""
        with self._open_lock:
            sockets = list(self._open)
        for sock in sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that hangs up is normal; anything else is a bug worth a traceback.
        if isinstance(sys.exc_info()[1], ConnectionError | TimeoutError):
            return
        report_bug(self.config)


class SandboxServer:
    """A running (or ready-to-run) sandbox: ``url`` to talk to, ``state`` to inspect and drive."""

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        latency_ms: int = 0,
        ttl: int = 1800,
        key: str | None = None,
        log: TextIO | None = None,
        fee_bp: int = 0,
        sms_token: str | None = None,
        sms_from: str | None = None,
    ) -> None:
        self.state = SandboxState(ttl=ttl, fee_bp=fee_bp)
        self.state.sms.token, self.state.sms.sender = sms_token, sms_from
        config = Config(latency_ms=latency_ms, key=key, log=log, wildcard=host in _WILDCARDS)
        self._httpd = _HTTPServer(host, port, self.state, config)  # binds and listens
        shown = {"": "127.0.0.1", "0.0.0.0": "127.0.0.1", "::": "::1"}.get(host, host)
        shown = f"[{shown}]" if ":" in shown else shown
        self.url = f"http://{shown}:{self._httpd.server_port}"
        self.state.base_url = self.url
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._closed = False

    def start(self) -> SandboxServer:
        """Serve in a daemon thread."""
        self._thread = threading.Thread(
            target=self._httpd.serve_forever,
            kwargs={"poll_interval": 0.02},
            name=f"khalti-sandbox {self.url}",
            daemon=True,
        )
        self._thread.start()
        return self

    def serve_forever(self) -> None:
        """Serve in this thread until KeyboardInterrupt (which propagates)."""
        self._httpd.serve_forever(poll_interval=0.25)

    def shutdown(self) -> None:
        """Stop serving, end open connections and close the socket. Safe to call twice."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
        if self._thread is not None:
            self._httpd.shutdown()
            self._thread.join(timeout=5)
        self._httpd.close_connections()
        self._httpd.server_close()

    def __enter__(self) -> SandboxServer:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.shutdown()

    def __repr__(self) -> str:
        return f"SandboxServer(url={self.url!r})"


def start_sandbox(
    host: str = "127.0.0.1",
    port: int = 0,
    *,
    latency_ms: int = 0,
    ttl: int = 1800,
    key: str | None = None,
    log: TextIO | None = None,
    fee_bp: int = 0,
    sms_token: str | None = None,
    sms_from: str | None = None,
) -> SandboxServer:
    """Serve in a daemon thread; returns once the socket is listening. port=0 picks a free port.
    fee_bp: Khalti's fee on each completed payment, in basis points (100 = 1 %)."""
    server = SandboxServer(
        host,
        port,
        latency_ms=latency_ms,
        ttl=ttl,
        key=key,
        log=log,
        fee_bp=fee_bp,
        sms_token=sms_token,
        sms_from=sms_from,
    )
    return server.start()


def serve(
    host: str,
    port: int,
    *,
    latency_ms: int,
    ttl: int,
    key: str | None,
    log: TextIO,
    ready: Callable[[str], None],
    fee_bp: int = 0,
    sms_token: str | None = None,
    sms_from: str | None = None,
) -> None:
    """Blocking: serve until KeyboardInterrupt; calls ready(url) once listening.

    Returns normally after Ctrl-C (the interrupt is the way to stop it). An address already in use
    raises OSError before ready() is called.
    """
    server = SandboxServer(
        host,
        port,
        latency_ms=latency_ms,
        ttl=ttl,
        key=key,
        log=log,
        fee_bp=fee_bp,
        sms_token=sms_token,
        sms_from=sms_from,
    )
    try:
        ready(server.url)
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.shutdown()
