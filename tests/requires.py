"""Tests that need a program from a Debian package: skip where it is missing, fail under CI (.ci/run
installs it)."""

from __future__ import annotations

import os
import shutil

import pytest


def require_binary(name: str, package: str) -> str:
    """The path of `name`; else a skip naming the package (a failure when CI=true)."""
    path = shutil.which(name)
    if path:
        return path
    message = f"{name} is not installed (apt-get install {package})"
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(message + "; CI must install it (.ci/run)")
    pytest.skip(message)
