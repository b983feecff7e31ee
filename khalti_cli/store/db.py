"""Opening the database: one function for every command.

WAL so that cron's reconcile and a person's `khalti list` work side by side; a 30 s busy timeout;
foreign keys on; writes in BEGIN IMMEDIATE so a read-then-write never fails half way with SQLITE_BUSY.
The file is created mode 0600 because it holds customer data.
"""

from __future__ import annotations

import os
import sqlite3
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from khalti_cli.errors import StoreBusy, StoreError
from khalti_cli.money import format_rupees

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


def connect(path: Path, *, read_only: bool = False) -> sqlite3.Connection:
    """An sqlite3 connection to exactly the file `path` names.

    The name is always handed to SQLite as a `file:` URI built by pathlib (every `#`, `?`, `%`, space or
    non-ASCII character percent-encoded), so no character in a path is ever read as a URI's query or
    fragment (`fees#2026.db` is that file, never `fees`), and a name that starts with `file:` is a file
    name too. mode=rw (or ro) never creates a file: open_store makes a new one itself, 0600.
    """
    uri = f"{path.absolute().as_uri()}?mode={'ro' if read_only else 'rw'}"
    return sqlite3.connect(uri, uri=True, timeout=BUSY_TIMEOUT_S)


def _create_private(path: Path) -> None:
    """A new empty database file (0600), never through a link; or, if the name is taken, its checks."""
    from khalti_cli.config import default_db_path

    folder = path.parent
    if not folder.is_dir() and path == default_db_path():
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)  # the first run: khalti's own data folder
    if not folder.is_dir():
        raise StoreError(
            f"The folder {folder} does not exist, so there is no database {path.name} in it. Make the folder "
            "first, or point KHALTI_DB / --db at the right file."
        )
    flags = os.O_CREAT | os.O_EXCL | os.O_RDWR | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(path, flags, 0o600)
    except FileExistsError:
        if os.path.islink(path) and not os.path.exists(path):
            raise StoreError(
                f"{path} is a link to a file that does not exist; khalti will not create a database through "
                "it. Point KHALTI_DB / --db at the database itself."
            ) from None
        _check_path(path)  # another khalti made it a moment ago (two first runs at once): use it
        return
    os.close(fd)


def _check_path(path: Path) -> bool:
    """True when `path` is a new name khalti may create; raises unless it is a regular file (a symlink to
    one is followed: the file it names is the database)."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return True
    except OSError as exc:
        raise StoreError(f"Cannot open the database {path}: {exc.strerror}. Check --db / KHALTI_DB.") from None
    if not stat.S_ISREG(st.st_mode):
        what = "a folder" if stat.S_ISDIR(st.st_mode) else "not a regular file (a device, pipe or socket)"
        raise StoreError(f"{path} is {what}, not a database. Point KHALTI_DB / --db at a database file.")
    return False


def open_store(path: Path) -> Store:
    try:
        if _check_path(path):
            _create_private(path)
        conn = connect(path)
        # Amounts in messages SQL writes (import's history) read as everywhere else: Rs 1,50,000.00.
        conn.create_function("khalti_rupees", 1, format_rupees, deterministic=True)
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


def _foreign(path: Path) -> StoreError:
    return StoreError(
        f"{path} is an SQLite database of another program, not khalti's; khalti left it as it was. "
        "Point KHALTI_DB / --db at a khalti database or a new file."
    )


def _check_identity(conn: sqlite3.Connection, path: Path) -> None:
    """Raise unless the file is khalti's or brand new (nothing in it). Only reads: it runs before the WAL
    switch and the migrations, the first things that would write."""
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE name NOT LIKE 'sqlite!_%' ESCAPE '!'")}
    if not tables:
        # Empty: a new database (khalti made the file, or it is an empty file), unless a program marked it.
        marks = [conn.execute(f"PRAGMA {name}").fetchone()[0] for name in ("user_version", "application_id")]
        if not any(marks):
            return
        raise _foreign(path)
    if "payments" not in tables or "_sqlite_migrations" not in tables:
        raise _foreign(path)
    mark = conn.execute(
        "SELECT 1 FROM _sqlite_migrations WHERE migration_set = 'khalti' AND name = 'm001_core' LIMIT 1"
    ).fetchone()
    if mark is None:
        raise _foreign(path)


def _prepare(conn: sqlite3.Connection, path: Path) -> None:
    # Whose file is it? Checked before anything that writes (the WAL switch, the migrations), so another
    # program's database stays byte-for-byte as it was.
    try:
        _check_identity(conn, path)
    except sqlite3.OperationalError as exc:
        if "no such" in str(exc).lower():
            raise _foreign(path) from None
        raise
    version = conn.execute("PRAGMA user_version").fetchone()[0]
    if version > SCHEMA_VERSION:
        raise StoreError(
            f"The database {path} was written by a newer version of khalti (schema {version}). "
            "Upgrade khalti (pip install -U khalti-cli) before using it."
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
