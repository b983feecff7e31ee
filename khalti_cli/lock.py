"""One run at a time: an flock beside the database. The kernel drops it if the holder dies
(even SIGKILL), so there is never a stale lock to clean up.

`reconcile` holds `<db>.reconcile.lock`; the commands that send messages to parents (`notify`, `remind`)
hold `<db>.messages.lock`, so two of them never send at once.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path

from khalti_cli.clock import stamp
from khalti_cli.errors import LockBusy


def lock_path(db_path: Path, name: str = "reconcile") -> Path:
    return db_path.with_name(f"{db_path.name}.{name}.lock")


@contextmanager
def run_lock(db_path: Path, name: str, busy: str) -> Iterator[None]:
    """Hold `<db>.<name>.lock`; when another process holds it, LockBusy with `busy` (given the holder)."""
    path = lock_path(db_path, name)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 200, 0).decode("utf-8", "replace").strip() or "another process"
            raise LockBusy(busy.format(holder=holder)) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"pid {os.getpid()}, started {stamp()}".encode(), 0)
        try:
            yield
        finally:
            os.ftruncate(fd, 0)
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


def reconcile_lock(db_path: Path) -> AbstractContextManager[None]:
    return run_lock(
        db_path,
        "reconcile",
        "Another reconcile is running ({holder}). This run did nothing; the next one will go ahead.",
    )


def messages_lock(db_path: Path) -> AbstractContextManager[None]:
    return run_lock(
        db_path,
        "messages",
        "Another khalti run is sending messages ({holder}). This run sent nothing; the next one will go ahead.",
    )
