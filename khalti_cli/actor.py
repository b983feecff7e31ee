"""Who did it: the `actor` written on every event. KHALTI_ACTOR when set (a shared office login, a named
cron job), otherwise the operating-system login name (getpass: LOGNAME, USER, ..., then the password
database), so reconcile's events name the login that runs cron."""

from __future__ import annotations

import getpass
import os
import unicodedata

from khalti_cli.errors import ConfigError

LIMIT = 64


def current_actor() -> str:
    given = os.environ.get("KHALTI_ACTOR")
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
