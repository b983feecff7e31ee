"""`khalti restore BACKUP`: replace the database with a checked backup, safely.

1. The backup is checked before anything is touched: an SQLite file, khalti's tables, a schema not newer
   than this khalti, and `PRAGMA integrity_check` ok. An older schema is brought up to date on a private
   temporary copy (the backup file itself is only read).
2. Nothing else may be using the database: the reconcile lock is taken (non-blocking) and a write
   transaction (BEGIN EXCLUSIVE, short wait) on the live database; either busy means exit 75, nothing done.
3. Inside that transaction, the live database is first copied to `<db>.replaced-<local time>` (0600, via
   khalti_cli.files), then every table's rows are replaced by the backup's (foreign keys checked at
   commit). It is one SQLite transaction on the live file, so the WAL and shared memory files stay
   consistent for every other connection, and a kill at any moment leaves either the old database or the
   restored one, never a mix.
A live database that cannot be opened at all (damaged) is moved aside whole (with its -wal) only with
--force, and the backup copied into its place.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from khalti_cli.clock import now
from khalti_cli.errors import InvalidInput, LockBusy, StoreBusy, StoreError
from khalti_cli.files import publishing, refuse_existing
from khalti_cli.lock import reconcile_lock
from khalti_cli.store.db import SCHEMA_VERSION, open_store, translate
from khalti_cli.times import local, to_local

HEADER = b"SQLite format 3\x00"
CORE_TABLES = {"payments", "links", "events"}
WAIT_MS = 2000  # for a write in progress to finish before restore gives up (exit 75)


@dataclass(frozen=True)
class Restored:
    db: Path
    kept: Path | None  # the replaced database, kept beside it
    payments: int
    events: int
    newest_event: str | None


def _read_only(path: Path) -> str:
    """A read-only SQLite URI for `path` (as_uri escapes ?, # and % in the name)."""
    return path.resolve().as_uri() + "?mode=ro"


def _summary(conn: sqlite3.Connection, schema: str = "main") -> tuple[int, int, str | None]:
    payments = conn.execute(f"SELECT COUNT(*) FROM {schema}.payments").fetchone()[0]
    events, newest = conn.execute(f"SELECT COUNT(*), MAX(at) FROM {schema}.events").fetchone()
    return int(payments), int(events), newest


def check_backup(path: Path) -> int:
    """Raise InvalidInput unless `path` is a sound khalti backup; return its schema version."""
    name = str(path)
    if not path.is_file():
        raise InvalidInput(f"There is no backup file at {name}.")
    with path.open("rb") as stream:
        if stream.read(16) != HEADER:
            raise InvalidInput(f"{name} is not an SQLite database, so not a khalti backup. Nothing was changed.")
    try:
        conn = sqlite3.connect(_read_only(path), uri=True)
    except sqlite3.Error as exc:
        raise InvalidInput(f"Cannot read the backup {name}: {exc}. Nothing was changed.") from None
    try:
        verdict = [r[0] for r in conn.execute("PRAGMA integrity_check")]
        if verdict != ["ok"]:
            raise InvalidInput(
                f"The backup {name} is damaged (integrity check: {'; '.join(verdict[:2])}). Nothing was changed; "
                "use an earlier backup."
            )
        version = int(conn.execute("PRAGMA user_version").fetchone()[0])
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    except sqlite3.Error as exc:
        raise InvalidInput(f"The backup {name} cannot be read ({exc}). Nothing was changed.") from None
    finally:
        conn.close()
    if version == 0 or not tables >= CORE_TABLES:
        raise InvalidInput(f"{name} is an SQLite file but not a khalti backup (no khalti tables). Nothing was changed.")
    if version > SCHEMA_VERSION:
        raise InvalidInput(
            f"The backup {name} was made by a newer khalti (schema {version}, this one knows {SCHEMA_VERSION}). "
            "Upgrade khalti first (pip install -U khalti-cli). Nothing was changed."
        )
    return version


def _stamp_name(db: Path) -> Path:
    moment = to_local(now()).strftime("%Y%m%d-%H%M%S")
    return db.with_name(f"{db.name}.replaced-{moment}")


def _copy_db(source: sqlite3.Connection, target: Path) -> None:
    dst = sqlite3.connect(str(target))
    try:
        source.backup(dst)
        dst.execute("PRAGMA journal_mode = DELETE")  # one self-contained file
    finally:
        dst.close()


@contextlib.contextmanager
def _up_to_date(backup: Path, version: int, db: Path) -> Iterator[Path]:
    """The backup itself when its schema is current; else a private migrated copy beside the database."""
    if version == SCHEMA_VERSION:
        yield backup
        return
    temp = db.with_name(f".{db.name}.restore-{os.getpid()}")
    with contextlib.suppress(FileNotFoundError):
        temp.unlink()
    try:
        with publishing(temp, force=True) as tmp:
            src = sqlite3.connect(_read_only(backup), uri=True)
            try:
                _copy_db(src, tmp)
            finally:
                src.close()
        open_store(temp).close()  # applies the migrations since the backup's version
        yield temp
    finally:
        for leftover in (temp, temp.with_name(temp.name + "-wal"), temp.with_name(temp.name + "-shm")):
            with contextlib.suppress(FileNotFoundError):
                leftover.unlink()


def restore(db: Path, backup: Path, *, force: bool = False) -> Restored:
    backup = backup.expanduser()
    version = check_backup(backup)
    if db.exists() and backup.resolve() == db.resolve():
        raise InvalidInput("The backup is the database itself; give the backup file.")
    try:
        db.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    except OSError as exc:
        raise StoreError(f"Cannot make the folder {db.parent}: {exc.strerror}.") from None
    with reconcile_lock_or_busy(db):
        if not db.exists():
            return _into_new(db, backup, version)
        try:
            live = open_store(db)
        except StoreError as exc:
            if not force:
                raise StoreError(
                    f"{exc} To replace it with the backup anyway (it is kept beside, renamed), give --force."
                ) from None
            return _replace_damaged(db, backup, version)
        try:
            return _into_live(live.conn, db, backup, version, force)
        finally:
            live.close()


@contextlib.contextmanager
def reconcile_lock_or_busy(db: Path) -> Iterator[None]:
    try:
        lock = reconcile_lock(db)
        lock.__enter__()
    except LockBusy as exc:
        raise LockBusy(f"{exc} Restore did nothing: wait for it to finish, then run restore again.") from None
    try:
        yield
    finally:
        lock.__exit__(None, None, None)


def _into_live(conn: sqlite3.Connection, db: Path, backup: Path, version: int, force: bool) -> Restored:
    with _up_to_date(backup, version, db) as source:
        try:
            conn.execute("ATTACH DATABASE ? AS restored", [str(source)])  # only read from
        except sqlite3.Error as exc:
            raise translate(exc, source) from None
        try:
            return _swap(conn, db, force)
        except sqlite3.Error as exc:
            raise translate(exc, db) from None
        finally:
            with contextlib.suppress(sqlite3.Error):
                conn.execute("DETACH DATABASE restored")


def _tables(conn: sqlite3.Connection, schema: str) -> list[str]:
    rows = conn.execute(f"SELECT name FROM {schema}.sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")
    return sorted(r[0] for r in rows)


def _swap(conn: sqlite3.Connection, db: Path, force: bool) -> Restored:
    conn.execute(f"PRAGMA busy_timeout = {WAIT_MS}")
    try:
        conn.execute("BEGIN EXCLUSIVE")
    except sqlite3.OperationalError as exc:
        if "locked" in str(exc).lower() or "busy" in str(exc).lower():
            raise StoreBusy(
                f"Another khalti command is writing to {db}. Restore did nothing; run it again when it is done."
            ) from None
        raise
    try:
        live_tables, backup_tables = _tables(conn, "main"), _tables(conn, "restored")
        if set(backup_tables) - set(live_tables):
            raise InvalidInput("The backup has tables this khalti does not know; it was not made by khalti.")
        _, _, live_newest = _summary(conn)
        _, _, backup_newest = _summary(conn, "restored")
        if not force and live_newest and (backup_newest is None or live_newest > backup_newest):
            lost = conn.execute("SELECT COUNT(*) FROM main.events WHERE at > ?", [backup_newest or ""]).fetchone()[0]
            shown = local(backup_newest) if backup_newest else "none"
            raise InvalidInput(
                f"The database has {lost} event(s) newer than the backup's newest ({shown}); restoring "
                "would undo them. Give --force to restore anyway (the current database is kept beside it)."
            )
        kept = _stamp_name(db)
        refuse_existing(kept)
        reader = sqlite3.connect(_read_only(db), uri=True, timeout=WAIT_MS / 1000)
        try:  # a second connection reads (WAL) while this one holds the write lock: exactly what is replaced
            with publishing(kept) as tmp:
                _copy_db(reader, tmp)
        finally:
            reader.close()
        conn.execute("PRAGMA defer_foreign_keys = ON")
        for table in live_tables:
            conn.execute(f'DELETE FROM main."{table}"')
        for table in backup_tables:
            cols = [r[1] for r in conn.execute(f'PRAGMA restored.table_info("{table}")')]
            names = ", ".join(f'"{c}"' for c in cols)
            conn.execute(f'INSERT INTO main."{table}" ({names}) SELECT {names} FROM restored."{table}"')
        payments, events, newest = _summary(conn)
        conn.commit()
    except BaseException:
        conn.rollback()
        raise
    return Restored(db, kept, payments, events, newest)


def _into_new(db: Path, backup: Path, version: int) -> Restored:
    """No database yet: the backup (brought up to date) becomes it."""
    with _up_to_date(backup, version, db) as source:
        src = sqlite3.connect(_read_only(source), uri=True)
        try:
            with publishing(db) as tmp:
                _copy_db(src, tmp)
        finally:
            src.close()
    store = open_store(db)
    try:
        payments, events, newest = _summary(store.conn)
    finally:
        store.close()
    return Restored(db, None, payments, events, newest)


def _replace_damaged(db: Path, backup: Path, version: int) -> Restored:
    """--force over a database that cannot be opened: move it (and its -wal) aside, copy the backup in."""
    kept = _stamp_name(db)
    refuse_existing(kept)
    os.rename(db, kept)
    for suffix in ("-wal", "-shm", "-journal"):
        side = db.with_name(db.name + suffix)
        if side.exists():
            if suffix == "-shm":
                side.unlink()
            else:
                os.rename(side, kept.with_name(kept.name + suffix))
    os.chmod(kept, 0o600)
    result = _into_new(db, backup, version)
    return Restored(db, kept, result.payments, result.events, result.newest_event)
