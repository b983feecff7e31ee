"""DRF TokenAuthentication with Khalti's keyword ("Key") and Khalti's 401 envelope (reference 2)."""

from __future__ import annotations

import secrets

from .reply import Reply, json_reply

NOT_PROVIDED = "Authentication credentials were not provided."
NO_CREDENTIALS = "Invalid token header. No credentials provided."
HAS_SPACES = "Invalid token header. Token string should not contain spaces."
INVALID = "Invalid token."


def check_auth(header: str | None, key: str | None) -> Reply | None:
    """None when the request may proceed, else the 401 reply.

    As DRF: a header whose first word is not ``key`` (any case) counts as no credentials at all.
    With ``key`` unset, any non-empty token is accepted.
    """
    words = (header or "").split()
    if not words or words[0].lower() != "key":
        return _unauthorized(NOT_PROVIDED)
    if len(words) == 1:
        return _unauthorized(NO_CREDENTIALS)
    if len(words) > 2:
        return _unauthorized(HAS_SPACES)
    if key is not None and not secrets.compare_digest(words[1].encode(), key.encode()):
        return _unauthorized(INVALID)
    return None


def _unauthorized(detail: str) -> Reply:
    # DRF adds WWW-Authenticate with the keyword, which is what makes the answer a 401 and not a 403.
    return json_reply(401, {"detail": detail, "status_code": 401}, [("WWW-Authenticate", "Key")])
