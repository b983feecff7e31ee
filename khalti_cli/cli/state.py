"""What every command shares: global options, lazily opened settings/store/gateway, stderr messages."""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import typer

if TYPE_CHECKING:
    from khalti_cli.config import Settings
    from khalti_cli.services.payments import Gateway
    from khalti_cli.store import Store


@dataclass
class AppState:
    db: str | None = None
    env_file: str | None = None
    env: str | None = None
    quiet: bool = False
    verbose: int = 0
    no_color: bool = False
    _settings: Settings | None = None
    _store: Store | None = None
    _closers: list[Any] = field(default_factory=list)

    @property
    def color(self) -> bool:
        return not self.no_color and not os.environ.get("NO_COLOR") and _isatty(sys.stderr)

    def stdout_is_terminal(self) -> bool:
        return _isatty(sys.stdout)

    def stdout_color(self) -> bool:
        return not self.no_color and not os.environ.get("NO_COLOR") and _isatty(sys.stdout)

    def settings(self) -> Settings:
        if self._settings is None:
            from khalti_cli.config import load_settings

            self._settings = load_settings(db=self.db, env_file=self.env_file, env=self.env)
            from khalti_cli.services.records import set_public_url

            set_public_url(self._settings.public_url)
            from khalti_cli.services.pending import set_pending_review_hours

            set_pending_review_hours(self._settings.pending_review_hours)
            # calendar.use_bs() reads the environment: a KHALTI_CALENDAR=ad from the env file counts too
            if self._settings.calendar == "ad" and not os.environ.get("KHALTI_CALENDAR"):
                os.environ["KHALTI_CALENDAR"] = "ad"
            for warning in self._settings.warnings:
                self.say(warning)
        return self._settings

    def store(self) -> Store:
        if self._store is None:
            from khalti_cli.store import open_store

            self._store = open_store(self.settings().db_path)
            self.log(f"database: {self._store.path}")
        return self._store

    def gateway(self) -> Gateway:
        from khalti_cli.gateway.client import KhaltiClient

        settings = self.settings()
        client = KhaltiClient(
            settings.base_url,
            settings.require_key(),
            timeout_ms=settings.timeout_ms,
            log=self.log if self.verbose else None,
        )
        self._closers.append(client.close)
        self.log(f"Khalti {settings.env}: {settings.base_url}")
        return client

    def close(self) -> None:
        for closer in self._closers:
            closer()
        self._closers.clear()
        if self._store is not None:
            self._store.close()
            self._store = None

    def say(self, message: str) -> None:
        """A message for the person at the terminal (stderr); silent with -q."""
        if not self.quiet:
            _write_err(message)

    def warn(self, message: str) -> None:
        """Something failed: shown even with -q."""
        _write_err(message)

    def log(self, message: str) -> None:
        if self.verbose:
            _write_err(f"khalti: {message}")


def _write_err(message: str) -> None:
    from khalti_cli.output import printable

    sys.stderr.write(printable(message, newlines=True) + "\n")
    sys.stderr.flush()


def _isatty(stream: Any) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False


def state(ctx: typer.Context) -> AppState:
    root = ctx.find_root()
    if not isinstance(root.obj, AppState):
        root.obj = AppState()
        root.call_on_close(root.obj.close)
    return root.obj
