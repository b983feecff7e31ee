"""The pay page's routes (Starlette): GET/POST /pay/<token>, GET /return, GET /healthz, the stylesheet and
font. Each route calls one function of services.paylink; this module only turns outcomes into pages.

There is no admin function here at all: the server can show a fee to whoever holds its token, make a
Khalti link for it, and store what Khalti says. Nothing else.
"""

from __future__ import annotations

import contextlib
import logging
import sqlite3
import threading
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

from jinja2 import Environment, PackageLoader, select_autoescape
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, RedirectResponse, Response
from starlette.routing import Route

from khalti_cli.config import Settings
from khalti_cli.errors import ConfigError, GatewayError, KhaltiError, NotFound, StoreError, TemporaryError
from khalti_cli.money import format_rupees
from khalti_cli.services import paylink
from khalti_cli.services.payments import Gateway
from khalti_cli.store import Store, open_store
from khalti_cli.store.db import translate
from khalti_cli.web import words
from khalti_cli.web.guard import Guard, RateLimit, khalti_origins

LOG = logging.getLogger("khalti.serve")
STATIC = Path(__file__).parent / "static"
# POSTs ("Pay with Khalti") per minute: per fee link, and per client address.
TOKEN_LIMIT = 6
ADDRESS_LIMIT = 30
WEB_TIMEOUT_MS = 10_000  # a parent waits at most this long for Khalti per call
_CACHED = {"Cache-Control": "public, max-age=86400"}


@dataclass
class Limits:
    per_token: int = TOKEN_LIMIT
    per_address: int = ADDRESS_LIMIT
    window_s: float = 60.0


@dataclass
class Resources:
    """One SQLite connection per worker thread (sqlite3 connections stay in their thread), one shared
    Khalti client (thread-safe), opened when first needed."""

    settings: Settings
    _local: threading.local = field(default_factory=threading.local)
    _stores: list[Store] = field(default_factory=list)
    _client: Any = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def store(self) -> Store:
        store: Store | None = getattr(self._local, "store", None)
        if store is None:
            store = open_store(self.settings.db_path)
            self._local.store = store
            with self._lock:
                self._stores.append(store)
        return store

    def gateway(self) -> Gateway:
        with self._lock:
            if self._client is None:
                from khalti_cli.gateway.client import KhaltiClient
                from khalti_cli.retry import RetryPolicy

                self._client = KhaltiClient(
                    self.settings.base_url,
                    self.settings.require_key(),
                    timeout_ms=min(self.settings.timeout_ms, WEB_TIMEOUT_MS),
                    retry=RetryPolicy(attempts=2, cap_ms=1000),
                )
            client: Gateway = self._client
            return client

    def close(self) -> None:
        with self._lock:
            if self._client is not None:
                self._client.close()
            for store in self._stores:
                with contextlib.suppress(sqlite3.ProgrammingError):  # another thread's: the process is ending
                    store.close()
            self._stores.clear()


def create_app(settings: Settings, *, limits: Limits | None = None, hello: bool = False) -> Callable[..., Any]:
    """The ASGI application. `hello` adds GET /hello (plain text, no database) for bench/serve.py."""
    from khalti_cli.services.pending import set_pending_review_hours
    from khalti_cli.services.records import set_public_url

    public_url = settings.require_public_url()
    set_public_url(public_url)
    set_pending_review_hours(settings.pending_review_hours)
    res = Resources(settings)
    limits = limits or Limits()
    per_token = RateLimit(limits.per_token, limits.window_s)
    per_address = RateLimit(limits.per_address, limits.window_s)
    returns = RateLimit(limits.per_address, limits.window_s)  # each /return asks Khalti: no amplifier
    env = Environment(loader=PackageLoader("khalti_cli.web", "templates"), autoescape=select_autoescape(default=True))
    env.globals["rupees"] = format_rupees
    school = settings.school_name

    def page(name: str, status: int = 200, headers: dict[str, str] | None = None, **values: Any) -> Response:
        html = env.get_template(name).render(school=school, **values)
        return Response(html, status, headers=headers, media_type="text/html; charset=utf-8")

    def problem(text: tuple[words.Words, words.Words], status: int, retry: str | None = None) -> Response:
        headers = {"Retry-After": "60"} if status in (429, 503) else None
        heading, message = text
        return page("problem.html", status, headers, title=heading.en, heading=heading, message=message, retry=retry)

    def fee_page(fee: paylink.FeeView, notice: words.Notice | None = None, status: int = 200) -> Response:
        message = words.PAID_OFFLINE if fee.status == "paid_offline" else words.MESSAGE.get(fee.state)
        return page(
            "fee.html",
            status,
            title=fee.fee,
            fee=fee,
            words=words.STATUS[fee.state],
            message=message,
            notice=notice,
        )

    def failure(exc: BaseException, retry: str | None) -> Response:
        """An outcome that is not a page of its own -> a friendly page; never a traceback, never the key."""
        if isinstance(exc, sqlite3.Error):
            exc = translate(exc, settings.db_path)
        if isinstance(exc, NotFound):
            return problem(words.NOT_FOUND, 404)
        if isinstance(exc, GatewayError):
            LOG.warning("Khalti: %s", exc)
            return problem(words.KHALTI_DOWN, 503, retry)
        if isinstance(exc, TemporaryError):
            LOG.warning("%s", exc)
            return problem(words.BUSY, 503, retry)
        if isinstance(exc, ConfigError | StoreError):
            LOG.error("%s", exc)
            return problem(words.SETUP, 503)
        if isinstance(exc, KhaltiError):
            LOG.warning("%s", exc)
            return problem(words.BROKEN, 503, retry)
        LOG.exception("unexpected error on the pay page")
        return problem(words.BROKEN, 500)

    def show(request: Request) -> Response:
        token = request.path_params["token"]
        try:
            return fee_page(paylink.view_by_token(res.store(), token))
        except Exception as exc:
            return failure(exc, f"/pay/{token}")

    def start_payment(request: Request) -> Response:
        token = request.path_params["token"]
        client = request.client.host if request.client else "-"
        wait = per_address.allow(f"addr:{client}") or per_token.allow(f"token:{token}")
        if wait is not None:
            return problem(words.TOO_MANY, 429)
        try:
            try:
                url = paylink.pay(res.store(), settings, res.gateway, token)
            except paylink.NotPayable:  # paid, voided, pending, review: the page says so
                return fee_page(paylink.view_by_token(res.store(), token), status=409)
        except Exception as exc:
            return failure(exc, f"/pay/{token}")
        return RedirectResponse(url, status_code=303)

    def returned(request: Request) -> Response:
        # Only pidx is read: status, amount and the rest of Khalti's query string are never trusted.
        pidx = request.query_params.get("pidx", "")
        retry = "/return?" + urlencode({"pidx": pidx})
        if returns.allow(f"addr:{request.client.host if request.client else '-'}") is not None:
            return problem(words.TOO_MANY, 429)
        try:
            outcome = paylink.after_return(res.store(), settings, res.gateway, pidx)
        except Exception as exc:
            return failure(exc, retry)
        if outcome.errors:
            LOG.warning("Khalti lookup on return: %s", outcome.errors[0])
            return problem(words.CHECK_LATER, 503, retry)
        fee = outcome.view
        notice = words.RETURN_NOTICE.get(fee.status)
        return fee_page(fee, notice)

    def healthz(request: Request) -> Response:
        return PlainTextResponse("ok\n")

    font = _font_file()
    assets = {"pay.css": ((STATIC / "pay.css").read_bytes(), "text/css; charset=utf-8")}
    if font is not None:
        assets["devanagari.ttf"] = (font.read_bytes(), "font/ttf")

    def static(request: Request) -> Response:
        found = assets.get(request.path_params["name"])
        if found is None:
            return PlainTextResponse("Not found.\n", 404)
        return Response(found[0], media_type=found[1], headers=_CACHED)

    async def not_found(request: Request, exc: Exception) -> Response:
        status = getattr(exc, "status_code", 404)
        if status == 405:
            return PlainTextResponse("Method not allowed.\n", 405)
        return problem(words.NOT_FOUND, 404)

    routes = [
        Route("/pay/{token}", show, methods=["GET"]),
        Route("/pay/{token}", start_payment, methods=["POST"]),
        Route("/return", returned, methods=["GET"]),
        Route("/healthz", healthz, methods=["GET"]),
        Route("/static/{name}", static, methods=["GET"]),
        Route("/favicon.ico", lambda request: Response(status_code=204, headers=_CACHED), methods=["GET"]),
    ]
    if hello:
        routes.append(Route("/hello", lambda request: PlainTextResponse("hello\n"), methods=["GET"]))

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        yield
        res.close()

    app = Starlette(routes=routes, exception_handlers={404: not_found, 405: not_found}, lifespan=lifespan)
    https = urlsplit(public_url).scheme == "https"
    return Guard(app, form_action=khalti_origins(settings.base_url), https=https)


def _font_file() -> Path | None:
    from khalti_cli.services.slips import font_file

    return font_file()
