"""Web addresses in the settings, checked before anything is written: KHALTI_BASE_URL's shape
(normalise_base_url) and whether a host is this machine (is_loopback)."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from khalti_cli.errors import ConfigError
from khalti_cli.output import printable

_HOST_LABEL = re.compile(r"(?!-)[A-Za-z0-9-]{1,63}(?<!-)")
_URL_PATH = re.compile(r"[A-Za-z0-9._~!$&'()*+,;=:@%/-]*")


def _bad_base_url(value: str, why: str) -> ConfigError:
    value = re.sub(r"//[^/]*@", "//***@", value)  # a user name or password (maybe the key) is never shown
    shown = printable(value) if len(value) <= 100 else printable(value[:97]) + "..."
    return ConfigError(
        f"KHALTI_BASE_URL {shown!r} is not a usable web address: {why}. "
        "Use one like https://dev.khalti.com (sandbox) or https://khalti.com (production)."
    )


def _check_host(value: str, host: str) -> None:
    from ipaddress import IPv4Address, IPv6Address  # only here: start-up time

    if host.startswith("[") and host.endswith("]"):
        try:
            IPv6Address(host[1:-1])
        except ValueError:
            raise _bad_base_url(value, "the address in brackets is not an IPv6 address") from None
        return
    if not host.isascii():
        raise _bad_base_url(value, "the host name has letters outside ASCII (write it in its xn-- form)")
    if host.replace(".", "").isdigit():
        try:
            IPv4Address(host)
        except ValueError:
            raise _bad_base_url(value, "the host is not a valid IPv4 address") from None
        return
    labels = host.rstrip(".").split(".")
    if len(host) > 253 or not all(_HOST_LABEL.fullmatch(label) for label in labels):
        raise _bad_base_url(value, "the host name is not a valid name (letters, digits, hyphens and dots)")


def normalise_base_url(value: str) -> str:
    """Accept the root, or the root with /api/v2 (with or without the slash); return the root.

    Everything an HTTP client could stumble on later is refused here, before anything is written: a value
    that passes is a plain http(s) URL with an ASCII host, an optional numeric port and a plain path."""
    url = value.strip().rstrip("/")
    if not url:
        raise _bad_base_url(value, "it is empty")
    if any(ch.isspace() or not ch.isprintable() for ch in url):
        raise _bad_base_url(value, "it holds spaces, tabs or control characters")
    if url.endswith("/api/v2"):
        url = url[: -len("/api/v2")].rstrip("/")
    scheme, sep, rest = url.partition("://")
    if not sep or scheme.lower() not in ("http", "https"):
        raise _bad_base_url(value, "it must start with https:// (or http:// for a local sandbox)")
    netloc, _, path = rest.partition("/")
    if any(ch in rest for ch in "?#\\"):
        raise _bad_base_url(value, "it may not have a query (?), a fragment (#) or a backslash")
    if "@" in netloc:
        raise _bad_base_url(value, "it may not carry a user name or password (the key goes in KHALTI_SECRET_KEY)")
    host, port = netloc, ""
    if netloc.startswith("["):
        end = netloc.find("]")
        host, port = (netloc[: end + 1], netloc[end + 1 :]) if end > 0 else (netloc, "")
        if port and not port.startswith(":"):
            raise _bad_base_url(value, "the port must follow the host after a colon")
        port = port[1:]
    elif ":" in netloc:
        host, port = netloc.rsplit(":", 1)
    if not host:
        raise _bad_base_url(value, "it has no host name")
    _check_host(value, host)
    if port and not (port.isascii() and port.isdigit() and 0 < int(port) < 65536):
        raise _bad_base_url(value, "the port must be a number from 1 to 65535")
    if not path.isascii() or not _URL_PATH.fullmatch(path):
        raise _bad_base_url(value, "the path has characters a web address cannot hold")
    parts = urlsplit(url)
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        raise _bad_base_url(value, "it has no host name")
    return url


def is_loopback(host: str) -> bool:
    from ipaddress import ip_address

    if host == "localhost":
        return True
    try:
        return ip_address(host).is_loopback
    except ValueError:
        return False
