"""Running the pay page on uvicorn: in the foreground (`khalti serve`) or in a thread (tests, bench).

The socket is bound first, so port 0 works and the address is known before the first request. uvicorn's
own access log is off: ours (web.guard) never writes a token or a query string.
"""

from __future__ import annotations

import logging
import socket
import sys
import threading
import time
from collections.abc import Callable
from typing import Any, TextIO

from khalti_cli.config import Settings


def bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


def address(sock: socket.socket) -> str:
    host, port = sock.getsockname()[:2]
    shown = f"[{host}]" if ":" in host else host
    return f"http://{shown}:{port}"


def log_to(stream: TextIO | None, level: int = logging.INFO) -> None:
    """The access log and the server's messages, one line each, to `stream` (stderr by default)."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(name)s %(levelname)s %(message)s"))
    for name in ("khalti.serve", "uvicorn"):
        logger = logging.getLogger(name)
        logger.handlers[:] = [handler]
        logger.setLevel(level)
        logger.propagate = False


def _server(app: Any) -> Any:
    import uvicorn

    config = uvicorn.Config(
        app,
        log_config=None,
        access_log=False,
        server_header=False,
        proxy_headers=True,  # the client's address from X-Forwarded-For, trusted only from the local proxy
        forwarded_allow_ips="127.0.0.1,::1",
        timeout_keep_alive=5,
        limit_concurrency=500,  # beyond this many connections and requests at once: 503 at once, not a queue
        timeout_graceful_shutdown=5,
        h11_max_incomplete_event_size=16 * 1024,  # request line and headers
        lifespan="on",
    )
    return uvicorn.Server(config)


def serve(settings: Settings, host: str, port: int, ready: Callable[[str], None]) -> None:
    """Blocking: serve until Ctrl-C / SIGTERM. Raises OSError if the address cannot be bound."""
    from khalti_cli.web.app import create_app

    app = create_app(settings)
    sock = bind(host, port)
    ready(address(sock))
    _server(app).run(sockets=[sock])


class Running:
    """The pay page serving in a daemon thread: `url`, then `stop()`."""

    def __init__(self, app: Any, host: str = "127.0.0.1", port: int = 0, sock: socket.socket | None = None) -> None:
        self.sock = sock or bind(host, port)
        self.url = address(self.sock)
        self._server = _server(app)
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [self.sock]}, name="khalti serve", daemon=True
        )
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the pay page did not start")
            time.sleep(0.01)

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=10)
        self.sock.close()


def start(settings: Settings, *, sock: socket.socket | None = None, **options: Any) -> Running:
    """Serve `create_app(settings, **options)` in a thread, on `sock` (bound already) or 127.0.0.1:0."""
    from khalti_cli.web.app import create_app

    return Running(create_app(settings, **options), sock=sock)
