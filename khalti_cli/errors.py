"""One exception hierarchy; each class carries the contract's exit code.

The CLI's error boundary (`khalti_cli.cli.boundary`) is the only place that turns these into exit codes
and messages. Messages are written for accounts staff: what went wrong and what to do, never the key.
"""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    OK = 0
    BUG = 1
    USAGE = 2
    INVALID = 3
    CONFIG = 4
    REVIEW = 5
    TEMPORARY = 75
    INTERRUPTED = 130


# When several outcomes apply in one run, the first in this order wins (contract).
EXIT_PRIORITY = (ExitCode.CONFIG, ExitCode.INVALID, ExitCode.REVIEW, ExitCode.TEMPORARY)


def worst(codes: list[ExitCode] | set[ExitCode]) -> ExitCode:
    for code in EXIT_PRIORITY:
        if code in codes:
            return code
    return ExitCode.BUG if ExitCode.BUG in codes else ExitCode.OK


class KhaltiError(Exception):
    """Base of every error the tool expects; `str(err)` is the sentence shown to the user."""

    exit_code: ExitCode = ExitCode.BUG


class UsageError(KhaltiError):
    exit_code = ExitCode.USAGE


class InvalidInput(KhaltiError):
    """Bad amount, bad field, unknown order id, a refused state change: nothing was changed."""

    exit_code = ExitCode.INVALID


class NotFound(InvalidInput):
    pass


class ConfigError(KhaltiError):
    """Missing key or URL, unsafe production setting, unreadable env file."""

    exit_code = ExitCode.CONFIG


class AuthError(ConfigError):
    """Khalti answered 401: the key is wrong or missing."""


class TemporaryError(KhaltiError):
    """Safe to run again later: nothing was written that is wrong."""

    exit_code = ExitCode.TEMPORARY


class StoreBusy(TemporaryError):
    pass


class LockBusy(TemporaryError):
    pass


class StoreError(KhaltiError):
    """The database file is corrupt, not SQLite, read-only or from a newer version."""

    exit_code = ExitCode.CONFIG


# --- gateway outcomes (raised by khalti_cli.gateway, which alone knows httpx) ---


class GatewayError(TemporaryError):
    """Khalti could not be reached or gave no usable answer; the stored status stays as it was."""

    # True when the request may have reached Khalti (so an initiate may have made a link).
    maybe_sent: bool = True


class GatewayUnreachable(GatewayError):
    maybe_sent = False


class GatewayTimeout(GatewayError):
    pass


class GatewayDropped(GatewayError):
    pass


class GatewayServerError(GatewayError):
    def __init__(self, message: str, status_code: int) -> None:
        super().__init__(message)
        self.status_code = status_code


class GatewayRateLimited(GatewayError):
    def __init__(self, message: str, retry_after: float | None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class GatewayBadResponse(GatewayError):
    """A body that is not the JSON Khalti documents (HTML, truncated, wrong shape, too large)."""

    def __init__(self, message: str, excerpt: str | None = None, *, retryable: bool = True) -> None:
        super().__init__(message)
        # The start of an answer that could not be stored as it came (key redacted, capped): kept in an event.
        self.excerpt = excerpt
        # False for answers that asking again at once would not mend (too large, unstorable, another pidx).
        self.retryable = retryable


class Unexpected(KhaltiError):
    """A failure khalti did not foresee inside a worker (a bug): counted against its payment, exit 1."""

    exit_code = ExitCode.BUG

    def __init__(self, message: str, details: str) -> None:
        super().__init__(message)
        self.details = details  # the traceback, shown with -v


def unexpected(exc: BaseException, what: str) -> Unexpected:
    """An exception nobody foresaw, as an error of its own payment (call inside the `except`)."""
    import traceback

    return Unexpected(
        f"khalti hit an unexpected problem during {what} ({exc.__class__.__name__}); that payment was left as "
        "it was. Run the same command with -v to see the details, and report them.",
        traceback.format_exc(),
    )


class GatewayRejected(InvalidInput):
    """Khalti refused the request with a validation error (HTTP 400 `validation_error`)."""

    def __init__(self, message: str, fields: dict[str, list[str]], body: object) -> None:
        super().__init__(message)
        self.fields = fields
        self.body = body
