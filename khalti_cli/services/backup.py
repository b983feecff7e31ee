"""A consistent copy of the database while other commands run.

SQLite's online backup API copies every page inside one read transaction, so the copy is one moment of the
database (WAL mode: writers such as a running reconcile carry on meanwhile and are not in the copy). The
copy is written to a hidden temporary file made mode 0600 (it holds customer data) by files.publishing,
checked with `PRAGMA integrity_check`, synced to disk, and only then given its name, so a half-written
backup never carries the name; an existing file is replaced only with force, and never through a link.
"""

from __future__ import annotations

import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path

from khalti_cli.errors import InvalidInput, StoreError
from khalti_cli.files import publishing
from khalti_cli.store.db import connect, translate


@dataclass(frozen=True)
class BackupResult:
    path: Path
    bytes: int
    payments: int
    seconds: float


def backup(db_path: Path, dest: str | Path, *, force: bool = False) -> BackupResult:
    started = time.monotonic()
    source = Path(db_path)
    target = Path(dest).expanduser()
    if not source.is_file():
        raise InvalidInput(f"There is no database at {source} to back up. Check --db / KHALTI_DB.")
    if target.is_dir():
        raise InvalidInput(f"{target} is a folder; give the backup a file name, e.g. {target / 'khalti-backup.db'}.")
    if target.exists() and force and target.resolve() == source.resolve():
        raise InvalidInput("The backup cannot replace the database itself; choose another name.")
    if not target.parent.is_dir():
        raise InvalidInput(f"The folder {target.parent} does not exist; make it first.")
    # files.publishing: a new 0600 temporary file (never through a link), named only once whole and checked.
    with publishing(target, force=force) as temp:
        payments = _copy(source, temp)
    return BackupResult(target, target.stat().st_size, payments, time.monotonic() - started)


def _copy(source: Path, temp: Path) -> int:
    src = dst = None
    try:
        src = connect(source, read_only=True)
        dst = connect(temp)
        src.backup(dst)  # all pages in one step: one read transaction, one moment of the database
        dst.execute("PRAGMA journal_mode = DELETE")  # the copy is one self-contained file
        verdict = [r[0] for r in dst.execute("PRAGMA integrity_check")]
        if verdict != ["ok"]:
            raise StoreError(
                f"The copy failed SQLite's integrity check ({'; '.join(verdict[:3])}); the database {source} "
                "may be damaged. Nothing was written; keep your earlier backups."
            )
        try:
            return int(dst.execute("SELECT COUNT(*) FROM payments").fetchone()[0])
        except sqlite3.OperationalError:
            return 0
    except sqlite3.Error as exc:
        raise translate(exc, source) from None
    finally:
        for conn in (dst, src):
            if conn is not None:
                conn.close()
