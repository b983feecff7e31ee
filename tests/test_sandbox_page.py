"""The payment page: a payer logs in with a test Khalti ID and pays or cancels, then goes back."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import httpx
import pytest
from conftest_sandbox_helpers import api_client, initiate, lookup, lookup_body, merchant_site

from khalti_cli.sandbox import SandboxServer
from khalti_cli.sandbox.callback import mask_mobile
from khalti_cli.sandbox.page import rupees

SUCCESS_ORDER = [
    "pidx",
    "txnId",
    "amount",
    "total_amount",
    "status",
    "mobile",
    "tidx",
    "purchase_order_id",
    "purchase_order_name",
    "transaction_id",
]
CANCEL_ORDER = [
    "pidx",
    "transaction_id",
    "tidx",
    "amount",
    "total_amount",
    "mobile",
    "status",
    "purchase_order_id",
    "purchase_order_name",
]


def _state(sandbox: SandboxServer, pidx: str) -> dict[str, Any]:
    payment = sandbox.state.get(pidx)
    assert payment is not None
    return payment


@pytest.fixture
def browser(sandbox: SandboxServer) -> Iterator[httpx.Client]:
    # No Authorization header: the page is public, like test-pay.khalti.com.
    with api_client(sandbox.url, key=None) as client:
        yield client


def test_index_lists_the_test_ids(browser: httpx.Client) -> None:
    page = browser.get("/")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert "Khalti sandbox" in page.text
    for n in range(6):
        assert f"980000000{n}" in page.text


def test_page_shows_order_and_amount_escaped(api: httpx.Client, browser: httpx.Client) -> None:
    created = initiate(api, amount=123450, purchase_order_name="<script>alert('fee')</script> & Co")
    page = browser.get(created["payment_url"])
    assert page.status_code == 200
    assert "Rs. 1,234.50" in page.text
    assert "&lt;script&gt;alert(&#x27;fee&#x27;)&lt;/script&gt; &amp; Co" in page.text
    assert "<script>" not in page.text
    assert 'action="/pay"' in page.text and 'action="/cancel"' in page.text
    assert "Khalti ID" in page.text and "MPIN" in page.text
    assert "<link" not in page.text and "src=" not in page.text  # self-contained: no external assets


def test_pay_flow(api: httpx.Client, browser: httpx.Client, sandbox: SandboxServer) -> None:
    with merchant_site() as (site, hits):
        created = initiate(
            api,
            return_url=f"{site}/fees/return?school=7",
            amount=150050,
            purchase_order_id="INV-1",
            purchase_order_name="Term 2 fee",
        )
        pidx = created["pidx"]
        assert browser.get(created["payment_url"]).status_code == 200

        wrong = browser.post("/pay", data={"pidx": pidx, "mobile": "9800000001", "mpin": "2222"})
        assert wrong.status_code == 200
        assert "Invalid Khalti ID or MPIN." in wrong.text
        stranger = browser.post("/pay", data={"pidx": pidx, "mobile": "9811111111", "mpin": "1111"})
        assert "Invalid Khalti ID or MPIN." in stranger.text
        assert lookup(api, pidx).json()["status"] == "Initiated"

        paid = browser.post("/pay", data={"pidx": pidx, "mobile": "9800000001", "mpin": "1111"})
        assert paid.status_code == 302
        location = paid.headers["location"]
        assert location.count("?") == 1
        parts = urlsplit(location)
        assert f"{parts.scheme}://{parts.netloc}{parts.path}" == f"{site}/fees/return"
        params = parse_qsl(parts.query, keep_blank_values=True)
        assert params[0] == ("school", "7")  # the return_url's own query is kept, merged
        assert [k for k, _ in params[1:]] == SUCCESS_ORDER
        values = dict(params)
        txn = _state(sandbox, pidx)["transaction_id"]
        assert values == {
            "school": "7",
            "pidx": pidx,
            "txnId": txn,
            "amount": "150050",
            "total_amount": "150050",
            "status": "Completed",
            "mobile": "98XXXXX001",
            "tidx": txn,
            "purchase_order_id": "INV-1",
            "purchase_order_name": "Term 2 fee",
            "transaction_id": txn,
        }

        # Follow the redirect like a browser: the merchant gets the GET with the same query.
        followed = browser.get(location)
        assert followed.text == "thanks"
        assert hits == [location[len(site) :]]

    assert lookup(api, pidx).json() == lookup_body(pidx, "Completed", total=150050, txn=txn)
    assert "already been paid" in browser.get(created["payment_url"]).text
    again = browser.post("/pay", data={"pidx": pidx, "mobile": "9800000002", "mpin": "1111"})
    assert again.status_code == 200 and "already been paid" in again.text
    assert _state(sandbox, pidx)["transaction_id"] == txn


def test_cancel_flow(api: httpx.Client, browser: httpx.Client) -> None:
    created = initiate(api, return_url="http://example.com/", purchase_order_id="test12")
    pidx = created["pidx"]
    canceled = browser.post("/cancel", data={"pidx": pidx})
    assert canceled.status_code == 302
    location = canceled.headers["location"]
    assert location.startswith("http://example.com/?pidx=")
    assert "status=User+canceled" in location
    params = parse_qsl(urlsplit(location).query, keep_blank_values=True)
    assert params == [
        ("pidx", pidx),
        ("transaction_id", ""),
        ("tidx", ""),
        ("amount", "1000"),
        ("total_amount", "1000"),
        ("mobile", ""),
        ("status", "User canceled"),
        ("purchase_order_id", "test12"),
        ("purchase_order_name", "test"),
    ]
    assert [k for k, _ in params] == CANCEL_ORDER
    answer = lookup(api, pidx)
    assert (answer.status_code, answer.json()) == (400, lookup_body(pidx, "User canceled"))
    assert "canceled" in browser.get(created["payment_url"]).text


def test_pages_for_links_that_cannot_be_paid(api: httpx.Client, browser: httpx.Client, sandbox: SandboxServer) -> None:
    expired = initiate(api)
    sandbox.state.expire(expired["pidx"])
    page = browser.get(expired["payment_url"])
    assert page.status_code == 200 and "expired" in page.text
    late = browser.post("/pay", data={"pidx": expired["pidx"], "mobile": "9800000001", "mpin": "1111"})
    assert late.status_code == 200 and "expired" in late.text
    assert _state(sandbox, expired["pidx"])["status"] == "Expired"

    unknown = browser.get("/?pidx=HT6o6PEZRWFJ5ygavzHWd5")
    assert unknown.status_code == 404 and "not found" in unknown.text.lower()
    assert browser.post("/pay", data={"pidx": "nope", "mpin": "1111"}).status_code == 404


def test_rupees_and_mask_helpers() -> None:
    assert [rupees(p) for p in (1000, 100, 150050, 123456789)] == [
        "Rs. 10.00",
        "Rs. 1.00",
        "Rs. 1,500.50",
        "Rs. 1,234,567.89",
    ]
    assert mask_mobile("9800000904") == "98XXXXX904"
