"""One reconcile at a time: an flock beside the database. The kernel drops it if the holder dies
(even SIGKILL), so there is never a stale lock to clean up.

The lock belongs to the database file itself: its name is made from the resolved path
(os.path.realpath), so `--db alias.db` (a symlink) and `--db fees.db` share one lock. It is opened with
O_NOFOLLOW and must be a regular file with one name: a symlink, a device, a pipe or a hard link planted
at its name is refused (exit 4) and never written or truncated.
"""

from __future__ import annotations

import fcntl
import os
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from khalti_cli.clock import stamp
from khalti_cli.errors import LockBusy, StoreError

_FLAGS = os.O_RDWR | os.O_CREAT | os.O_NONBLOCK | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)


def lock_path(db_path: Path) -> Path:
    real = Path(os.path.realpath(db_path))
    return real.with_name(real.name + ".reconcile.lock")


def _refused(path: Path, what: str) -> StoreError:
    return StoreError(
        f"{path} should be khalti's reconcile lock file, but it is {what}; khalti left it alone and did "
        "nothing. Remove it (khalti makes a new one) and run reconcile again."
    )


def _open_lock(path: Path) -> int:
    try:
        fd = os.open(path, _FLAGS, 0o600)
    except OSError as exc:
        if os.path.islink(path):
            raise _refused(path, "a symbolic link") from None
        raise StoreError(f"Cannot open the reconcile lock {path}: {exc.strerror}. Check the folder.") from None
    st = os.fstat(fd)
    problem = None
    if not stat.S_ISREG(st.st_mode):
        problem = "not a regular file"
    elif st.st_nlink != 1:
        problem = "a hard link to another file"
    if problem:
        os.close(fd)
        raise _refused(path, problem)
    return fd


@contextmanager
def reconcile_lock(db_path: Path) -> Iterator[None]:
    path = lock_path(db_path)
    fd = _open_lock(path)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            text = os.pread(fd, 200, 0).decode("utf-8", "replace")
            holder = "".join(c for c in text if c.isprintable()).strip() or "another process"
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
