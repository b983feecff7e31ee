"""Creating files that hold customer data: never through a link, never half-written, mode 0600.

Every file khalti writes (slips, receipts, backups, exports, restore's copies) goes through here:
the bytes land in a fresh hidden temporary file beside the target, opened with O_EXCL | O_NOFOLLOW and
mode 0600 whatever the umask, are synced, and only then get their name. Without `force` the name is
claimed with link(2), which fails if anything (a file, a directory, a planted symlink) already has it,
so a clash can never overwrite; with `force` rename(2) replaces the name itself, never a link's target.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from khalti_cli.errors import InvalidInput

PRIVATE_MODE = 0o600
_NEW = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)


def _exists_error(path: Path) -> InvalidInput:
    return InvalidInput(f"{path} already exists. Choose another name, or give --force to replace it.")


def refuse_existing(path: Path, *, force: bool = False) -> None:
    """Raise before any work when `path` is taken (a symlink counts, even a dangling one)."""
    try:
        st = path.lstat()
    except FileNotFoundError:
        return
    except OSError as exc:
        raise InvalidInput(f"Cannot use {path}: {exc.strerror or exc}.") from None
    if not force:
        raise _exists_error(path)
    if not stat.S_ISREG(st.st_mode):
        raise InvalidInput(f"{path} exists and is not a regular file; khalti will not replace it. Choose another name.")


@contextmanager
def publishing(path: Path | str, *, force: bool = False) -> Iterator[Path]:
    """Yield a new empty 0600 temporary file beside `path`; on success it becomes `path`.

    On any error the temporary file is removed and `path` is untouched.
    """
    target = Path(path)
    refuse_existing(target, force=force)
    tmp = target.with_name(f".{target.name}.{secrets.token_hex(6)}.tmp")
    try:
        fd = os.open(tmp, _NEW, PRIVATE_MODE)
    except OSError as exc:
        raise InvalidInput(f"Cannot write {target}: {exc.strerror or exc}.") from None
    try:
        os.fchmod(fd, PRIVATE_MODE)  # the umask may have taken bits away; never added any
    finally:
        os.close(fd)
    try:
        yield tmp
        _sync(tmp)
        if force:
            refuse_existing(target, force=True)
            os.replace(tmp, target)
        else:
            try:
                os.link(tmp, target, follow_symlinks=False)
            except FileExistsError:
                raise _exists_error(target) from None
            os.unlink(tmp)
        _sync_dir(target.parent)
    except OSError as exc:
        raise InvalidInput(f"Cannot write {target}: {exc.strerror or exc}.") from None
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)


def write_private(path: Path | str, data: bytes, *, force: bool = False) -> Path:
    """Write `data` as a new 0600 file at `path` (see the module's docstring). Returns the path."""
    target = Path(path)
    with publishing(target, force=force) as tmp:
        fd = os.open(tmp, os.O_WRONLY | getattr(os, "O_NOFOLLOW", 0))
        with os.fdopen(fd, "wb") as stream:
            stream.write(data)
    return target


def _sync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _sync_dir(folder: Path) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(folder if str(folder) else ".", os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
