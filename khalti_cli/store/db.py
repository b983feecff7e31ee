"""Opening the database: one function for every command.

WAL so that cron's reconcile and a person's `khalti list` work side by side; a 30 s busy timeout;
foreign keys on; writes in BEGIN IMMEDIATE so a read-then-write never fails half way with SQLITE_BUSY.
The file is created mode 0600 because it holds customer data.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from khalti_cli.errors import StoreBusy, StoreError

# Bumped with every migration in schema.py; a file with a higher number was written by a newer khalti.
# Kept here so that opening an up-to-date database never imports sqlite-utils (about 100 ms).
SCHEMA_VERSION = 6

BUSY_TIMEOUT_S = 30


def _is_busy(exc: sqlite3.Error) -> bool:
    text = str(exc).lower()
    return "locked" in text or "busy" in text


def translate(exc: sqlite3.Error, path: Path) -> Exception:
    """sqlite3 errors -> sentences for people."""
    text = str(exc).lower()
    if _is_busy(exc):
        return StoreBusy(f"The database {path} is busy with another khalti command. Try again in a minute.")
    if "not a database" in text or "malformed" in text or "corrupt" in text:
        return StoreError(
            f"{path} is not a khalti database or is damaged. Restore it from a backup, or point "
            "KHALTI_DB / --db at the right file."
        )
    if "readonly" in text or "read-only" in text:
        return StoreError(f"The database {path} is read-only. Check the file's permissions.")
    if "disk" in text and ("full" in text or "i/o" in text):
        return StoreError(f"Could not write to {path}: the disk is full or failing. Free some space.")
    if "unable to open" in text:
        return StoreError(f"Cannot open the database {path}. Check that the folder exists and is writable.")
    return StoreError(f"Database error in {path}: {exc}.")


class Store:
    """A sqlite3 connection, the transaction helper every writer uses, and sqlite-utils when needed."""

    def __init__(self, conn: sqlite3.Connection, path: Path) -> None:
        self.conn = conn
        self.path = path
        self._db: Any = None

    @property
    def db(self) -> Any:
        """A sqlite_utils.Database on the same connection (imported only by the code that needs it)."""
        if self._db is None:
            from sqlite_utils import Database

            self._db = Database(self.conn)
        return self._db

    @contextmanager
    def write(self) -> Iterator[Store]:
        """One atomic write: BEGIN IMMEDIATE ... COMMIT, rolled back on any error."""
        conn = self.conn
        try:
            conn.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as exc:
            raise translate(exc, self.path) from None
        try:
            yield self
        except BaseException:
            conn.rollback()
            raise
        try:
            conn.commit()
        except sqlite3.Error as exc:
            conn.rollback()
            raise translate(exc, self.path) from None

    def query(self, sql: str, params: Any = None) -> Iterator[dict[str, Any]]:
        """Rows as dicts, streamed (constant memory for big lists)."""
        try:
            cursor = self.conn.execute(sql, params or [])
            names = [d[0] for d in cursor.description]
            for row in cursor:
                yield dict(zip(names, row, strict=True))
        except sqlite3.Error as exc:
            raise translate(exc, self.path) from None

    def one(self, sql: str, params: Any = None) -> dict[str, Any] | None:
        for row in self.query(sql, params):
            return row
        return None

    def close(self) -> None:
        self.conn.close()


def _create_private(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(path, os.O_CREAT | os.O_RDWR, 0o600)
    os.close(fd)


def open_store(path: Path) -> Store:
    try:
        if not path.exists():
            _create_private(path)
        conn = sqlite3.connect(str(path), timeout=BUSY_TIMEOUT_S)
    except OSError as exc:
        raise StoreError(f"Cannot create the database {path}: {exc.strerror}. Check the folder.") from None
    except sqlite3.Error as exc:
        raise translate(exc, path) from None
    try:
        _prepare(conn, path)
    except sqlite3.Error as exc:
        conn.close()
        raise translate(exc, path) from None
    except BaseException:
        conn.close()
        raise
    return Store(conn, path)


def _prepare(conn: sqlite3.Connection, path: Path) -> None:
    version = conn.execute("PRAGMA user_version").fetchone()[0]
    if version > SCHEMA_VERSION:
        raise StoreError(
            f"The database {path} was written by a newer version of khalti (schema {version}). "
            "Upgrade khalti (pip install -U khalti-cli) before using it."
        )
    if version == 0:
        foreign = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        foreign -= {"payments", "links", "events", "payers", "messages", "_sqlite_migrations"}
        if foreign:
            raise StoreError(
                f"{path} is an SQLite database of another program, not khalti's. "
                "Point KHALTI_DB / --db at a khalti database or a new file."
            )
    if conn.execute("PRAGMA journal_mode").fetchone()[0].lower() != "wal":
        conn.execute("PRAGMA journal_mode=WAL")  # persists in the file; outside any transaction
    conn.execute("PRAGMA foreign_keys = ON")
    if version < SCHEMA_VERSION:
        _migrate(conn)


def _migrate(conn: sqlite3.Connection) -> None:
    from sqlite_utils import Database

    from khalti_cli.store.schema import migrations

    # Two first runs at once (cron + a person) must not both create the tables.
    conn.execute("BEGIN IMMEDIATE")
    try:
        if conn.execute("PRAGMA user_version").fetchone()[0] < SCHEMA_VERSION:
            migrations.apply(Database(conn))
            conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        conn.commit()
    except BaseException:
        conn.rollback()
        raise
