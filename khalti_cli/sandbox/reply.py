"""What a request handler answers, independent of the socket that carries it."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from html import escape
from typing import Any

JSON_TYPE = "application/json"
HTML_TYPE = "text/html; charset=utf-8"


@dataclass
class Reply:
    status: int
    body: bytes = b""
    content_type: str = JSON_TYPE
    headers: list[tuple[str, str]] = field(default_factory=list)
    # Close the socket without writing a single byte (the "drop" fault).
    drop: bool = False


def json_reply(status: int, payload: Any, headers: list[tuple[str, str]] | None = None) -> Reply:
    # Compact separators like DRF's JSONRenderer; ensure_ascii=False keeps Devanagari readable.
    body = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    return Reply(status, body, JSON_TYPE, list(headers or []))


def html_reply(status: int, page: str, headers: list[tuple[str, str]] | None = None) -> Reply:
    return Reply(status, page.encode("utf-8"), HTML_TYPE, list(headers or []))


def redirect_reply(location: str) -> Reply:
    # A tiny body so browsers without redirect support still have a link to follow.
    page = f'<!doctype html><title>Redirecting</title><a href="{escape(location)}">Continue</a>\n'
    return html_reply(302, page, [("Location", location)])
