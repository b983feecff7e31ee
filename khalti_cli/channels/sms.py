"""Sparrow SMS's documented HTTP API (github.com/sparrowsms/apidocs, docs/sms/):

    POST <root>/sms/     token, from, to (comma-separated 10-digit numbers), text
        200 {"count": n, "response_code": 200, "response": "n mesages has been queued for delivery"}
        403 {"response_code": 1000..1013, "response": "..."}
    GET  <root>/credit/  token
        200 {"credits_available": n, "credits_consumed": n, "response_code": 200}

The token is sent in the form body (never in a URL, so it never reaches a proxy's access log), and
never shown: answers are stored and printed with it replaced by ***.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

import httpx

from khalti_cli.channels import NOT_SENT, REJECTED, SENT, UNKNOWN, ChannelAnswer, cap
from khalti_cli.errors import AuthError, ConfigError, TemporaryError

# The documented 403 codes: which ones concern this one message, and which stop the whole run.
MESSAGE_CODES = {1000, 1007, 1010, 1011}  # missing field, invalid receiver, empty text, no valid receiver
CONFIG_CODES = {1001, 1002, 1003, 1004, 1005, 1006, 1008}  # IP, token, account inactive/expired, sender
CREDIT_CODES = {1012, 1013}  # no credits, insufficient credits


_FORM = {"Content-Type": "application/x-www-form-urlencoded"}


class SparrowClient:
    """One connection pool shared by the sending threads (httpx.Client is thread-safe)."""

    def __init__(
        self,
        root: str,
        token: str,
        sender: str,
        *,
        timeout_ms: int = 15000,
        pool: int = 16,
        log: Callable[[str], None] | None = None,
    ) -> None:
        self.root = root.rstrip("/")
        self._token = token
        self.sender = sender
        self._log = log
        limits = httpx.Limits(max_connections=pool, max_keepalive_connections=pool)
        # Plain http (loopback only, e.g. the sandbox) needs no certificates: loading them costs 0.4 s.
        verify = self.root.startswith("https://")
        self._http = httpx.Client(
            timeout=timeout_ms / 1000, limits=limits, headers={"User-Agent": "khalti-cli"}, verify=verify
        )

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> SparrowClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _answer(self, text: str) -> str:
        return cap(text, (self._token,))

    def send(self, to: list[str], text: str) -> ChannelAnswer:
        """Send one text to one or more numbers (one request; Sparrow takes a comma-separated list)."""
        data = {"token": self._token, "from": self.sender, "to": ",".join(to), "text": text}
        try:
            # The form encoded here: httpx's own encoder costs more CPU than the request itself at scale.
            response = self._http.post(f"{self.root}/sms/", content=urlencode(data).encode("ascii"), headers=_FORM)
        except httpx.ConnectError:
            return ChannelAnswer(NOT_SENT, "Could not connect to the SMS gateway.", stop="outage")
        except httpx.TimeoutException:
            return ChannelAnswer(UNKNOWN, "The SMS gateway did not answer in time; the message may have gone.")
        except httpx.HTTPError as exc:
            return ChannelAnswer(UNKNOWN, f"The connection to the SMS gateway broke ({exc.__class__.__name__}).")
        if self._log:
            self._log(f"POST {self.root}/sms/ to {len(to)} number(s): HTTP {response.status_code}")
        return self._read_send(response, len(to))

    def _read_send(self, response: httpx.Response, receivers: int) -> ChannelAnswer:
        status = response.status_code
        if "html" in response.headers.get("content-type", "").lower():  # a proxy's error page: no details
            said = f"an HTML page ({status} {response.reason_phrase})"
        else:
            said = self._answer(response.text)
        if status in (429, 503):
            return ChannelAnswer(NOT_SENT, said if said.startswith("an HTML") else f"HTTP {status}: {said}", "outage")
        body = _json(response)
        code = body.get("response_code") if isinstance(body, dict) else None
        if status == 200 and code == 200:
            count = body.get("count")
            if isinstance(count, int) and not isinstance(count, bool) and count == receivers:
                return ChannelAnswer(SENT, said, count=count)
            # Fewer queued than asked: the gateway dropped some numbers and does not say which.
            return ChannelAnswer(UNKNOWN, f"queued {count!r} of {receivers}: {said}")
        if status == 403 and isinstance(code, int):
            if code in MESSAGE_CODES:
                return ChannelAnswer(REJECTED, said)
            if code in CREDIT_CODES:
                return ChannelAnswer(NOT_SENT, said, stop="credits")
            if code in CONFIG_CODES:
                return ChannelAnswer(NOT_SENT, said, stop="config")
        return ChannelAnswer(UNKNOWN, f"HTTP {status}: {said}")

    def credit(self) -> dict[str, int]:
        """The account's credits: {"credits_available": n, "credits_consumed": n}."""
        try:
            response = self._http.get(f"{self.root}/credit/", params={"token": self._token})
        except httpx.HTTPError:
            raise TemporaryError("Could not reach the SMS gateway to read the credits. Try again later.") from None
        body = _json(response)
        code = body.get("response_code") if isinstance(body, dict) else None
        if response.status_code == 200 and code == 200:
            return {k: int(body.get(k) or 0) for k in ("credits_available", "credits_consumed")}
        said = self._answer(str(body.get("response") if isinstance(body, dict) else response.text))
        if code == 1002:
            raise AuthError(f"The SMS gateway says: {said}. Check KHALTI_SMS_TOKEN.")
        if code in CONFIG_CODES:
            raise ConfigError(f"The SMS gateway says: {said}. Check the Sparrow SMS account.")
        if code in CREDIT_CODES:
            return {"credits_available": 0, "credits_consumed": int(body.get("credits_consumed") or 0)}
        raise TemporaryError(
            f"The SMS gateway gave an answer khalti does not understand (HTTP {response.status_code})."
        )


def _json(response: httpx.Response) -> Any:
    try:
        return json.loads(response.content)
    except (ValueError, UnicodeDecodeError):
        return None
