"""Exceptions raised by the sandbox's in-process API."""

from __future__ import annotations


class SandboxError(ValueError):
    """An impossible action: an unknown pidx, a transition the payment cannot make, a bad fault spec."""


class UnknownPaymentError(SandboxError):
    """No payment has this pidx (or transaction id)."""
