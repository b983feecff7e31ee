"""Shared constants and helpers for the sandbox tests (imported by tests/test_sandbox*.py)."""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx

# Shaped like the docs' sandbox key (a bare 32-hex string).
KEY = "05bf95cc57244045b8df5fad06748dab"
INITIATE = "/api/v2/epayment/initiate/"
LOOKUP = "/api/v2/epayment/lookup/"
ALPHABET = "23456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
EXPIRES_AT = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}\+05:45")

# The request body of the docs' code samples (khalti-epayment.md, "python" tab), amount as a string.
DOCS_SAMPLE_BODY: dict[str, Any] = {
    "return_url": "http://example.com/",
    "website_url": "https://example.com/",
    "amount": "1000",
    "purchase_order_id": "Order01",
    "purchase_order_name": "test",
    "customer_info": {"name": "Ram Bahadur", "email": "test@khalti.com", "phone": "9800000001"},
}

# The docs' "Sample Request Payload" (integer amount, breakdown, products, merchant_* extras).
DOCS_FULL_PAYLOAD: dict[str, Any] = {
    "return_url": "https://example.com/payment/",
    "website_url": "https://example.com/",
    "amount": 1300,
    "purchase_order_id": "test12",
    "purchase_order_name": "test",
    "customer_info": {"name": "Khalti Bahadur", "email": "example@gmail.com", "phone": "9800000123"},
    "amount_breakdown": [{"label": "Mark Price", "amount": 1000}, {"label": "VAT", "amount": 300}],
    "product_details": [
        {"identity": "1234567890", "name": "Khalti logo", "total_price": 1300, "quantity": 1, "unit_price": 1300}
    ],
    "merchant_username": "merchant_name",
    "merchant_extra": "merchant_extra",
}


def refund_path(transaction_id: str) -> str:
    return f"/api/merchant-transaction/{transaction_id}/refund/"


def api_client(base_url: str, key: str | None = KEY, keyword: str = "Key") -> httpx.Client:
    headers = {} if key is None else {"Authorization": f"{keyword} {key}"}
    # verify=False: plain-http loopback only, and it skips loading the CA bundle (~0.1 s per client).
    return httpx.Client(base_url=base_url, headers=headers, timeout=10, verify=False)


def initiate(client: httpx.Client, **overrides: Any) -> dict[str, Any]:
    """Initiate the docs' sample (with overrides) and return the 200 body."""
    response = client.post(INITIATE, json={**DOCS_SAMPLE_BODY, **overrides})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def lookup(client: httpx.Client, pidx: str) -> httpx.Response:
    return client.post(LOOKUP, json={"pidx": pidx})


def lookup_body(
    pidx: str, status: str, *, total: int = 1000, txn: str | None = None, refunded: bool = False
) -> dict[str, Any]:
    return {
        "pidx": pidx,
        "total_amount": total,
        "status": status,
        "transaction_id": txn,
        "fee": 0,
        "refunded": refunded,
    }


@contextmanager
def merchant_site() -> Iterator[tuple[str, list[str]]]:
    """A tiny loopback 'merchant' that records the paths of the GETs it receives (the return_url)."""
    hits: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            hits.append(self.path)
            body = b"thanks"
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}", hits
    finally:
        httpd.shutdown()
        httpd.server_close()
