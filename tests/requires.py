"""What a test needs from the machine. Locally a missing need skips the test with a message naming what to
install; under CI (`CI=true`) it fails the run instead, so a reliability test can never pass by skipping
where CI runs it (.ci/run installs everything these name).

    from requires import require_binary, require_capability, require_module

    chromium = require_binary("chromium", "chromium")            # the path, or skip/fail
    nepal = require_module("nepal_gateways", "nepal-gateways")   # the module, or skip/fail
    require_capability(can_mount(), "mounting a tmpfs (root in CI)")
"""

from __future__ import annotations

import importlib
import os
import shutil
from types import ModuleType
from typing import NoReturn

import pytest


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in ("true", "1", "yes")


def missing(message: str) -> NoReturn:
    """Skip with `message`, or fail under CI=true."""
    if in_ci():
        pytest.fail(f"{message} (CI=true: a skipped test would hide missing coverage)", pytrace=False)
    pytest.skip(message, allow_module_level=True)  # also from a module's top (a whole file needs it)


def require_binary(name: str, package: str) -> str:
    """The path of program `name`; else skip (fail under CI) naming the Debian package that has it."""
    path = shutil.which(name)
    if path is None:
        missing(f"{name} is not installed (apt-get install {package})")
    return path


def require_module(name: str, package: str) -> ModuleType:
    """Import `name`; else skip (fail under CI) naming the pip package of the test extra that has it."""
    try:
        return importlib.import_module(name)
    except ImportError:
        missing(f"Python module {name} is missing (pip install -e '.[test]' installs {package})")


def require_capability(available: bool, what: str) -> None:
    """Skip (fail under CI) unless the machine allows `what`, e.g. mounting a filesystem."""
    if not available:
        missing(f"this machine does not allow {what}")
