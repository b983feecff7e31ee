"""One run at a time: an flock beside the database. The kernel drops it if the holder dies
(even SIGKILL), so there is never a stale lock to clean up.

`reconcile` holds `<db>.reconcile.lock`; the commands that send messages to parents (`notify`, `remind`)
hold `<db>.messages.lock`, so two of them never send at once.

A lock belongs to the database file itself: its name is made from the resolved path
(os.path.realpath), so `--db alias.db` (a symlink) and `--db fees.db` share one lock. It is opened with
O_NOFOLLOW and must be a regular file with one name: a symlink, a device, a pipe or a hard link planted
at its name is refused (exit 4) and never written or truncated.
"""

from __future__ import annotations

import fcntl
import os
import stat
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path

from khalti_cli.clock import stamp
from khalti_cli.errors import LockBusy, StoreError

_FLAGS = os.O_RDWR | os.O_CREAT | os.O_NONBLOCK | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)


def lock_path(db_path: Path, name: str = "reconcile") -> Path:
    real = Path(os.path.realpath(db_path))
    return real.with_name(f"{real.name}.{name}.lock")


def _refused(path: Path, name: str, what: str) -> StoreError:
    return StoreError(
        f"{path} should be khalti's {name} lock file, but it is {what}; khalti left it alone and did "
        f"nothing. Remove it (khalti makes a new one) and run {'reconcile' if name == 'reconcile' else 'it'} again."
    )


def _open_lock(path: Path, name: str) -> int:
    try:
        fd = os.open(path, _FLAGS, 0o600)
    except OSError as exc:
        if os.path.islink(path):
            raise _refused(path, name, "a symbolic link") from None
        raise StoreError(f"Cannot open the {name} lock {path}: {exc.strerror}. Check the folder.") from None
    st = os.fstat(fd)
    problem = None
    if not stat.S_ISREG(st.st_mode):
        problem = "not a regular file"
    elif st.st_nlink != 1:
        problem = "a hard link to another file"
    if problem:
        os.close(fd)
        raise _refused(path, name, problem)
    return fd


@contextmanager
def run_lock(db_path: Path, name: str, busy: str) -> Iterator[None]:
    """Hold `<db>.<name>.lock`; when another process holds it, LockBusy with `busy` (given the holder)."""
    path = lock_path(db_path, name)
    fd = _open_lock(path, name)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            text = os.pread(fd, 200, 0).decode("utf-8", "replace")
            holder = _for_people("".join(c for c in text if c.isprintable()).strip()) or "another process"
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


def _for_people(holder: str) -> str:
    """`pid 12, started 2026-11-28T19:05:00.000+00:00` -> `pid 12, started 2083-08-13 00:50` (local time)."""
    import re

    from khalti_cli.times import local

    return re.sub(r"\d{4}-\d{2}-\d{2}T[\d:.]+(?:[+-]\d{2}:\d{2}|Z)", lambda m: local(m.group()), holder)


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
