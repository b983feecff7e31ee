"""The gateway client (`KhaltiClient`) against the sandbox over real loopback HTTP: Khalti's answers,
its error bodies, and the failures of a real network, with the retry rules (lookups only)."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from conftest import TEST_KEY, control, fault

from khalti_cli.errors import (
    AuthError,
    GatewayBadResponse,
    GatewayDropped,
    GatewayRateLimited,
    GatewayRejected,
    GatewayServerError,
    GatewayTimeout,
    GatewayUnreachable,
)
from khalti_cli.gateway.client import KhaltiClient
from khalti_cli.retry import NO_RETRY, RetryPolicy
from khalti_cli.sandbox import SandboxServer
from khalti_cli.statuses import NOT_FOUND

FAST = RetryPolicy(attempts=4, base_ms=10, cap_ms=40)

PAYLOAD: dict[str, Any] = {
    "return_url": "https://school.example.edu.np/paid",
    "website_url": "https://school.example.edu.np",
    "amount": 150050,
    "purchase_order_id": "ORD-1",
    "purchase_order_name": "Grade 5 tuition",
}


@pytest.fixture
def client(sandbox: SandboxServer) -> Iterator[KhaltiClient]:
    with KhaltiClient(sandbox.url, TEST_KEY, timeout_ms=2000, retry=FAST, seed=1) as c:
        yield c


def remaining_faults(server: SandboxServer) -> list[dict[str, Any]]:
    faults: list[dict[str, Any]] = httpx.get(f"{server.url}/sandbox/faults").json()["faults"]
    return faults


def new_pidx(client: KhaltiClient) -> str:
    return client.initiate(PAYLOAD).pidx


# -- answers -------------------------------------------------------------------------------------


def test_initiate_and_lookup(client: KhaltiClient, sandbox: SandboxServer) -> None:
    answer = client.initiate(PAYLOAD)
    assert answer.payment_url == f"{sandbox.url}/?pidx={answer.pidx}"
    assert answer.expires_in == 1800 and answer.expires_at and answer.expires_at.endswith("+05:45")
    looked = client.lookup(answer.pidx)
    assert (looked.status, looked.http_status, looked.total_amount) == ("Initiated", 200, 150050)
    assert looked.transaction_id is None
    control(sandbox, answer.pidx, "complete")
    paid = client.lookup(answer.pidx)
    assert paid.status == "Completed" and paid.transaction_id and paid.refunded is False


@pytest.mark.parametrize(("action", "word"), [("expire", "Expired"), ("cancel", "User canceled")])
def test_lookup_400_with_a_status_is_an_answer(
    client: KhaltiClient, sandbox: SandboxServer, action: str, word: str
) -> None:
    pidx = new_pidx(client)
    control(sandbox, pidx, action)
    answer = client.lookup(pidx)
    assert (answer.status, answer.http_status) == (word, 400)
    assert answer.transaction_id is None
    assert answer.raw["status"] == word


def test_lookup_404_not_found_is_an_answer(client: KhaltiClient) -> None:
    answer = client.lookup("bZQLD9wRVWo4CdESSfuSsB")
    assert (answer.status, answer.http_status) == (NOT_FOUND, 404)
    assert answer.raw == {"detail": "Not found.", "error_key": "validation_error"}


def test_initiate_validation_error_is_rejected(client: KhaltiClient, sandbox: SandboxServer) -> None:
    with pytest.raises(GatewayRejected) as info:
        client.initiate({**PAYLOAD, "amount": 999, "website_url": "nope"})
    assert "amount" in info.value.fields and "website_url" in info.value.fields
    assert "Amount should be greater than Rs. 10" in str(info.value)
    assert sandbox.state.all() == []


def test_lookup_with_a_missing_pidx_is_rejected(sandbox: SandboxServer) -> None:
    fault(
        sandbox,
        {
            "json": {"pidx": ["This field is required."], "error_key": "validation_error"},
            "status": 400,
            "path": "lookup",
        },
    )
    with KhaltiClient(sandbox.url, TEST_KEY, retry=FAST) as client, pytest.raises(GatewayRejected):
        client.lookup("x")


# -- authentication ------------------------------------------------------------------------------


def test_wrong_key_is_auth_error(sandbox: SandboxServer) -> None:
    with KhaltiClient(sandbox.url, "wrong-key", retry=FAST) as client:
        with pytest.raises(AuthError, match="Invalid token"):
            client.initiate(PAYLOAD)
        with pytest.raises(AuthError, match="KHALTI_SECRET_KEY"):
            client.lookup("bZQLD9wRVWo4CdESSfuSsB")
    assert sandbox.state.all() == []


@pytest.mark.parametrize(
    "detail",
    ["Authentication credentials were not provided.", "Invalid token header. No credentials provided."],
)
def test_401_bodies_are_auth_errors(client: KhaltiClient, sandbox: SandboxServer, detail: str) -> None:
    fault(sandbox, {"json": {"detail": detail, "status_code": 401}, "status": 401, "count": 2})
    with pytest.raises(AuthError, match=detail):
        client.lookup("bZQLD9wRVWo4CdESSfuSsB")
    assert remaining_faults(sandbox)[0]["count"] == 1  # an auth error is not retried
    with pytest.raises(AuthError):
        client.initiate(PAYLOAD)


# -- server errors and retries ---------------------------------------------------------------------


@pytest.mark.parametrize("status", [500, 502, 503])
def test_server_errors_after_retries(client: KhaltiClient, sandbox: SandboxServer, status: int) -> None:
    pidx = new_pidx(client)
    fault(sandbox, {"status": status, "count": 10})
    with pytest.raises(GatewayServerError) as info:
        client.lookup(pidx)
    assert info.value.status_code == status
    assert remaining_faults(sandbox)[0]["count"] == 6  # four attempts in all


def test_503_html_page(client: KhaltiClient, sandbox: SandboxServer) -> None:
    fault(
        sandbox,
        {
            "status": 503,
            "body": "<html><body>503 Service Unavailable</body></html>",
            "content_type": "text/html",
            "count": 4,
        },
    )
    with pytest.raises(GatewayServerError, match="HTTP 503"):
        client.lookup("bZQLD9wRVWo4CdESSfuSsB")
    assert remaining_faults(sandbox) == []


def test_retries_succeed_when_the_faults_run_out(client: KhaltiClient, sandbox: SandboxServer) -> None:
    pidx = new_pidx(client)
    fault(sandbox, {"status": 503, "count": 3})
    assert client.lookup(pidx).status == "Initiated"
    assert remaining_faults(sandbox) == []
    fault(sandbox, {"drop": True, "count": 2})
    fault(sandbox, {"status": 502})
    assert client.lookup(pidx).status == "Initiated"


def test_no_retry_policy(sandbox: SandboxServer) -> None:
    fault(sandbox, {"status": 503, "count": 2})
    with KhaltiClient(sandbox.url, TEST_KEY, retry=NO_RETRY) as client, pytest.raises(GatewayServerError):
        client.lookup("bZQLD9wRVWo4CdESSfuSsB")
    assert remaining_faults(sandbox)[0]["count"] == 1


def test_429_retry_after_is_honoured(client: KhaltiClient, sandbox: SandboxServer) -> None:
    pidx = new_pidx(client)
    fault(sandbox, {"status": 429, "retry_after": 1})
    started = time.monotonic()
    assert client.lookup(pidx).status == "Initiated"
    assert time.monotonic() - started >= 0.95  # FAST's own backoff is at most 40 ms


def test_429_after_retries(sandbox: SandboxServer) -> None:
    fault(sandbox, {"status": 429, "retry_after": 0, "count": 4})
    with KhaltiClient(sandbox.url, TEST_KEY, retry=FAST) as client, pytest.raises(GatewayRateLimited) as info:
        client.lookup("bZQLD9wRVWo4CdESSfuSsB")
    assert info.value.retry_after == 0


def test_retry_after_beyond_the_deadline_gives_up(client: KhaltiClient, sandbox: SandboxServer) -> None:
    fault(sandbox, {"status": 429, "retry_after": 30})
    started = time.monotonic()
    with pytest.raises(GatewayRateLimited):
        client.lookup("bZQLD9wRVWo4CdESSfuSsB", deadline=time.monotonic() + 2)
    assert time.monotonic() - started < 1


# -- the network ---------------------------------------------------------------------------------


def test_dropped_connection(sandbox: SandboxServer) -> None:
    fault(sandbox, {"drop": True, "count": 4})
    with KhaltiClient(sandbox.url, TEST_KEY, retry=FAST) as client, pytest.raises(GatewayDropped):
        client.lookup("bZQLD9wRVWo4CdESSfuSsB")
    assert remaining_faults(sandbox) == []


def test_slow_answer_times_out(sandbox: SandboxServer) -> None:
    fault(sandbox, {"delay_ms": 800, "count": 4, "path": "lookup"})
    started = time.monotonic()
    with KhaltiClient(sandbox.url, TEST_KEY, timeout_ms=200, retry=NO_RETRY) as client, pytest.raises(GatewayTimeout):
        client.lookup("bZQLD9wRVWo4CdESSfuSsB")
    assert time.monotonic() - started < 0.7


def test_malformed_json(client: KhaltiClient, sandbox: SandboxServer) -> None:
    fault(sandbox, {"body": '{"pidx": "abc", "status": "Compl', "count": 4})
    with pytest.raises(GatewayBadResponse):
        client.lookup("abc")
    fault(sandbox, {"body": "not json at all", "path": "initiate"})
    with pytest.raises(GatewayBadResponse):
        client.initiate(PAYLOAD)
    fault(sandbox, {"json": {"pidx": "abc"}, "path": "initiate"})  # JSON, but no payment_url
    with pytest.raises(GatewayBadResponse):
        client.initiate(PAYLOAD)
    assert sandbox.state.all() == []


def test_an_answer_about_another_pidx_is_refused(client: KhaltiClient, sandbox: SandboxServer) -> None:
    fault(sandbox, {"json": {"pidx": "other", "status": "Completed", "total_amount": 1000}, "count": 4})
    with pytest.raises(GatewayBadResponse, match="another link"):
        client.lookup("mine")


def test_an_absurd_amount_is_not_an_amount(client: KhaltiClient, sandbox: SandboxServer) -> None:
    pidx = new_pidx(client)
    fault(
        sandbox,
        {
            "json": {
                "pidx": pidx,
                "status": "Completed",
                "total_amount": 10**30,
                "fee": 10**20,
                "transaction_id": 7,
                "refunded": "yes",
            }
        },
    )
    answer = client.lookup(pidx)
    assert (answer.total_amount, answer.fee, answer.transaction_id, answer.refunded) == (None, None, None, False)
    fault(sandbox, {"json": {"pidx": pidx, "status": "Completed", "total_amount": "²", "fee": "१०"}})
    answer = client.lookup(pidx)  # str.isdigit() says yes to both; int() would fail on the first
    assert (answer.total_amount, answer.fee) == (None, None)
    fault(sandbox, {"json": {"pidx": pidx, "status": "Completed", "total_amount": "150050", "fee": "0"}})
    answer = client.lookup(pidx)
    assert (answer.total_amount, answer.fee) == (150050, 0)


def test_unreachable(sandbox: SandboxServer) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with KhaltiClient(f"http://127.0.0.1:{port}", TEST_KEY, retry=NO_RETRY) as client:
        with pytest.raises(GatewayUnreachable) as info:
            client.initiate(PAYLOAD)
        assert info.value.maybe_sent is False
        with pytest.raises(GatewayUnreachable):
            client.lookup("bZQLD9wRVWo4CdESSfuSsB")


# -- initiate is never retried ---------------------------------------------------------------------


def test_initiate_is_not_retried_after_a_503(client: KhaltiClient, sandbox: SandboxServer) -> None:
    fault(sandbox, {"status": 503, "count": 3, "path": "initiate"})
    with pytest.raises(GatewayServerError) as info:
        client.initiate(PAYLOAD)
    assert info.value.maybe_sent is True
    assert remaining_faults(sandbox)[0]["count"] == 2  # one request only
    assert sandbox.state.all() == []


def test_initiate_is_not_retried_after_a_drop(client: KhaltiClient, sandbox: SandboxServer) -> None:
    fault(sandbox, {"drop": True, "count": 3, "path": "initiate"})
    with pytest.raises(GatewayDropped):
        client.initiate(PAYLOAD)
    assert remaining_faults(sandbox)[0]["count"] == 2


def test_initiate_is_not_retried_after_a_timeout(sandbox: SandboxServer) -> None:
    # A pure delay still makes the payment: the request reached Khalti, only the answer came late.
    fault(sandbox, {"delay_ms": 600, "count": 3, "path": "initiate"})
    with (
        KhaltiClient(sandbox.url, TEST_KEY, timeout_ms=200, retry=FAST) as client,
        pytest.raises(GatewayTimeout) as info,
    ):
        client.initiate(PAYLOAD)
    assert info.value.maybe_sent is True
    assert remaining_faults(sandbox)[0]["count"] == 2
    deadline = time.monotonic() + 3
    while not sandbox.state.all() and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.2)
    assert len(sandbox.state.all()) == 1  # exactly one link made, never a second


def test_the_key_is_sent_as_key_header(sandbox: SandboxServer) -> None:
    # With `--key`, the sandbox accepts only that key, and only in Khalti's `Key <secret>` form.
    with KhaltiClient(sandbox.url, TEST_KEY, retry=FAST) as client:
        assert client.initiate(PAYLOAD).pidx
    bearer = httpx.post(
        f"{sandbox.url}/api/v2/epayment/initiate/", json=PAYLOAD, headers={"Authorization": f"Bearer {TEST_KEY}"}
    )
    assert bearer.status_code == 401
