"""Sparrow SMS: the sandbox's emulator gives the documented answers word for word, and the client maps
every answer (and every fault) to what the ledger needs: sent, refused, not sent, or unknown."""

from __future__ import annotations

import httpx
import pytest
from conftest import fault
from hypothesis import given, settings
from hypothesis import strategies as st

from khalti_cli.channels import NOT_SENT, REJECTED, SENT, UNKNOWN
from khalti_cli.channels.sms import SparrowClient
from khalti_cli.sandbox import SandboxServer, start_sandbox
from khalti_cli.smsparts import count


@pytest.fixture
def sparrow() -> SandboxServer:
    server = start_sandbox(sms_token="tok-123", sms_from="SchoolDemo")
    yield server  # type: ignore[misc]
    server.shutdown()


def test_documented_success_answer_word_for_word(sparrow: SandboxServer) -> None:
    r = httpx.post(
        f"{sparrow.url}/v2/sms/",
        data={"token": "tok-123", "from": "SchoolDemo", "to": "9800000001,9712345678", "text": "Hello"},
    )
    assert r.status_code == 200
    assert r.text == '{"count":2,"response_code":200,"response":"2 mesages has been queued for delivery"}'


@pytest.mark.parametrize(
    ("data", "code", "words"),
    [
        ({"from": "SchoolDemo", "to": "9800000001", "text": "x"}, 1000, "A required field is missing"),
        ({"token": "bad", "from": "SchoolDemo", "to": "9800000001", "text": "x"}, 1002, "Invalid Token"),
        ({"token": "tok-123", "from": "Other", "to": "9800000001", "text": "x"}, 1008, "Invalid Sender"),
        ({"token": "tok-123", "from": "SchoolDemo", "to": "12345", "text": "x"}, 1007, "Invalid Receiver"),
        ({"token": "tok-123", "from": "SchoolDemo", "to": "1,2", "text": "x"}, 1011, "No valid receiver"),
        ({"token": "tok-123", "from": "SchoolDemo", "to": "9800000001", "text": " "}, 1010, "Text cannot be empty"),
    ],
)
def test_documented_errors_word_for_word(sparrow: SandboxServer, data: dict[str, str], code: int, words: str) -> None:
    r = httpx.post(f"{sparrow.url}/v2/sms/", data=data)
    assert r.status_code == 403
    assert r.json() == {"response_code": code, "response": words}


def test_get_and_curl_multipart_are_accepted_and_credits_counted(sparrow: SandboxServer) -> None:
    params = {"token": "tok-123", "from": "SchoolDemo", "to": "9800000001", "text": "नमस्ते " * 12}
    assert httpx.get(f"{sparrow.url}/v2/sms/", params=params).json()["count"] == 1
    multipart = {k: (None, v) for k, v in params.items()}
    assert httpx.post(f"{sparrow.url}/v2/sms/", files=multipart).json()["count"] == 1
    credit = httpx.get(f"{sparrow.url}/v2/credit/", params={"token": "tok-123"}).json()
    assert credit["credits_consumed"] == 2 * count(params["text"]).segments == 4
    assert set(credit) == {"credits_available", "credits_consumed", "response_code"}
    assert httpx.get(f"{sparrow.url}/v2/credit/", params={"token": "x"}).json()["response_code"] == 1002


def test_no_credits_and_insufficient_credits(sparrow: SandboxServer) -> None:
    client = SparrowClient(f"{sparrow.url}/v2", "tok-123", "SchoolDemo")
    httpx.post(f"{sparrow.url}/sandbox/sms", json={"credits": 1}).raise_for_status()
    answer = client.send(["9800000001", "9800000002"], "two receivers need two credits")
    assert (answer.outcome, answer.stop) == (NOT_SENT, "credits")
    assert "Insufficient Credits" in answer.answer
    httpx.post(f"{sparrow.url}/sandbox/sms", json={"credits": 0}).raise_for_status()
    assert "No Credits Available" in client.send(["9800000001"], "x").answer
    assert client.credit()["credits_available"] == 0


def test_client_outcomes_for_answers_and_faults(sparrow: SandboxServer) -> None:
    client = SparrowClient(f"{sparrow.url}/v2", "tok-123", "SchoolDemo", timeout_ms=500)
    assert client.send(["9800000001"], "ok").outcome == SENT
    assert client.send(["12"], "bad number").outcome == REJECTED
    assert client.send(["9800000001"], "x").count == 1
    cases = [
        ({"status": 503}, NOT_SENT, "outage"),
        ({"status": 429, "retry_after": 1}, NOT_SENT, "outage"),
        ({"status": 502}, UNKNOWN, None),
        ({"drop": True}, UNKNOWN, None),
        ({"body": "<html>oops"}, UNKNOWN, None),
        ({"delay_ms": 1500}, UNKNOWN, None),  # the gateway took it; the answer came too late
        ({"json": {"response_code": 1002, "response": "Invalid Token"}, "status": 403}, NOT_SENT, "config"),
    ]
    for spec, outcome, stop in cases:
        fault(sparrow, {**spec, "path": "sms"})
        answer = client.send(["9800000001"], "x")
        assert (answer.outcome, answer.stop) == (outcome, stop), spec
    unreachable = SparrowClient("http://127.0.0.1:9/v2", "tok-123", "SchoolDemo")
    assert (unreachable.send(["9800000001"], "x").outcome, unreachable.send(["1"], "x").stop) == (NOT_SENT, "outage")


def test_the_token_never_appears_in_an_answer(sparrow: SandboxServer) -> None:
    client = SparrowClient(f"{sparrow.url}/v2", "tok-123", "SchoolDemo")
    fault(sparrow, {"path": "sms", "status": 500, "body": "echo: token=tok-123&from=SchoolDemo"})
    answer = client.send(["9800000001"], "x")
    assert "tok-123" not in answer.answer and "***" in answer.answer


def test_khalti_faults_do_not_hit_the_sms_emulator(sparrow: SandboxServer) -> None:
    fault(sparrow, {"status": 503})  # no path: Khalti's API only
    client = SparrowClient(f"{sparrow.url}/v2", "tok-123", "SchoolDemo")
    assert client.send(["9800000001"], "x").outcome == SENT
    assert httpx.get(f"{sparrow.url}/sandbox/faults").json()["faults"][0]["status"] == 503


@settings(max_examples=200, derandomize=True, deadline=None)
@given(st.text(max_size=400))
def test_segment_count_matches_the_encodings_limits(text: str) -> None:
    parts = count(text)
    single, part = (160, 153) if parts.encoding == "GSM-7" else (70, 67)
    assert parts.segments >= 1
    if parts.units <= single:
        assert parts.segments == 1
    else:
        assert (parts.segments - 1) * part < parts.units <= parts.segments * part
    if any("\u0900" <= c <= "\u097f" for c in text):
        assert parts.encoding == "UCS-2"


def test_segment_boundaries() -> None:
    assert count("a" * 160).segments == 1 and count("a" * 161).segments == 2
    assert count("a" * 306).segments == 2 and count("a" * 307).segments == 3
    assert count("{" * 80).segments == 1 and count("{" * 81).segments == 2  # extension chars count twice
    assert count("क" * 70).segments == 1 and count("क" * 71).segments == 2
    assert count("क" * 134).segments == 2 and count("क" * 135).segments == 3


@pytest.mark.parametrize(
    ("code", "words"),
    [(1001, "Invalid IP Address"), (1003, "Account Inactive"), (1006, "Account has been expired")],
)
def test_account_errors_stop_the_run_as_configuration(sparrow: SandboxServer, code: int, words: str) -> None:
    httpx.post(f"{sparrow.url}/sandbox/sms", json={"error": code}).raise_for_status()
    r = httpx.post(
        f"{sparrow.url}/v2/sms/", data={"token": "tok-123", "from": "SchoolDemo", "to": "9800000001", "text": "x"}
    )
    assert (r.status_code, r.json()) == (403, {"response_code": code, "response": words})
    answer = SparrowClient(f"{sparrow.url}/v2", "tok-123", "SchoolDemo").send(["9800000001"], "x")
    assert (answer.outcome, answer.stop) == (NOT_SENT, "config")
    httpx.post(f"{sparrow.url}/sandbox/sms", json={"error": None}).raise_for_status()
    assert SparrowClient(f"{sparrow.url}/v2", "tok-123", "SchoolDemo").send(["9800000001"], "x").outcome == SENT
