"""The control API, the in-process SandboxState, and fault injection."""

from __future__ import annotations

import json
import socket
import time
import urllib.error
import urllib.request
from typing import Any

import httpx
import pytest
from conftest_sandbox_helpers import (
    DOCS_SAMPLE_BODY,
    INITIATE,
    KEY,
    LOOKUP,
    initiate,
    lookup,
    lookup_body,
    refund_path,
)

from khalti_cli.sandbox import SandboxError, SandboxServer, SandboxState


def _fault(api: httpx.Client, spec: dict[str, Any]) -> None:
    response = api.post("/sandbox/faults", json=spec)
    assert response.status_code == 200, response.text


# -- control API ----------------------------------------------------------------------------


def test_control_actions(api: httpx.Client) -> None:
    pidx = initiate(api)["pidx"]
    done = api.post(f"/sandbox/payments/{pidx}/complete", json={"total_amount": 900})
    assert done.status_code == 200
    assert (done.json()["status"], done.json()["total_amount"]) == ("Completed", 900)
    txn = done.json()["transaction_id"]
    assert lookup(api, pidx).json() == lookup_body(pidx, "Completed", total=900, txn=txn)
    part = api.post(f"/sandbox/payments/{pidx}/refund", json={"amount": 400})
    assert (part.json()["status"], part.json()["refunded_amount"]) == ("Partially Refunded", 400)
    assert api.post(f"/sandbox/payments/{pidx}/refund").json()["status"] == "Refunded"

    other = initiate(api)["pidx"]
    assert api.post(f"/sandbox/payments/{other}/pending").json()["status"] == "Pending"
    assert api.post(f"/sandbox/payments/{other}/complete").json()["total_amount"] == 1000
    for action, status in (("cancel", "User canceled"), ("expire", "Expired")):
        fresh = initiate(api)["pidx"]
        assert api.post(f"/sandbox/payments/{fresh}/{action}").json()["status"] == status

    listed = api.get("/sandbox/payments").json()
    assert [p["pidx"] for p in listed][:2] == [pidx, other] and len(listed) == 4
    one = api.get(f"/sandbox/payments/{pidx}").json()
    assert [h["status"] for h in one["history"]] == ["Initiated", "Completed", "Partially Refunded", "Refunded"]


def test_control_errors(api: httpx.Client) -> None:
    pidx = initiate(api)["pidx"]
    unknown = api.post("/sandbox/payments/nope/complete")
    assert unknown.status_code == 404 and "nope" in unknown.json()["error"]
    assert api.get("/sandbox/payments/nope").status_code == 404
    bad_action = api.post(f"/sandbox/payments/{pidx}/pay")
    assert bad_action.status_code == 400 and "unknown action" in bad_action.json()["error"]
    assert api.post(f"/sandbox/payments/{pidx}/complete", json={"total_amount": "9"}).status_code == 400
    assert api.post(f"/sandbox/payments/{pidx}/complete", content=b"{oops").status_code == 400
    api.post(f"/sandbox/payments/{pidx}/expire")
    impossible = api.post(f"/sandbox/payments/{pidx}/complete")
    assert impossible.status_code == 409
    assert impossible.json() == {
        "error": f"cannot complete payment {pidx}: it is Expired; only Initiated or Pending payments can be"
    }
    assert api.post(f"/sandbox/payments/{pidx}/refund").status_code == 409


def test_state_in_process() -> None:
    state = SandboxState(ttl=60)
    created = state.initiate(
        amount=2500,
        purchase_order_id="A1",
        purchase_order_name="Bus fee",
        return_url="http://localhost/r",
        website_url="http://localhost/",
    )
    pidx = created["pidx"]
    copy = state.get(pidx)
    assert copy is not None
    copy["status"] = "Completed"
    again = state.get(pidx)
    assert again is not None and again["status"] == "Initiated"
    assert state.get("missing") is None
    with pytest.raises(SandboxError, match="unknown pidx"):
        state.cancel("missing")
    with pytest.raises(SandboxError, match="cannot refund"):
        state.refund(pidx)
    paid = state.complete(pidx, mobile="9800000003")
    assert paid["mobile"] == "9800000003" and paid["transaction_id"]
    with pytest.raises(SandboxError, match="cannot complete"):
        state.complete(pidx)
    with pytest.raises(SandboxError, match="more than the 2500 paisa"):
        state.refund(pidx, 2501)
    with pytest.raises(SandboxError):
        state.refund(pidx, 0)
    assert state.refund(pidx, 500)["status"] == "Partially Refunded"
    assert state.refund(pidx)["status"] == "Refunded"
    assert [p["pidx"] for p in state.all()] == [pidx]
    with pytest.raises(SandboxError, match="unknown fault key"):
        state.add_fault({"stauts": 503})
    with pytest.raises(SandboxError):
        state.add_fault({"drop": True, "status": 503})
    with pytest.raises(SandboxError):
        state.add_fault({"count": 2})
    with pytest.raises(ValueError):  # SandboxError is a ValueError
        state.expire(pidx)


# -- faults ---------------------------------------------------------------------------------


def test_503_fault_serves_an_html_page_and_does_no_work(api: httpx.Client, sandbox: SandboxServer) -> None:
    _fault(api, {"status": 503, "count": 2})
    for _ in range(2):
        response = api.post(INITIATE, json=DOCS_SAMPLE_BODY)
        assert response.status_code == 503
        assert response.headers["content-type"].startswith("text/html")
        assert "<h1>503 Service Unavailable</h1>" in response.text
        assert int(response.headers["content-length"]) == len(response.content)
    assert sandbox.state.all() == []
    initiate(api)  # the third request is served normally
    assert len(sandbox.state.all()) == 1


def test_429_fault_sets_retry_after(api: httpx.Client) -> None:
    _fault(api, {"status": 429, "retry_after": 7})
    response = api.post(LOOKUP, json={"pidx": "x"})
    assert response.status_code == 429
    assert response.headers["retry-after"] == "7"
    assert response.json() == {"detail": "Request was throttled. Expected available in 7 seconds."}


def test_other_status_faults_answer_json(api: httpx.Client) -> None:
    _fault(api, {"status": 500, "body": ""})
    _fault(api, {"status": 400})
    empty = api.post(LOOKUP, json={})
    assert (empty.status_code, empty.content) == (500, b"")
    assert api.post(LOOKUP, json={}).json() == {"detail": "Malformed request."}


def test_delay_fault_then_real_work(sandbox: SandboxServer, api: httpx.Client) -> None:
    _fault(api, {"delay_ms": 300, "path": "initiate"})
    started = time.perf_counter()
    body = initiate(api)
    assert time.perf_counter() - started >= 0.3
    assert sandbox.state.get(body["pidx"]) is not None


def test_delay_fault_models_a_timeout_after_the_request_was_sent(sandbox: SandboxServer, api: httpx.Client) -> None:
    _fault(api, {"delay_ms": 400})
    with pytest.raises(httpx.ReadTimeout):
        api.post(INITIATE, json=DOCS_SAMPLE_BODY, timeout=0.1)
    # The work is done on arrival; only the answer is late. So the payment exists although the
    # client gave up, and is visible at once (no waiting for the delay to run out).
    assert len(sandbox.state.all()) == 1


def test_drop_fault_closes_without_a_response(sandbox: SandboxServer, api: httpx.Client) -> None:
    _fault(api, {"drop": True, "count": 2})
    with pytest.raises(httpx.RemoteProtocolError):
        api.post(INITIATE, json=DOCS_SAMPLE_BODY)
    request = urllib.request.Request(
        sandbox.url + INITIATE,
        data=json.dumps(DOCS_SAMPLE_BODY).encode(),
        headers={"Authorization": f"Key {KEY}", "Content-Type": "application/json"},
    )
    with pytest.raises((urllib.error.URLError, ConnectionError)):
        urllib.request.urlopen(request, timeout=5)
    assert sandbox.state.all() == []
    initiate(api)


def test_drop_fault_sends_zero_bytes(sandbox: SandboxServer, api: httpx.Client) -> None:
    _fault(api, {"drop": True})
    host, port = sandbox.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=5) as raw:
        raw.sendall(b"POST /api/v2/epayment/lookup/ HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}")
        assert raw.recv(1024) == b""


def test_raw_and_json_body_faults(api: httpx.Client) -> None:
    _fault(api, {"body": '{"pidx": "abc", "status": ', "status": 200})
    _fault(api, {"json": {"pidx": "abc", "status": "Teleported"}, "status": 200})
    raw = api.post(LOOKUP, json={"pidx": "abc"})
    assert raw.status_code == 200 and raw.text == '{"pidx": "abc", "status": '
    with pytest.raises(json.JSONDecodeError):
        raw.json()
    assert api.post(LOOKUP, json={"pidx": "abc"}).json() == {"pidx": "abc", "status": "Teleported"}


def test_path_filter_and_fifo(api: httpx.Client, sandbox: SandboxServer) -> None:
    _fault(api, {"status": 502, "path": "lookup"})
    _fault(api, {"status": 503})
    _fault(api, {"status": 429, "retry_after": 1})
    assert [f["status"] for f in api.get("/sandbox/faults").json()["faults"]] == [502, 503, 429]
    # An initiate passes the lookup-only spec by and takes the next one.
    assert api.post(INITIATE, json=DOCS_SAMPLE_BODY).status_code == 503
    assert api.post(LOOKUP, json={"pidx": "x"}).status_code == 502
    throttled = api.post(refund_path("x"))
    assert throttled.json() == {"detail": "Request was throttled. Expected available in 1 second."}
    assert api.get("/sandbox/faults").json() == {"faults": []}
    assert api.post(LOOKUP, json={"pidx": "x"}).status_code == 404


def test_only_api_requests_consume_faults(api: httpx.Client) -> None:
    _fault(api, {"status": 503})
    assert api.get("/").status_code == 200
    assert api.get("/sandbox/payments").status_code == 200
    assert api.get(INITIATE).status_code == 405  # a GET is not an initiate
    assert api.post(LOOKUP, json={"pidx": "x"}).status_code == 503


def test_clearing_and_bad_specs(api: httpx.Client) -> None:
    _fault(api, {"status": 503, "count": 5})
    assert api.delete("/sandbox/faults").json() == {"faults": []}
    assert api.post(LOOKUP, json={"pidx": "x"}).status_code == 404
    bad = api.post("/sandbox/faults", json={"status": "503"})
    assert bad.status_code == 400 and "status" in bad.json()["error"]
    assert api.post("/sandbox/faults", json={"path": "refunds", "status": 503}).status_code == 400
