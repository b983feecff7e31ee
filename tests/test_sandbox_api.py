"""The sandbox's merchant API over real loopback HTTP: initiate, lookup, auth, refund."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest
from conftest_sandbox_helpers import (
    ALPHABET,
    DOCS_FULL_PAYLOAD,
    DOCS_SAMPLE_BODY,
    EXPIRES_AT,
    INITIATE,
    KEY,
    LOOKUP,
    api_client,
    initiate,
    lookup,
    lookup_body,
    refund_path,
)

from khalti_cli.sandbox import SandboxServer, start_sandbox

VALIDATION = {"error_key": "validation_error"}
NOT_FOUND = {"detail": "Not found.", "error_key": "validation_error"}


# -- initiate -----------------------------------------------------------------------------


def test_docs_sample_body_with_lowercase_key_initiates(sandbox: SandboxServer) -> None:
    # The docs' code samples send `Authorization: key ...` and "amount": "1000" (a string).
    with api_client(sandbox.url, keyword="key") as client:
        response = client.post(INITIATE, json=DOCS_SAMPLE_BODY)
    assert response.status_code == 200
    body = response.json()
    assert list(body) == ["pidx", "payment_url", "expires_at", "expires_in"]
    pidx = body["pidx"]
    assert len(pidx) == 22 and set(pidx) <= set(ALPHABET)
    assert body["payment_url"] == f"{sandbox.url}/?pidx={pidx}"
    assert body["expires_in"] == 1800
    assert EXPIRES_AT.fullmatch(body["expires_at"])
    left = datetime.fromisoformat(body["expires_at"]) - datetime.now().astimezone()
    assert timedelta(seconds=1790) < left <= timedelta(seconds=1800)
    state = sandbox.state.get(pidx)
    assert state is not None
    assert (state["status"], state["amount"], state["purchase_order_id"]) == ("Initiated", 1000, "Order01")


def test_docs_full_payload_and_optional_fields_are_accepted(api: httpx.Client, sandbox: SandboxServer) -> None:
    body = initiate(api, **DOCS_FULL_PAYLOAD, modes=["KHALTI"], bank="idx123", ttl=1000)
    state = sandbox.state.get(body["pidx"])
    assert state is not None
    assert state["amount"] == 1300
    assert state["extra"]["merchant_extra"] == "merchant_extra"
    assert state["extra"]["modes"] == ["KHALTI"]


@pytest.mark.parametrize("path", [INITIATE, INITIATE.rstrip("/")])
def test_initiate_with_and_without_trailing_slash(api: httpx.Client, path: str) -> None:
    assert api.post(path, json=DOCS_SAMPLE_BODY).status_code == 200


def test_duplicate_purchase_order_id_gets_a_new_pidx(api: httpx.Client) -> None:
    assert initiate(api)["pidx"] != initiate(api)["pidx"]


@pytest.mark.parametrize("amount", [1000, "1000", "1000.0", 1000.0, 250000])
def test_amounts_drf_accepts(api: httpx.Client, sandbox: SandboxServer, amount: Any) -> None:
    pidx = initiate(api, amount=amount)["pidx"]
    state = sandbox.state.get(pidx)
    assert state is not None and state["amount"] == int(float(amount))


# Every documented error body, word for word (reference 3.5).
DOCUMENTED_ERRORS = [
    ({"return_url": ""}, {"return_url": ["This field may not be blank."]}),
    ({"return_url": "example.com/payment"}, {"return_url": ["Enter a valid URL."]}),
    ({"website_url": ""}, {"website_url": ["This field may not be blank."]}),
    ({"website_url": "C:\\xampp\\htdocs"}, {"website_url": ["Enter a valid URL."]}),
    ({"amount": 999}, {"amount": ["Amount should be greater than Rs. 10, that is 1000 paisa."]}),
    ({"amount": "999"}, {"amount": ["Amount should be greater than Rs. 10, that is 1000 paisa."]}),
    ({"amount": "abc"}, {"amount": ["A valid integer is required."]}),
    ({"amount": 1000.5}, {"amount": ["A valid integer is required."]}),
    ({"amount": True}, {"amount": ["A valid integer is required."]}),
    ({"purchase_order_id": ""}, {"purchase_order_id": ["This field may not be blank."]}),
    ({"purchase_order_name": ""}, {"purchase_order_name": ["This field may not be blank."]}),
    (
        {"amount": 1300, "amount_breakdown": [{"label": "Mark Price", "amount": 1000}]},
        {"amount": ["Amount Breakdown mismatch."]},
    ),
]


@pytest.mark.parametrize(("change", "errors"), DOCUMENTED_ERRORS)
def test_documented_validation_errors(
    api: httpx.Client, sandbox: SandboxServer, change: dict[str, Any], errors: dict[str, Any]
) -> None:
    response = api.post(INITIATE, json={**DOCS_SAMPLE_BODY, **change})
    assert response.status_code == 400
    assert response.json() == {**errors, **VALIDATION}
    assert sandbox.state.all() == []


def test_all_field_errors_come_together(api: httpx.Client) -> None:
    response = api.post(
        INITIATE, json={"return_url": "", "website_url": None, "amount": "ten", "purchase_order_name": "  "}
    )
    assert response.status_code == 400
    assert response.json() == {
        "return_url": ["This field may not be blank."],
        "website_url": ["This field may not be null."],
        "amount": ["A valid integer is required."],
        "purchase_order_id": ["This field is required."],
        "purchase_order_name": ["This field may not be blank."],
        "error_key": "validation_error",
    }


def test_empty_object_reports_every_required_field(api: httpx.Client) -> None:
    required = ["This field is required."]
    assert api.post(INITIATE, json={}).json() == {
        "return_url": required,
        "website_url": required,
        "amount": required,
        "purchase_order_id": required,
        "purchase_order_name": required,
        "error_key": "validation_error",
    }


@pytest.mark.parametrize(
    "url",
    [
        "http://localhost:8000/fees/return",
        "http://127.0.0.1:8000/",
        "https://school.edu.np/pay?term=2",
        "http://[::1]:8080/x",
        "https://example.com",
    ],
)
def test_valid_urls(api: httpx.Client, url: str) -> None:
    initiate(api, return_url=url, website_url=url)


@pytest.mark.parametrize(
    "url",
    [
        "example.com",
        "ftp://example.com/",
        "http://",
        "http://exa mple.com/",
        "javascript:alert(1)",
        "http://localhost:99999/",
        "https://intranet/",
        "http://300.1.1.1/",
    ],
)
def test_invalid_urls(api: httpx.Client, url: str) -> None:
    response = api.post(INITIATE, json={**DOCS_SAMPLE_BODY, "return_url": url})
    assert response.json() == {"return_url": ["Enter a valid URL."], **VALIDATION}


def test_breakdown_that_adds_up_is_accepted(api: httpx.Client) -> None:
    initiate(
        api, amount=10000, amount_breakdown=[{"label": "Fee", "amount": "10000"}, {"label": "Discount", "amount": 0}]
    )


def test_breakdown_mismatch_is_reported_only_when_fields_are_valid(api: httpx.Client) -> None:
    # DRF runs the object-level check only after every field passed.
    response = api.post(
        INITIATE, json={**DOCS_SAMPLE_BODY, "purchase_order_id": "", "amount_breakdown": [{"label": "x", "amount": 1}]}
    )
    assert response.json() == {"purchase_order_id": ["This field may not be blank."], **VALIDATION}


def test_non_json_body(api: httpx.Client) -> None:
    response = api.post(INITIATE, content=b"amount=1000", headers={"Content-Type": "application/json"})
    assert response.status_code == 400
    assert response.json() == {"detail": "JSON parse error - Expecting value: line 1 column 1 (char 0)"}


def test_nan_is_not_json(api: httpx.Client) -> None:
    response = api.post(INITIATE, content=b'{"amount": NaN}')
    assert response.json() == {"detail": "JSON parse error - Out of range float values are not JSON compliant"}


def test_json_that_is_not_an_object(api: httpx.Client) -> None:
    response = api.post(INITIATE, json=[1, 2])
    assert response.status_code == 400
    assert response.json() == {"non_field_errors": ["Invalid data. Expected a dictionary, but got list."], **VALIDATION}


@pytest.mark.parametrize("path", [INITIATE, LOOKUP, LOOKUP.rstrip("/"), refund_path("abc")])
def test_get_on_an_api_path_is_405(api: httpx.Client, path: str) -> None:
    response = api.get(path)
    assert response.status_code == 405
    assert response.json() == {"detail": 'Method "GET" not allowed.'}


# -- auth -----------------------------------------------------------------------------------

NOT_PROVIDED = {"detail": "Authentication credentials were not provided.", "status_code": 401}
AUTH_CASES = [
    (None, NOT_PROVIDED),
    (KEY, NOT_PROVIDED),  # the raw key, without the keyword
    (f"Bearer {KEY}", NOT_PROVIDED),
    ("Key", {"detail": "Invalid token header. No credentials provided.", "status_code": 401}),
    (
        f"Key {KEY} extra",
        {"detail": "Invalid token header. Token string should not contain spaces.", "status_code": 401},
    ),
    ("Key live_secret_key_wrong", {"detail": "Invalid token.", "status_code": 401}),
]


@pytest.mark.parametrize("path", [INITIATE, LOOKUP, refund_path("4H7AhoXDJWg5WjrcPT9ixW")])
@pytest.mark.parametrize(("header", "body"), AUTH_CASES)
def test_auth_failures(sandbox: SandboxServer, path: str, header: str | None, body: dict[str, Any]) -> None:
    with api_client(sandbox.url, key=None) as client:
        if header is not None:
            client.headers["Authorization"] = header
        response = client.post(path, json=DOCS_SAMPLE_BODY)
    assert response.status_code == 401
    assert response.json() == body
    assert sandbox.state.all() == []


@pytest.mark.parametrize("keyword", ["Key", "key", "KEY"])
def test_keyword_is_case_insensitive(sandbox: SandboxServer, keyword: str) -> None:
    with api_client(sandbox.url, keyword=keyword) as client:
        initiate(client)


def test_without_a_configured_key_any_token_is_accepted() -> None:
    with start_sandbox() as server, api_client(server.url, key="anything-at-all") as client:
        initiate(client)
        response = client.post(INITIATE, json=DOCS_SAMPLE_BODY, headers={"Authorization": "Key"})
        assert response.status_code == 401
        assert response.json()["detail"] == "Invalid token header. No credentials provided."


def test_auth_is_checked_before_validation(sandbox: SandboxServer) -> None:
    with api_client(sandbox.url, key=None) as client:
        response = client.post(INITIATE, content=b"not json")
    assert (response.status_code, response.json()) == (401, NOT_PROVIDED)


# -- lookup ---------------------------------------------------------------------------------


@pytest.mark.parametrize("path", [LOOKUP, LOOKUP.rstrip("/")])
def test_lookup_initiated(api: httpx.Client, path: str) -> None:
    pidx = initiate(api)["pidx"]
    response = api.post(path, json={"pidx": pidx})
    assert response.status_code == 200
    assert response.json() == lookup_body(pidx, "Initiated")
    assert list(response.json()) == ["pidx", "total_amount", "status", "transaction_id", "fee", "refunded"]


def test_lookup_errors(api: httpx.Client) -> None:
    missing = api.post(LOOKUP, json={})
    assert (missing.status_code, missing.json()) == (400, {"pidx": ["This field is required."], **VALIDATION})
    unknown = lookup(api, "HT6o6PEZRWFJ5ygavzHWd5")
    assert (unknown.status_code, unknown.json()) == (404, NOT_FOUND)


def test_lookup_codes_for_every_status(api: httpx.Client, sandbox: SandboxServer) -> None:
    state = sandbox.state
    pending, paid, canceled, expired = (initiate(api)["pidx"] for _ in range(4))
    state.set_pending(pending)
    txn = state.complete(paid)["transaction_id"]
    state.cancel(canceled)
    state.expire(expired)
    assert (lookup(api, pending).status_code, lookup(api, pending).json()) == (200, lookup_body(pending, "Pending"))
    assert lookup(api, paid).status_code == 200
    assert lookup(api, paid).json() == lookup_body(paid, "Completed", txn=txn)
    # Documented: Expired and User canceled answer HTTP 400 with the normal body.
    assert lookup(api, canceled).status_code == 400
    assert lookup(api, canceled).json() == lookup_body(canceled, "User canceled")
    assert lookup(api, expired).status_code == 400
    assert lookup(api, expired).json() == lookup_body(expired, "Expired")


def test_lookup_reports_the_completed_total_amount(api: httpx.Client, sandbox: SandboxServer) -> None:
    pidx = initiate(api)["pidx"]
    sandbox.state.complete(pidx, total_amount=900)
    assert lookup(api, pidx).json()["total_amount"] == 900


def test_lazy_expiry_after_ttl() -> None:
    with start_sandbox(key=KEY, ttl=1) as server, api_client(server.url) as client:
        first = initiate(client)
        assert first["expires_in"] == 1
        waiting, pending = first["pidx"], initiate(client)["pidx"]
        server.state.set_pending(pending)
        assert lookup(client, waiting).json()["status"] == "Initiated"
        time.sleep(1.2)
        expired = lookup(client, waiting)
        assert (expired.status_code, expired.json()) == (400, lookup_body(waiting, "Expired"))
        # Only an Initiated link expires by itself; a Pending payment is being processed.
        assert lookup(client, pending).json()["status"] == "Pending"
        with pytest.raises(ValueError, match="Expired"):
            server.state.complete(waiting)


# -- refund ---------------------------------------------------------------------------------


def _paid(api: httpx.Client, sandbox: SandboxServer, amount: int = 5000) -> tuple[str, str]:
    pidx = initiate(api, amount=amount)["pidx"]
    return pidx, sandbox.state.complete(pidx)["transaction_id"]


def test_full_refund(api: httpx.Client, sandbox: SandboxServer) -> None:
    pidx, txn = _paid(api, sandbox)
    response = api.post(refund_path(txn))
    assert (response.status_code, response.json()) == (200, {"detail": "Transaction refund successful."})
    answer = lookup(api, pidx)
    assert (answer.status_code, answer.json()) == (
        200,
        lookup_body(pidx, "Refunded", total=5000, txn=txn, refunded=True),
    )
    again = api.post(refund_path(txn))
    assert again.status_code == 400
    assert again.json()["error_key"] == "validation_error" and "Refunded" in again.json()["detail"]


def test_two_partial_refunds_then_too_much(api: httpx.Client, sandbox: SandboxServer) -> None:
    pidx, txn = _paid(api, sandbox)
    assert api.post(refund_path(txn), json={"amount": 2000}).status_code == 200
    assert lookup(api, pidx).json() == lookup_body(pidx, "Partially Refunded", total=5000, txn=txn, refunded=True)
    too_much = api.post(refund_path(txn).rstrip("/"), json={"amount": 3001, "mobile": "9800000001"})
    assert too_much.status_code == 400
    assert too_much.json() == {
        "detail": f"Refund amount 3001 paisa is more than the 3000 paisa left to refund on payment {pidx}.",
        "error_key": "validation_error",
    }
    assert api.post(refund_path(txn), json={"amount": 3000}).status_code == 200
    assert lookup(api, pidx).json()["status"] == "Refunded"


@pytest.mark.parametrize("amount", [0, -5, "abc", 10.5, True])
def test_refund_rejects_bad_amounts(api: httpx.Client, sandbox: SandboxServer, amount: Any) -> None:
    pidx, txn = _paid(api, sandbox)
    response = api.post(refund_path(txn), json={"amount": amount})
    assert response.status_code == 400
    assert response.json()["error_key"] == "validation_error"
    assert lookup(api, pidx).json()["status"] == "Completed"


def test_refund_of_an_unknown_transaction(api: httpx.Client) -> None:
    response = api.post(refund_path("4H7AhoXDJWg5WjrcPT9ixW"))
    assert (response.status_code, response.json()) == (404, NOT_FOUND)


# -- a stdlib client --------------------------------------------------------------------------


def test_urllib_client(sandbox: SandboxServer) -> None:
    def post(path: str, payload: dict[str, Any]) -> tuple[int, Any]:
        request = urllib.request.Request(
            sandbox.url + path,
            data=json.dumps(payload).encode(),
            method="POST",
            headers={"Authorization": f"Key {KEY}", "Content-Type": "application/json"},
        )
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return response.status, json.load(response)
        except urllib.error.HTTPError as error:
            return error.code, json.load(error)

    status, body = post(INITIATE, DOCS_SAMPLE_BODY)
    assert status == 200
    sandbox.state.cancel(body["pidx"])
    assert post(LOOKUP, {"pidx": body["pidx"]}) == (400, lookup_body(body["pidx"], "User canceled"))
