"""The pay page over real HTTP: khalti serve (uvicorn, in a thread) in front of the loopback sandbox, a real
SQLite file, the CLI in-process. The browser tests are in test_serve_browser.py."""

from __future__ import annotations

import hashlib
import logging
import sqlite3
import threading
from pathlib import Path
from typing import Any

import httpx
import pytest
from conftest import Cli, control, fault
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from serve_helpers import db_rows, pay_page

from khalti_cli.sandbox import SandboxServer
from khalti_cli.web.app import Limits


def new_fee(cli: Cli, order_id: str = "F-1", amount: str = "1500", **extra: str) -> dict[str, Any]:
    args = ["create", "--amount", amount, "--name", "Tuition, Mangsir", "--order-id", order_id, "--format", "json"]
    for key, value in extra.items():
        args += [f"--{key.replace('_', '-')}", value]
    run = cli(*args)
    assert run.exit_code == 0, run.stderr
    record: dict[str, Any] = run.json()
    return record


def links(order_id: str) -> list[tuple[Any, ...]]:
    return db_rows(
        "SELECT pidx, state, payment_url FROM links WHERE payment_id = "
        "(SELECT id FROM payments WHERE order_id = ?) ORDER BY id",
        [order_id],
    )


def status(order_id: str) -> str:
    return str(db_rows("SELECT status FROM payments WHERE order_id = ?", [order_id])[0][0])


@pytest.fixture
def page(configured: SandboxServer, monkeypatch: pytest.MonkeyPatch) -> Any:
    with pay_page(monkeypatch) as running:
        yield running


def test_pay_page_shows_the_fee_escaped_with_strict_headers(page: Any, cli: Cli) -> None:
    record = new_fee(cli, customer_name="Sita <script>alert(1)</script>")
    assert record["pay_url"].startswith(page.url + "/pay/")
    response = httpx.get(record["pay_url"])
    assert response.status_code == 200
    html = response.text
    assert "Sita &lt;script&gt;alert(1)&lt;/script&gt;" in html and "<script>" not in html
    assert "Rs 1,500.00" in html and "Tuition, Mangsir" in html and "Pay with Khalti" in html
    assert "खल्तीबाट तिर्नुहोस्" in html and "तिर्न बाँकी" in html
    headers = response.headers
    assert headers["x-frame-options"] == "DENY"
    assert headers["referrer-policy"] == "no-referrer"
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["cache-control"] == "no-store"
    csp = headers["content-security-policy"]
    assert "default-src 'none'" in csp and "frame-ancestors 'none'" in csp and "script-src" not in csp
    assert "server" not in headers
    assert httpx.get(page.url + "/healthz").text == "ok\n"
    # No admin function: nothing else answers.
    for path in ("/", "/admin", "/pay", "/list", "/sandbox/payments"):
        assert httpx.get(page.url + path).status_code == 404


def test_pay_makes_one_link_and_reuses_it(page: Any, cli: Cli, configured: SandboxServer) -> None:
    record = new_fee(cli)
    first = httpx.post(record["pay_url"])
    assert first.status_code == 303
    assert first.headers["location"].startswith(configured.url + "/?pidx=")
    second = httpx.post(record["pay_url"])
    assert second.headers["location"] == first.headers["location"]
    assert len(links("F-1")) == 1 and status("F-1") == "initiated"
    # The parent paid on Khalti's page: the next click says so instead of making a link.
    control(configured, links("F-1")[0][0], "complete")
    third = httpx.post(record["pay_url"])
    assert third.status_code == 409 and "This fee is paid" in third.text
    assert len(links("F-1")) == 1 and status("F-1") == "completed"


def test_concurrent_clicks_make_one_link(page: Any, cli: Cli) -> None:
    record = new_fee(cli)
    answers: list[httpx.Response] = []
    barrier = threading.Barrier(6)  # the per-link limit is 6 a minute

    def click() -> None:
        barrier.wait()
        answers.append(httpx.post(record["pay_url"], timeout=30))

    threads = [threading.Thread(target=click) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert {a.status_code for a in answers} == {303}
    assert len({a.headers["location"] for a in answers}) == 1
    assert len(links("F-1")) == 1


def test_a_link_that_expired_meanwhile_is_replaced(page: Any, cli: Cli, configured: SandboxServer) -> None:
    record = new_fee(cli)
    first = httpx.post(record["pay_url"]).headers["location"]
    control(configured, links("F-1")[0][0], "expire")
    second = httpx.post(record["pay_url"]).headers["location"]
    assert second != first
    assert [row[1] for row in links("F-1")] == ["final", "open"]
    assert status("F-1") == "initiated"


def test_a_link_with_under_15_minutes_left_is_not_handed_out(
    configured: SandboxServer, monkeypatch: pytest.MonkeyPatch, cli: Cli
) -> None:
    configured.state.ttl = 600  # Khalti's links live 10 minutes here: each click makes a fresh one
    with pay_page(monkeypatch):
        record = new_fee(cli)
        first = httpx.post(record["pay_url"]).headers["location"]
        second = httpx.post(record["pay_url"]).headers["location"]
    assert first != second and len(links("F-1")) == 2


def test_return_page_trusts_khalti_not_the_query_string(page: Any, cli: Cli, configured: SandboxServer) -> None:
    record = new_fee(cli)
    httpx.post(record["pay_url"])
    pidx = links("F-1")[0][0]
    forged = httpx.get(
        page.url + "/return",
        params={"pidx": pidx, "status": "Completed", "total_amount": "150000", "transaction_id": "FAKE"},
    )
    assert forged.status_code == 200
    assert "Payment received" not in forged.text and "Khalti has not confirmed a payment yet" in forged.text
    assert status("F-1") == "initiated"
    # The lookup was stored like `khalti lookup`: an event with Khalti's answer.
    assert db_rows("SELECT COUNT(*) FROM events WHERE kind = 'lookup' AND pidx = ?", [pidx])[0][0] == 1

    control(configured, pidx, "complete")
    paid = httpx.get(page.url + "/return", params={"pidx": pidx, "status": "User canceled"})
    assert paid.status_code == 200 and "Payment received" in paid.text and "भुक्तानी प्राप्त भयो" in paid.text
    assert status("F-1") == "completed"

    for bad in ("unknown-pidx", "", "x" * 500, "F-1"):
        response = httpx.get(page.url + "/return", params={"pidx": bad})
        assert response.status_code == 404 and "Link not found" in response.text


def test_cancel_then_pay_again(page: Any, cli: Cli, configured: SandboxServer) -> None:
    record = new_fee(cli)
    httpx.post(record["pay_url"])
    pidx = links("F-1")[0][0]
    control(configured, pidx, "cancel")
    back = httpx.get(page.url + "/return", params={"pidx": pidx})
    assert "The payment was canceled" in back.text and "Pay with Khalti" in back.text
    assert status("F-1") == "canceled"
    assert httpx.post(record["pay_url"]).status_code == 303 and len(links("F-1")) == 2


@pytest.mark.parametrize(("spec", "code"), [({"status": 503, "count": 10}, 503), ({"delay_ms": 4000, "count": 1}, 503)])
def test_khalti_down_or_slow_is_a_friendly_503_with_nothing_half_written(
    page: Any, cli: Cli, configured: SandboxServer, spec: dict[str, Any], code: int
) -> None:
    record = new_fee(cli)
    fault(configured, spec)  # KHALTI_TIMEOUT is 3 s in these tests
    response = httpx.post(record["pay_url"], timeout=30)
    assert response.status_code == code
    assert "Khalti is not answering right now" in response.text and "Try again" in response.text
    assert response.headers["retry-after"] == "60"
    assert status("F-1") == "created"
    assert all(state in ("void", "unknown") for _, state, _ in links("F-1"))


def test_unknown_and_malformed_tokens_are_404(page: Any, cli: Cli) -> None:
    new_fee(cli)
    for token in ("F-1", "A" * 32, "a/b", "%00", "x" * 300):
        assert httpx.get(f"{page.url}/pay/{token}").status_code == 404
        assert httpx.post(f"{page.url}/pay/{token}").status_code in (404, 429)


def test_paid_voided_settled_and_review_fees_say_so(page: Any, cli: Cli) -> None:
    cases = {"completed": "This fee is paid", "voided": "withdrawn this fee", "paid_offline": "paid at the school",
             "review": "contact the school office before paying", "pending": "Please do not pay again",
             "refunded": "has been refunded"}  # fmt: skip
    for n, (name, text) in enumerate(cases.items()):
        record = new_fee(cli, f"S-{n}")
        db = sqlite3.connect(Path.cwd() / "khalti.db")
        db.execute("UPDATE payments SET status = ? WHERE order_id = ?", [name, f"S-{n}"])
        db.commit()
        db.close()
        response = httpx.get(record["pay_url"])
        assert text in response.text, name
        assert "Pay with Khalti</button>" not in response.text.replace("<br>", "")
        assert 'method="post"' not in response.text
        assert httpx.post(record["pay_url"]).status_code == 409


def test_post_rate_limit_per_token_and_per_address(configured: SandboxServer, monkeypatch: Any, cli: Cli) -> None:
    with pay_page(monkeypatch, Limits(per_token=2, per_address=6)):
        a, b, c = (new_fee(cli, f"R-{n}")["pay_url"] for n in range(3))
        assert [httpx.post(a).status_code for _ in range(3)] == [303, 303, 429]
        too_many = httpx.post(a)
        assert too_many.headers["retry-after"] and "Too many tries" in too_many.text
        assert [httpx.post(b).status_code for _ in range(2)] == [303, 303]
        # The address has used its 6 (a's refused clicks count too): another fee is refused as well.
        assert httpx.post(c).status_code == 429
        assert httpx.get(c).status_code == 200  # reading the page is not limited
        # Each /return asks Khalti, so it is limited per address too (unknown pidx: 404 until then).
        codes = [httpx.get(c.split("/pay/")[0] + "/return", params={"pidx": "nope"}).status_code for _ in range(7)]
        assert codes == [404] * 6 + [429]


def test_request_bodies_are_capped(page: Any, cli: Cli) -> None:
    url = new_fee(cli)["pay_url"]
    assert httpx.post(url, content=b"x" * 100_000).status_code == 413

    def chunks() -> Any:
        for _ in range(40):
            yield b"y" * 1000

    assert httpx.post(url, content=chunks()).status_code == 413
    assert httpx.post(url, content=b"a=1").status_code == 303
    assert len(links("F-1")) == 1


def test_access_log_never_writes_a_token_or_a_query(page: Any, cli: Cli, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="khalti.serve.access")
    record = new_fee(cli)
    token = record["pay_url"].rsplit("/", 1)[1]
    httpx.get(record["pay_url"])
    httpx.post(record["pay_url"])
    pidx = links("F-1")[0][0]
    httpx.get(page.url + "/return", params={"pidx": pidx})
    lines = [r.getMessage() for r in caplog.records if r.name == "khalti.serve.access"]
    assert any('"GET /pay/*** "' in line or '"GET /pay/***"' in line for line in lines), lines
    text = "\n".join(lines)
    assert token not in text and pidx not in text and "?" not in text


def test_reads_go_on_while_another_process_writes(page: Any, cli: Cli) -> None:
    url = new_fee(cli)["pay_url"]
    other = sqlite3.connect(Path.cwd() / "khalti.db")
    other.execute("BEGIN IMMEDIATE")  # reconcile or an import holding the write lock
    try:
        assert httpx.get(url).status_code == 200
    finally:
        other.rollback()
        other.close()


@settings(max_examples=20, derandomize=True, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.from_regex(r"[A-Z]{1,3}-[0-9]{1,5}", fullmatch=True), min_size=2, max_size=6, unique=True))
def test_tokens_are_random_and_not_made_from_order_ids(isolated: Path, cli: Cli, order_ids: list[str]) -> None:
    tokens = []
    for oid in order_ids:
        if db_rows_exist(oid):
            continue
        run = cli("create", "--amount", "100", "--name", "fee", "--order-id", oid)
        assert run.exit_code == 0, run.stderr
        token = db_rows("SELECT pay_token FROM payments WHERE order_id = ?", [oid])[0][0]
        tokens.append(token)
        assert len(token) >= 22  # >= 128 bits of base64url
        assert oid not in token and oid.lower() not in token.lower()
        for digest in (hashlib.sha256, hashlib.md5, hashlib.sha1):
            raw = digest(oid.encode()).digest()
            assert raw.hex()[:16] not in token
    assert len(set(tokens)) == len(tokens)


def db_rows_exist(order_id: str) -> bool:
    try:
        return bool(db_rows("SELECT 1 FROM payments WHERE order_id = ?", [order_id]))
    except sqlite3.OperationalError:
        return False


def test_serve_refuses_an_unsafe_or_missing_public_url(run_khalti: Any) -> None:
    env = {"KHALTI_SECRET_KEY": "k", "KHALTI_WEBSITE_URL": "https://school.example.edu.np"}
    missing = run_khalti("serve", "--port", "0", env=env)
    assert missing.exit_code == 4 and "KHALTI_PUBLIC_URL is not set" in missing.stderr
    plain = run_khalti("--env", "production", "serve", "--port", "0", env={**env, "KHALTI_PUBLIC_URL": "http://x.np"})
    assert plain.exit_code == 4 and "https" in plain.stderr
    bad = run_khalti("serve", env={**env, "KHALTI_PUBLIC_URL": "https://x.np/?a=1"})
    assert bad.exit_code == 4 and "not a plain web address" in bad.stderr


def test_records_and_slips_carry_pay_url(
    configured: SandboxServer, monkeypatch: pytest.MonkeyPatch, cli: Cli, isolated: Path
) -> None:
    from test_slips import decode_qr

    monkeypatch.setenv("KHALTI_PUBLIC_URL", "https://fees.school.example.edu.np/")
    record = new_fee(cli)
    assert record["pay_url"].startswith("https://fees.school.example.edu.np/pay/")
    listed = cli("list", "--format", "jsonl").jsonl()
    assert listed[0]["pay_url"] == record["pay_url"]
    # A created fee (no Khalti link at all) gets a slip: the QR is the durable pay_url.
    run = cli("slips", "F-1", "--out", "slips")
    assert run.exit_code == 0, run.stderr
    assert decode_qr(isolated / "slips" / "F-1.png") == [record["pay_url"]]
    monkeypatch.delenv("KHALTI_PUBLIC_URL")
    assert cli("show", "F-1", "--format", "json").json()["pay_url"] is None


def test_the_key_never_reaches_a_page_or_a_log(
    configured: SandboxServer, monkeypatch: pytest.MonkeyPatch, cli: Cli, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    key = "live_secret_key_0123456789abcdefZZ"
    monkeypatch.setenv("KHALTI_SECRET_KEY", key)  # not the sandbox's: Khalti answers 401
    pages = []
    with pay_page(monkeypatch) as running:
        record = new_fee(cli)
        pages.append(httpx.get(record["pay_url"]))
        refused = httpx.post(record["pay_url"])
        assert refused.status_code == 503 and "contact the school office" in refused.text
        pages.append(refused)
        pages.append(httpx.get(running.url + "/return", params={"pidx": "x"}))
    assert status("F-1") == "created"
    seen = "\n".join(p.text + str(p.headers) for p in pages) + caplog.text
    assert key not in seen and key[:12] not in seen
    assert "Khalti refused the secret key" in caplog.text  # the office's log says what to fix


def test_fee_heads_are_listed_when_the_payment_has_them(page: Any, cli: Cli) -> None:
    record = new_fee(cli, amount="2000")
    db = sqlite3.connect(Path.cwd() / "khalti.db")
    columns = [r[1] for r in db.execute("PRAGMA table_info(payments)")]
    if "heads" not in columns:  # the school-year feature adds it; this page reads it when present
        db.execute("ALTER TABLE payments ADD COLUMN heads TEXT")
    heads = '[{"label": "Tuition <Poush>", "amount_paisa": 150000}, {"label": "कम्प्युटर", "amount_paisa": 50000}]'
    db.execute("UPDATE payments SET heads = ? WHERE order_id = 'F-1'", [heads])
    db.commit()
    db.close()
    html = httpx.get(record["pay_url"]).text
    assert "Tuition &lt;Poush&gt;" in html and "Rs 1,500.00" in html and "कम्प्युटर" in html and "Rs 500.00" in html


def test_khalti_serve_as_a_process(configured: SandboxServer, cli: Cli, monkeypatch: pytest.MonkeyPatch) -> None:
    import os
    import signal
    import subprocess

    from conftest import khalti_exe

    from khalti_cli.web.server import address, bind

    sock = bind("127.0.0.1", 0)
    public = address(sock)
    sock.close()
    monkeypatch.setenv("KHALTI_PUBLIC_URL", public)
    record = new_fee(cli)
    port = public.rsplit(":", 1)[1]
    proc = subprocess.Popen(
        [*khalti_exe(), "serve", "--port", port], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env=dict(os.environ),
    )  # fmt: skip
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == public
        assert httpx.get(public + "/healthz", timeout=10).text == "ok\n"
        assert httpx.get(record["pay_url"], timeout=10).status_code == 200
        assert httpx.post(record["pay_url"], timeout=10).status_code == 303
    finally:
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=30)
    assert proc.returncode in (0, -signal.SIGTERM), err  # uvicorn shuts down, then re-raises the signal
    token = record["pay_url"].rsplit("/", 1)[1]
    assert '"GET /pay/*** "' in err or '"GET /pay/***"' in err
    assert token not in err and os.environ["KHALTI_SECRET_KEY"] not in err


def test_a_database_busy_too_long_is_a_503_page_never_locked(
    configured: SandboxServer, monkeypatch: pytest.MonkeyPatch, cli: Cli
) -> None:
    import khalti_cli.store.db as db_module

    monkeypatch.setattr(db_module, "BUSY_TIMEOUT_S", 0.5)  # 30 s in real life; the test does not wait that long
    with pay_page(monkeypatch):
        url = new_fee(cli)["pay_url"]
        other = sqlite3.connect(Path.cwd() / "khalti.db")
        other.execute("BEGIN IMMEDIATE")  # an import holding the write lock for longer than the busy timeout
        try:
            response = httpx.post(url, timeout=30)
        finally:
            other.rollback()
            other.close()
        assert response.status_code == 503 and "The page is busy" in response.text
        assert "locked" not in response.text.lower()
        assert status("F-1") == "created" and links("F-1") == []
        assert httpx.post(url).status_code == 303  # and once the lock is gone, it works
