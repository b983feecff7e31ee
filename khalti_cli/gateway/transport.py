"""The wire under the client: a deadline for each whole request, and a cap on what is read of an answer.

httpx's timeouts bound each socket operation, not the request: a gateway that sends one byte a second
never trips a 2 s read timeout, and held `khalti lookup` for over two minutes. Here every socket
operation (connect, TLS, each write, each read of the headers and of the body) gets at most the time left
until the request's deadline, so a request ends by its deadline whatever the other side does. The
deadline is per thread (reconcile's workers share one client) and is set by `deadline()` around each
request.
"""

from __future__ import annotations

import ssl
import threading
import time
import zlib
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any

import httpcore
import httpx

# Khalti's answers are under 2 KB; anything larger is not one of them and is not read further.
MAX_ANSWER_BYTES = 64 * 1024


class AnswerRefused(Exception):
    """An answer khalti does not read: larger than MAX_ANSWER_BYTES (after decompression), or encoded oddly."""


class _Deadline(threading.local):
    at: float | None = None


_DEADLINE = _Deadline()


@contextmanager
def deadline(at: float) -> Iterator[None]:
    """Every socket operation of this thread's request ends by `at` (time.monotonic())."""
    _DEADLINE.at = at
    try:
        yield
    finally:
        _DEADLINE.at = None


def _left(timeout: float | None, error: type[Exception]) -> float | None:
    at = _DEADLINE.at
    if at is None:
        return timeout
    left = at - time.monotonic()
    if left <= 0:
        raise error("the request's deadline passed")
    return left if timeout is None else min(timeout, left)


class _DeadlineStream(httpcore.NetworkStream):
    def __init__(self, inner: httpcore.NetworkStream) -> None:
        self._inner = inner

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._inner.read(max_bytes, _left(timeout, httpcore.ReadTimeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._inner.write(buffer, _left(timeout, httpcore.WriteTimeout))

    def close(self) -> None:
        self._inner.close()

    def start_tls(
        self, ssl_context: ssl.SSLContext, server_hostname: str | None = None, timeout: float | None = None
    ) -> httpcore.NetworkStream:
        inner = self._inner.start_tls(ssl_context, server_hostname, _left(timeout, httpcore.ConnectTimeout))
        return _DeadlineStream(inner)

    def get_extra_info(self, info: str) -> Any:
        return self._inner.get_extra_info(info)


class _DeadlineBackend(httpcore.NetworkBackend):
    def __init__(self) -> None:
        self._inner = httpcore.SyncBackend()

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        stream = self._inner.connect_tcp(
            host, port, _left(timeout, httpcore.ConnectTimeout), local_address, socket_options
        )
        return _DeadlineStream(stream)

    def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Iterable[Any] | None = None
    ) -> httpcore.NetworkStream:
        stream = self._inner.connect_unix_socket(path, _left(timeout, httpcore.ConnectTimeout), socket_options)
        return _DeadlineStream(stream)

    def sleep(self, seconds: float) -> None:
        left = _left(None, httpcore.ConnectTimeout)
        time.sleep(seconds if left is None else min(seconds, left))


def transport(limits: httpx.Limits, *, tls: bool) -> httpx.HTTPTransport:
    """httpx's own transport, its connection pool on the deadline-keeping backend.

    retries=2 re-tries only failed *connects*: nothing reached Khalti yet, so it is safe even for
    initiate. (httpx 0.28 takes no network backend, so the pool is rebuilt with the same settings.)
    tls=False (a plain-http base URL: the local sandbox; production refuses it) skips loading the CA
    bundle, about 0.15 s a command; no request of this client can reach an https URL (no redirects)."""
    base = httpx.HTTPTransport(retries=2, limits=limits, verify=tls)
    old: httpcore.ConnectionPool = base._pool
    base._pool = httpcore.ConnectionPool(
        ssl_context=old._ssl_context,
        max_connections=limits.max_connections,
        max_keepalive_connections=limits.max_keepalive_connections,
        keepalive_expiry=limits.keepalive_expiry,
        retries=2,
        network_backend=_DeadlineBackend(),
    )
    return base


def read_capped(response: httpx.Response) -> bytes:
    """The body, decoded if gzip/deflate, refusing more than MAX_ANSWER_BYTES (a small bomb included)."""
    encoding = response.headers.get("content-encoding", "identity").strip().lower()
    if encoding in ("", "identity"):
        decoder = None
    elif encoding in ("gzip", "x-gzip", "deflate"):
        decoder = zlib.decompressobj(31 if "gzip" in encoding else 15)
    else:
        raise AnswerRefused(f"an answer in an encoding khalti does not read ({encoding[:20]})")
    size_hint = response.headers.get("content-length", "")
    if size_hint.strip().isdigit() and len(size_hint) < 20 and int(size_hint) > MAX_ANSWER_BYTES:
        raise AnswerRefused(f"an answer of {int(size_hint)} bytes")
    chunks: list[bytes] = []
    size = 0
    for raw in response.iter_raw(16 * 1024):
        if decoder is None:
            data = raw
        else:
            try:
                data = decoder.decompress(raw, MAX_ANSWER_BYTES + 1 - size)
            except zlib.error:
                return b""  # not the JSON Khalti documents: the caller says so
            if decoder.unconsumed_tail:
                raise AnswerRefused("an answer that unpacks to more than 64 KiB")
        size += len(data)
        if size > MAX_ANSWER_BYTES:
            raise AnswerRefused("an answer of more than 64 KiB")
        chunks.append(data)
    return b"".join(chunks)
