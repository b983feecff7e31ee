"""Tests that need a Debian package: skip with the package's name, except under CI=true, where they fail
(.ci/run installs the package)."""

from __future__ import annotations

import os
import shutil

import pytest


def require_binary(name: str, package: str) -> str:
    """The path of the program `name`, or skip (fail under CI=true) naming the Debian `package`."""
    path = shutil.which(name)
    if path:
        return path
    message = f"needs {name!r}: install the Debian package {package!r} (apt-get install {package})"
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(message)
    pytest.skip(message)
