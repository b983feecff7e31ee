"""A stateful local emulator of Khalti's ePayment API (``khalti sandbox``), stdlib only.

It serves Khalti's initiate, lookup and refund endpoints with the documented bodies and HTTP codes,
a payment page at each ``payment_url``, and a control API for scripts (``/sandbox/...``), including
fault injection. Everything is in memory.
"""

from .errors import SandboxError, UnknownPaymentError
from .server import SandboxServer, serve, start_sandbox
from .state import SandboxState

__all__ = ["SandboxError", "SandboxServer", "SandboxState", "UnknownPaymentError", "serve", "start_sandbox"]
