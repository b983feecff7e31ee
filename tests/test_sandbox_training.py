"""The sandbox as Khalti's framework behaves, for training and for the pay page: form-encoded bodies, a
request's own ttl, a non-zero fee, merchant_* extras in lookup, and a return page of its own."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from conftest_sandbox_helpers import DOCS_SAMPLE_BODY, INITIATE, KEY, LOOKUP, api_client, initiate, lookup

from khalti_cli.sandbox import SandboxServer, start_sandbox


@pytest.fixture
def with_fee() -> Iterator[SandboxServer]:
    server = start_sandbox(key=KEY, fee_bp=250)  # 2.5 %
    try:
        yield server
    finally:
        server.shutdown()


def test_form_encoded_bodies_are_read_like_drf(api: httpx.Client) -> None:
    form = {k: v for k, v in DOCS_SAMPLE_BODY.items() if k != "customer_info"}
    created = api.post(INITIATE, data=form)
    assert created.status_code == 200, created.text
    pidx = created.json()["pidx"]
    looked = api.post(LOOKUP, data={"pidx": pidx})
    assert looked.status_code == 200 and looked.json()["status"] == "Initiated"
    # The same checks as for JSON: a form without amount is refused with DRF's message.
    bad = api.post(INITIATE, data={**form, "amount": ""})
    assert bad.status_code == 400 and bad.json()["error_key"] == "validation_error"


def test_the_request_ttl_sets_the_link_lifetime(api: httpx.Client) -> None:
    assert initiate(api, ttl=1000)["expires_in"] == 1000
    assert initiate(api)["expires_in"] == 1800
    assert initiate(api, ttl="abc")["expires_in"] == 1800


def test_fee_and_merchant_extras_in_lookup(with_fee: SandboxServer) -> None:
    with api_client(with_fee.url) as api:
        pidx = initiate(api, amount=150000, merchant_extra="STU-0101", merchant_username="school")["pidx"]
        before = lookup(api, pidx).json()
        assert before["fee"] == 0 and before["merchant_extra"] == "STU-0101"
        with_fee.state.complete(pidx)
        after = lookup(api, pidx).json()
    assert after["fee"] == 3750  # 2.5 % of Rs 1,500
    assert list(after)[:6] == ["pidx", "total_amount", "status", "transaction_id", "fee", "refunded"]
    assert after["merchant_username"] == "school"


def test_a_return_url_at_the_sandbox_ends_on_its_own_page(sandbox: SandboxServer, api: httpx.Client) -> None:
    pidx = initiate(api, return_url=f"{sandbox.url}/return")["pidx"]
    paid = httpx.post(
        f"{sandbox.url}/pay", data={"pidx": pidx, "mobile": "9800000001", "mpin": "1111"}, follow_redirects=True
    )
    assert paid.status_code == 200 and "Back from Khalti" in paid.text and "Completed" in paid.text
    # It shows what the sandbox knows, never the query string.
    forged = httpx.get(f"{sandbox.url}/return", params={"pidx": initiate(api)["pidx"], "status": "Completed"})
    assert "Initiated" in forged.text and "<code>Completed</code>" not in forged.text
    assert httpx.get(f"{sandbox.url}/return", params={"pidx": "nope"}).status_code == 404
