"""Who did it: the `actor` written on every event. KHALTI_ACTOR when set (a shared office login, a named
cron job), otherwise the operating-system login name (getpass: LOGNAME, USER, ..., then the password
database), so reconcile's events name the login that runs cron."""

from __future__ import annotations

import functools
import getpass
import os
import unicodedata

from khalti_cli.errors import ConfigError

LIMIT = 64


_NAMES = ("KHALTI_ACTOR", "LOGNAME", "USER", "LNAME", "USERNAME")


def current_actor() -> str:
    """Asked for every event (reconcile writes thousands): the answer is kept per environment."""
    return _actor(tuple(os.environ.get(name) for name in _NAMES))


@functools.lru_cache(maxsize=8)
def _actor(environment: tuple[str | None, ...]) -> str:
    given = environment[0]
    if given is not None and given.strip():
        value = unicodedata.normalize("NFC", given.strip())
        if not value.isprintable() or len(value) > LIMIT:
            raise ConfigError(
                f"KHALTI_ACTOR must be one line of at most {LIMIT} printable characters (a name); fix it "
                "or unset it to use your login name."
            )
        return value
    try:
        return getpass.getuser()
    except (OSError, KeyError):
        return f"uid {os.getuid()}"
