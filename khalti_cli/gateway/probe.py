"""A plain GET of one of our own addresses (the pay page's /healthz, for `khalti doctor`): the gateway
package stays the only importer of httpx."""

from __future__ import annotations

from khalti_cli.errors import GatewayUnreachable


def get_text(url: str, *, timeout: float = 10) -> tuple[int, str]:
    """(HTTP status, body text) of GET url, redirects not followed. Raises GatewayUnreachable, whose
    message is the kind of failure (ConnectError, ReadTimeout, ...), when no answer came."""
    import httpx

    try:
        response = httpx.get(url, timeout=timeout, follow_redirects=False)
    except httpx.HTTPError as exc:
        raise GatewayUnreachable(exc.__class__.__name__) from None
    return response.status_code, response.text
