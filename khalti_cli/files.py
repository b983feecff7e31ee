"""Creating files that hold customer data: never through a link, never half-written, mode 0600.

Every file khalti writes (slips, receipts, backups, exports, restore's copies) goes through here:
the bytes land in a fresh hidden temporary file beside the target, opened with O_EXCL | O_NOFOLLOW and
mode 0600 whatever the umask, are synced, and only then get their name. Without `force` the name is
claimed with link(2), which fails if anything (a file, a directory, a planted symlink) already has it,
so a clash can never overwrite; with `force` rename(2) replaces the name itself, never a link's target.
The temporary file is checked to be the same inode just before it gets its name, so swapping it for a
link meanwhile is refused too.

Files named after records (a slip per payment, a receipt per payment) get their names from
`record_file_name`, which is injective: two different order ids never give the same name, and
`claim_names` refuses, before anything is written, a set of names that would clash on a disk that
ignores case (a USB stick, a Windows share, macOS) or that already exist.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import stat
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from khalti_cli.errors import InvalidInput

PRIVATE_MODE = 0o600
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_NEW = os.O_WRONLY | os.O_CREAT | os.O_EXCL | _NOFOLLOW | getattr(os, "O_CLOEXEC", 0)
# Kept as they are in a file name made from a record's id; every other character is percent-encoded.
_SAFE = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._")


def record_file_name(record_id: str, suffix: str) -> str:
    """The file name for a record (e.g. a payment's order id) plus `suffix` (e.g. ".png").

    Letters, digits, `-`, `.` and `_` are kept; every other character, `%` included, becomes `%XX` per
    UTF-8 byte (upper-case hex), and so does a leading `.` (no hidden files, no `.`/`..`). So `S/1` is
    `S%2F1.png`, `S:1` is `S%3A1.png`, `S#1` is `S%231.png` and `S_1` is `S_1.png`: different ids always
    give different names, and the id can be read back from the name (percent-decoding).
    """
    if not record_id:
        raise ValueError("a record id is never empty")
    out = []
    for i, char in enumerate(record_id):
        if char in _SAFE and not (i == 0 and char == "."):
            out.append(char)
        else:
            out.extend(f"%{byte:02X}" for byte in char.encode("utf-8", "surrogatepass"))
    return "".join(out) + suffix


def claim_names(folder: Path, named: Sequence[tuple[str, str]], *, force: bool = False) -> list[Path]:
    """Check a batch of (record id, file name) before writing any of them; returns the paths.

    Refused (InvalidInput, exit 3) when two names differ only in upper/lower case (they would be one file
    on a disk that ignores case), or, without `force`, when a name is already taken in `folder`.
    """
    seen: dict[str, str] = {}
    for record_id, name in named:
        key = name.casefold()
        other = seen.setdefault(key, record_id)
        if other != record_id:
            raise InvalidInput(
                f"{other} and {record_id} would be written to the same file name on a disk that ignores "
                f"upper/lower case ({name}); nothing was written. Write them to separate folders."
            )
    paths = [folder / name for _, name in named]
    for path in paths:
        refuse_existing(path, force=force)
    return paths


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
    if not _exact_name(path):
        raise InvalidInput(
            f"{path} exists under a name that differs in upper/lower case (this disk ignores case); khalti "
            "will not replace another file. Choose another folder."
        )


def _exact_name(path: Path) -> bool:
    """True when the folder lists `path`'s name exactly (not only a case-insensitive match of it)."""
    try:
        return path.name in os.listdir(path.parent if str(path.parent) else ".")
    except OSError:
        return True  # cannot list the folder: the rename below still never follows a link


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
        made = os.fstat(fd)
    finally:
        os.close(fd)
    try:
        yield tmp
        _same_file(tmp, made, target)
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


def _same_file(tmp: Path, made: os.stat_result, target: Path) -> None:
    now = tmp.lstat()
    if not stat.S_ISREG(now.st_mode) or (now.st_dev, now.st_ino) != (made.st_dev, made.st_ino):
        raise InvalidInput(f"The temporary file for {target} was replaced while khalti wrote it; nothing was written.")


def write_private(path: Path | str, data: bytes, *, force: bool = False) -> Path:
    """Write `data` as a new 0600 file at `path` (see the module's docstring). Returns the path."""
    target = Path(path)
    with publishing(target, force=force) as tmp:
        fd = os.open(tmp, os.O_WRONLY | _NOFOLLOW)
        with os.fdopen(fd, "wb") as stream:
            stream.write(data)
    return target


def _sync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | _NOFOLLOW)
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
