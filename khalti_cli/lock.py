"""One reconcile at a time: an flock beside the database. The kernel drops it if the holder dies
(even SIGKILL), so there is never a stale lock to clean up."""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from khalti_cli.clock import stamp
from khalti_cli.errors import LockBusy


def lock_path(db_path: Path) -> Path:
    return db_path.with_name(db_path.name + ".reconcile.lock")


@contextmanager
def reconcile_lock(db_path: Path) -> Iterator[None]:
    path = lock_path(db_path)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 200, 0).decode("utf-8", "replace").strip() or "another process"
            raise LockBusy(
                f"Another reconcile is running ({holder}). This run did nothing; the next one will go ahead."
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"pid {os.getpid()}, started {stamp()}".encode(), 0)
        try:
            yield
        finally:
            os.ftruncate(fd, 0)
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)
