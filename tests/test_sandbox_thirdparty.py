"""A third-party Khalti client (nepal-gateways' KhaltiClient) against the sandbox.

`nepal-gateways` is in the test extra: without it the test skips locally and fails under CI=true.
"""

from __future__ import annotations

from typing import Any

import pytest
from conftest_sandbox_helpers import KEY
from requires import require_module

from khalti_cli.sandbox import SandboxServer

nepal_gateways = require_module("nepal_gateways", "nepal-gateways")


def _client(sandbox: SandboxServer) -> Any:
    from nepal_gateways import KhaltiClient

    client = KhaltiClient(
        {
            "mode": "sandbox",
            "live_secret_key": KEY,
            "timeout": 10,
            "return_url_config": "http://localhost:8000/return",
            "website_url_config": "http://localhost:8000/",
        }
    )
    # Its base URL is hard-wired to dev.khalti.com; point both endpoints at the sandbox.
    client.initiation_endpoint = f"{sandbox.url}/api/v2/epayment/initiate/"
    client.lookup_endpoint = f"{sandbox.url}/api/v2/epayment/lookup/"
    return client


def test_initiate_and_lookup_through_khalticlient(sandbox: SandboxServer) -> None:
    client = _client(sandbox)
    started = client.initiate_payment(amount=1300, order_id="test12", description="test", merchant_extra="x")
    pidx = started.payment_instructions["pidx"]
    assert started.redirect_url == f"{sandbox.url}/?pidx={pidx}"

    pending = client.verify_payment({"pidx": pidx})
    assert (pending.is_successful, pending.status_code) == (False, "Initiated")

    txn = sandbox.state.complete(pidx)["transaction_id"]
    paid = client.verify_payment({"pidx": pidx})
    assert (paid.is_successful, paid.status_code, paid.verified_amount, paid.transaction_id) == (
        True,
        "Completed",
        1300,
        txn,
    )


def test_its_known_flaw_with_http_400_lookups(sandbox: SandboxServer) -> None:
    # The docs answer Expired/User canceled with HTTP 400; nepal-gateways raises instead of reading the body.
    from nepal_gateways import VerificationError

    client = _client(sandbox)
    started = client.initiate_payment(amount=1300, order_id="o", description="d")
    pidx = started.payment_instructions["pidx"]
    sandbox.state.expire(pidx)
    with pytest.raises(VerificationError):
        client.verify_payment({"pidx": pidx})
