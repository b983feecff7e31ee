"""The pay page (khalti serve) in a thread, on 127.0.0.1:0, in front of the loopback sandbox."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from khalti_cli.config import load_settings
from khalti_cli.web.app import Limits
from khalti_cli.web.server import Running, address, bind, start


@contextmanager
def pay_page(monkeypatch: pytest.MonkeyPatch, limits: Limits | None = None) -> Iterator[Running]:
    """Serves the pay page; KHALTI_PUBLIC_URL is its address, so Khalti's return_url is its /return."""
    sock = bind("127.0.0.1", 0)
    monkeypatch.setenv("KHALTI_PUBLIC_URL", address(sock))
    monkeypatch.delenv("KHALTI_RETURN_URL", raising=False)
    monkeypatch.setenv("KHALTI_SCHOOL_NAME", "Shree Janapriya Secondary School")
    running = start(load_settings(), sock=sock, limits=limits)
    try:
        yield running
    finally:
        running.stop()


def db_rows(sql: str, params: Any = ()) -> list[tuple[Any, ...]]:
    import os

    conn = sqlite3.connect(Path(os.environ["KHALTI_DB"]))
    try:
        return conn.execute(sql, params).fetchall()
    finally:
        conn.close()
