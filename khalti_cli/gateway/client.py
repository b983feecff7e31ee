"""The HTTP client for Khalti: initiate, lookup (retried), refund; thread-safe, so reconcile's workers share it.

Answers are read through `transport` (a whole-request deadline, a size cap) and mapped by `answers.*`,
which also redacts the key from anything Khalti (or a proxy) echoes back. Headers are never logged; the
key lives only in the client's default headers.
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Callable
from typing import Any

import httpx

from khalti_cli import __version__
from khalti_cli.errors import (
    GatewayBadResponse,
    GatewayDropped,
    GatewayError,
    GatewayTimeout,
    GatewayUnreachable,
)
from khalti_cli.gateway.answers import (
    InitiateAnswer,
    LookupAnswer,
    RefundAnswer,
    interpret_initiate,
    interpret_lookup,
    interpret_refund,
)
from khalti_cli.gateway.transport import MAX_ANSWER_BYTES, AnswerRefused, deadline, read_capped, transport
from khalti_cli.retry import RetryPolicy

Log = Callable[[str], None]

INITIATE_PATH = "/api/v2/epayment/initiate/"
LOOKUP_PATH = "/api/v2/epayment/lookup/"


def refund_path(transaction_id: str) -> str:
    return f"/api/merchant-transaction/{transaction_id}/refund/"


def _headers(key: str) -> dict[str, str]:
    return {
        "Authorization": f"Key {key}",
        "Content-Type": "application/json",
        "Accept": "application/json",
        "Accept-Encoding": "identity",  # answers are small; a compressed one is still read, capped
        "User-Agent": f"khalti-cli/{__version__}",
    }


def _timeout(timeout_ms: int) -> httpx.Timeout:
    seconds = timeout_ms / 1000
    return httpx.Timeout(seconds, connect=min(seconds, 5.0))


def _transport_error(exc: httpx.HTTPError, what: str) -> GatewayError:
    """httpx failures -> our errors. maybe_sent tells initiate whether a link may exist now."""
    if isinstance(exc, httpx.ConnectTimeout | httpx.ConnectError):
        return GatewayUnreachable(
            f"Could not reach Khalti for {what} ({exc.__class__.__name__}). Check the internet connection "
            "and KHALTI_BASE_URL; nothing was sent. Try again later."
        )
    if isinstance(exc, httpx.TimeoutException):
        return GatewayTimeout(f"Khalti did not answer {what} in time. Nothing was changed here; try again later.")
    if isinstance(exc, httpx.RemoteProtocolError | httpx.ReadError | httpx.WriteError):
        return GatewayDropped(
            f"Khalti closed the connection during {what} without an answer. Nothing was changed here; try again later."
        )
    return GatewayError(f"The request to Khalti for {what} failed ({exc.__class__.__name__}). Try again later.")


def _lower_headers(response: httpx.Response) -> dict[str, str]:
    return {k.lower(): v for k, v in response.headers.items()}


class _Client:
    """What both clients share: the request log and the lookup retry policy (seeded for tests)."""

    def __init__(self, log: Log | None, retry: RetryPolicy | None, seed: int | None) -> None:
        self._log = log
        self._retry = retry or RetryPolicy()
        self._rng = random.Random(seed)


class KhaltiClient(_Client):
    """Synchronous client: initiate, lookup (with retries), refund."""

    def __init__(
        self,
        base_url: str,
        key: str,
        *,
        timeout_ms: int = 15000,
        log: Log | None = None,
        retry: RetryPolicy | None = None,
        seed: int | None = None,
        concurrency: int = 20,
    ) -> None:
        super().__init__(log, retry, seed)
        # Thread-safe: reconcile's workers share it; the pool holds one connection per worker.
        limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
        # retries=2 on the transport re-tries only failed *connects*: nothing reached Khalti yet,
        # so it is safe even for initiate.
        self._key = key
        self._timeout_s = timeout_ms / 1000
        self._http = httpx.Client(
            base_url=base_url,
            headers=_headers(key),
            timeout=_timeout(timeout_ms),
            limits=limits,
            transport=transport(limits, tls=not base_url.lower().startswith("http://")),
            follow_redirects=False,
        )

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> KhaltiClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _post(
        self, path: str, payload: dict[str, Any] | None, what: str, run_deadline: float | None = None
    ) -> tuple[int, bytes, dict[str, str]]:
        """One request, over by KHALTI_TIMEOUT (or the run's deadline, if sooner) whatever the other side
        does: connect, send, headers and body included. Reads at most MAX_ANSWER_BYTES of the answer."""
        started = time.monotonic()
        ends = started + self._timeout_s
        if run_deadline is not None:
            ends = min(ends, run_deadline)
        try:
            content = b"" if payload is None else json.dumps(payload).encode()
            with deadline(ends), self._http.stream("POST", path, content=content) as response:
                body = read_capped(response)
        except httpx.HTTPError as exc:
            if self._log:
                self._log(f"POST {path} failed: {exc.__class__.__name__}")
            raise _transport_error(exc, what) from None
        except AnswerRefused as exc:
            if self._log:
                self._log(f"POST {path} -> {exc}, not read further")
            raise GatewayBadResponse(
                f"Khalti's answer to {what} was {exc} (its answers are under 2 KB; khalti reads at most "
                f"{MAX_ANSWER_BYTES // 1024} KiB). Nothing was changed; tell Khalti if it keeps happening.",
                retryable=False,
            ) from None
        if self._log:
            ms = (time.monotonic() - started) * 1000
            self._log(f"POST {path} -> HTTP {response.status_code} ({ms:.0f} ms)")
        return response.status_code, body, _lower_headers(response)

    def initiate(self, payload: dict[str, Any]) -> InitiateAnswer:
        """Never retried after the request may have been sent (no idempotency key at Khalti)."""
        code, body, headers = self._post(INITIATE_PATH, payload, "initiate")
        return interpret_initiate(code, body, headers, key=self._key)

    def lookup_once(self, pidx: str, *, deadline: float | None = None) -> LookupAnswer:
        code, body, headers = self._post(LOOKUP_PATH, {"pidx": pidx}, f"the lookup of {pidx}", deadline)
        return interpret_lookup(pidx, code, body, headers, key=self._key)

    def lookup(self, pidx: str, *, deadline: float | None = None) -> LookupAnswer:
        """Retried on temporary errors; with a deadline (reconcile --max-time), nothing runs past it, the
        request in flight included."""
        attempt = 1
        while True:
            try:
                return self.lookup_once(pidx, deadline=deadline)
            except GatewayError as exc:
                wait = self._retry.next_wait(attempt, exc, self._rng, deadline)
                if wait is None:
                    raise
                if self._log:
                    self._log(f"retrying the lookup of {pidx} in {wait:.1f} s ({exc.__class__.__name__})")
                time.sleep(wait)
                attempt += 1

    def refund(self, transaction_id: str, amount: int | None, mobile: str | None) -> RefundAnswer:
        body: dict[str, Any] = {}
        if amount is not None:
            body["amount"] = amount
        if mobile:
            body["mobile"] = mobile
        code, answer, headers = self._post(refund_path(transaction_id), body or None, "refund")
        return interpret_refund(code, answer, headers, key=self._key)
