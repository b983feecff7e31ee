"""Promises of the README that no other file tests: `khalti demo` and `khalti sandbox` as installed programs,
exit 130 on Ctrl-C, no request after Khalti refuses the key, the retry schedule's caps, the terminal's
1,000-row import table, the slip font warning, and the terminal QR code decoded back to its URL.

    python -m pytest -q -n 0 tests/test_promises.py
"""

from __future__ import annotations

import os
import random
import re
import signal
import socket
import subprocess
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from conftest import TEST_KEY, Cli, Run, fault, khalti_exe, run_on_terminal
from conftest_sandbox_helpers import DOCS_SAMPLE_BODY, INITIATE
from hypothesis import given, settings
from hypothesis import strategies as st
from store_checks import check_invariants, events, snapshot

from khalti_cli.errors import GatewayRateLimited, GatewayServerError
from khalti_cli.retry import RetryPolicy
from khalti_cli.sandbox import SandboxServer

# --- khalti demo: the README's first command ---------------------------------------------------------------


def test_demo_as_the_installed_program(run_khalti: Any, isolated: Path) -> None:
    """No key, no settings, no database of the user's touched: the whole loop against its own sandbox."""
    run = run_khalti("demo", env={"KHALTI_DB": str(isolated / "mine.db")}, timeout=120)
    assert run.exit_code == 0, run.stderr
    rows = [line.split("\t") for line in run.stdout.splitlines()]
    header, body = rows[0], rows[1:]
    statuses = sorted(row[header.index("status")] for row in body)
    assert statuses == ["canceled", "completed", "initiated", "review"]
    assert "Amount mismatch" in run.stderr and "no money moved" in run.stderr
    assert "Traceback" not in run.stderr
    assert not (isolated / "mine.db").exists()  # the demo used a throwaway database


# --- khalti sandbox: the command and its options -------------------------------------------------------------


def ctrl_c_works() -> None:  # pragma: no cover - runs in the child
    """A terminal's Ctrl-C reaches the program: undo an inherited "ignore SIGINT" (pytest-xdist's workers
    ignore it, and a Python started with SIGINT ignored never raises KeyboardInterrupt)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_sandbox_command_and_its_options(isolated: Path) -> None:
    port = free_port()
    key = "a" * 32
    proc = subprocess.Popen(
        [*khalti_exe(), "sandbox", "--port", str(port), "--latency-ms", "60", "--ttl", "120", "--key", key],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=ctrl_c_works,
    )
    try:
        assert proc.stdout is not None
        url = proc.stdout.readline().strip()
        assert url == f"http://127.0.0.1:{port}"  # --port
        with httpx.Client(base_url=url, timeout=10) as client:
            wrong = client.post(INITIATE, json=DOCS_SAMPLE_BODY, headers={"Authorization": f"Key {TEST_KEY}"})
            assert wrong.status_code == 401  # --key: only that key is accepted
            right = client.post(INITIATE, json=DOCS_SAMPLE_BODY, headers={"Authorization": f"Key {key}"})
            assert right.status_code == 200, right.text
            body = right.json()
            assert body["expires_in"] == 120  # --ttl
            expires = datetime.fromisoformat(body["expires_at"])
            assert 0 < (expires - datetime.now(expires.tzinfo)).total_seconds() <= 120
        log = [proc.stdout.readline().strip() for _ in range(2)]  # one request-log line per request
        times = [float(m.group(1)) for line in log if (m := re.search(r"initiate/ \d+ ([\d.]+)ms", line))]
        assert len(times) == 2 and min(times) >= 60, log  # --latency-ms: every API answer waited that long
        proc.send_signal(signal.SIGINT)  # Ctrl-C stops it
        code = proc.wait(timeout=30)
        assert code in (0, 130), code
        assert "Traceback" not in (proc.stderr.read() if proc.stderr else "")
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    for bad in (["--port", "70000"], ["--latency-ms", "-1"], ["--ttl", "0"]):
        run = subprocess.run([*khalti_exe(), "sandbox", *bad], capture_output=True, text=True, timeout=30)
        assert run.returncode == 2 and "is not in the range" in run.stderr, (bad, run.stderr)


# --- exit 130 on Ctrl-C --------------------------------------------------------------------------------------


def test_ctrl_c_exits_130_and_changes_nothing(cli: Cli, configured: SandboxServer, isolated: Path) -> None:
    db = isolated / "khalti.db"
    assert cli("create", "--amount", "1000", "--name", "Fee", "--order-id", "C-1", "--initiate").exit_code == 0
    before = snapshot(db)
    fault(configured, {"delay_ms": 20_000, "path": "lookup"})  # a slow Khalti: the lookup hangs
    proc = subprocess.Popen(
        [*khalti_exe(), "reconcile"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "KHALTI_TIMEOUT": "30"},
        preexec_fn=ctrl_c_works,
    )
    deadline = time.monotonic() + 30
    while configured.state.faults():  # the lookup has reached the sandbox once its fault is taken
        assert time.monotonic() < deadline
        time.sleep(0.01)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 130, (out, err)
    assert "Traceback" not in err and err.strip(), err
    assert snapshot(db) == before
    check_invariants(db)
    assert cli("reconcile").exit_code == 0  # the lock was released with the process


# --- Khalti refuses the key: no further request -----------------------------------------------------------


@pytest.mark.parametrize("concurrency", [1, 4])
def test_import_initiate_stops_sending_when_the_key_is_refused(
    cli: Cli, configured: SandboxServer, isolated: Path, monkeypatch: pytest.MonkeyPatch, concurrency: int
) -> None:
    """The sandbox accepts only its own key; with another, the first answer is 401 and no request follows
    (beyond those already in flight, at most `concurrency`)."""
    rows = 20
    (isolated / "fees.csv").write_text("amount,name\n" + "".join(f"{1000 + i},Fee {i}\n" for i in range(rows)))
    monkeypatch.setenv("KHALTI_SECRET_KEY", "f" * 32)
    counter = 1000
    fault(configured, {"delay_ms": 0, "path": "initiate", "count": counter})  # counts the initiates that arrive
    run = cli("import", "fees.csv", "--initiate", "--concurrency", str(concurrency))
    assert run.exit_code == 4, run.stderr
    sent = counter - configured.state.faults()[0]["count"]
    assert 1 <= sent <= concurrency, sent
    assert configured.state.all() == []  # Khalti made no link
    payments = snapshot(isolated / "khalti.db")["payments"]
    assert len(payments) == rows and {p["status"] for p in payments.values()} == {"created"}
    check_invariants(isolated / "khalti.db")


# --- the retry schedule -------------------------------------------------------------------------------------

POLICY = RetryPolicy()


@settings(max_examples=200, derandomize=True, deadline=None)
@given(attempt=st.integers(1, 40), seed=st.integers(0, 2**32))
def test_backoff_is_capped_jittered_and_never_zero(attempt: int, seed: int) -> None:
    wait = POLICY.delay_ms(attempt, GatewayServerError("503", status_code=503), random.Random(seed))
    ceiling = min(POLICY.cap_ms, POLICY.base_ms * 2 ** (attempt - 1))
    assert ceiling // 2 <= wait <= ceiling <= POLICY.cap_ms
    assert wait > 0


@settings(max_examples=100, derandomize=True, deadline=None)
@given(retry_after=st.one_of(st.integers(0, 10**9), st.floats(0, 1e9, allow_nan=False)))
def test_retry_after_is_honoured_up_to_its_ceiling(retry_after: float) -> None:
    error = GatewayRateLimited("429", retry_after=retry_after)
    wait = POLICY.delay_ms(1, error, random.Random(0))
    assert wait == min(int(retry_after * 1000), POLICY.max_retry_after_ms)
    assert wait <= 60_000


def test_retries_stop_after_the_attempts_and_at_the_deadline() -> None:
    error = GatewayServerError("503", status_code=503)
    rng = random.Random(1)
    waits = [POLICY.next_wait(n, error, rng, None) for n in range(1, 6)]
    assert [w is not None for w in waits] == [True, True, True, False, False]  # 4 tries in all
    assert POLICY.next_wait(1, error, rng, time.monotonic()) is None  # no time left: give up at once
    assert POLICY.next_wait(1, GatewayRateLimited("429", retry_after=30), rng, time.monotonic() + 5) is None


# --- the terminal's import table ----------------------------------------------------------------------------


def test_import_table_on_a_terminal_stops_at_1000_rows(isolated: Path) -> None:
    rows = 1005
    (isolated / "big.csv").write_text(
        "amount,name,order_id\n" + "".join(f"1000,Fee {i},T-{i:04d}\n" for i in range(rows))
    )
    env = {**os.environ, "KHALTI_DB": str(isolated / "khalti.db"), "COLUMNS": "160"}
    code, screen = run_on_terminal(["import", str(isolated / "big.csv")], env)
    assert code == 0, screen[-2000:]
    assert f"the first 1000 of {rows}" in screen
    shown = set(re.findall(r"T-\d{4}", screen))
    assert len(shown) == 1000
    assert len(snapshot(isolated / "khalti.db")["payments"]) == rows  # every row is stored all the same


# --- the slip font warning ------------------------------------------------------------------------------------


def test_slips_warn_when_the_devanagari_font_is_missing(cli: Cli, configured: SandboxServer, isolated: Path) -> None:
    """The font package hidden (a module of that name that fails to import, first on the path): the slip is
    still written, and stderr says why Nepali text will show as boxes."""
    made = cli("create", "--amount", "1000", "--name", "शुल्क", "--order-id", "S-1", "--initiate")
    assert made.exit_code == 0, made.stderr
    hide = isolated / "hide"
    (hide / "fontpkg_noto_sans_devanagari").mkdir(parents=True)
    (hide / "fontpkg_noto_sans_devanagari" / "__init__.py").write_text("raise ImportError('hidden by the test')\n")
    env = {**os.environ, "PYTHONPATH": str(hide)}
    run = subprocess.run(
        [*khalti_exe(), "slips", "S-1", "--out", str(isolated / "slips")], capture_output=True, text=True, env=env
    )
    assert run.returncode == 0, run.stderr
    assert "Warning: The Devanagari font is not installed" in run.stderr
    assert "fontpkg-noto-sans-devanagari" in run.stderr
    assert [Path(line).exists() for line in run.stdout.splitlines()] == [True]
    with_font = cli("slips", "S-1", "--out", str(isolated / "slips2"))
    assert with_font.exit_code == 0 and "Devanagari font" not in with_font.stderr


# --- the terminal QR code -------------------------------------------------------------------------------------

# The terminal drawing without colour: one character is two modules, top and bottom; read here as a dark theme
# shows it (a block is light ink on a dark ground). Of the two codes drawn (for light and for dark screens),
# exactly the dark screen's scans without inverted scanning (tests/test_display.py reads both themes).
HALF_BLOCKS = {"█": (True, True), "▀": (True, False), "▄": (False, True), " ": (False, False)}


def qr_image(drawing: str, scale: int = 8) -> Any:
    from PIL import Image

    lines = [line for line in drawing.splitlines() if line and set(line) <= set(HALF_BLOCKS)]
    width = max(len(line) for line in lines)
    light = [[HALF_BLOCKS[c][half] for c in line.ljust(width, "█")] for line in lines for half in (0, 1)]
    quiet = 4
    image = Image.new("L", ((width + 2 * quiet) * scale, (len(light) + 2 * quiet) * scale), 255)
    for y, row in enumerate(light):
        for x, is_light in enumerate(row):
            if not is_light:
                image.paste(
                    0, ((x + quiet) * scale, (y + quiet) * scale, (x + quiet + 1) * scale, (y + quiet + 1) * scale)
                )
    return image


def test_terminal_qr_code_decodes_to_the_payment_url(cli: Cli, configured: SandboxServer) -> None:
    import zxingcpp

    assert cli("create", "--amount", "1000", "--name", "Fee", "--order-id", "Q-1").exit_code == 0
    run: Run = cli("initiate", "--qr", "Q-1")
    assert run.exit_code == 0, run.stderr
    url = run.stdout.strip()
    assert "Q-1: scan to pay" in run.stderr
    decoded = [result.text for result in zxingcpp.read_barcodes(qr_image(run.stderr), try_invert=False)]
    assert decoded == [url]
    assert [e["kind"] for e in events(Path.cwd() / "khalti.db", "Q-1")][-1] in ("initiate", "status")


# --- the sandbox's hold fault (what the refund kill test stands on) ---------------------------------------


def test_hold_fault_spec(api: httpx.Client, sandbox: SandboxServer) -> None:
    for bad in ({"hold": "yes"}, {"hold": True, "status": 503}, {"hold": True, "drop": True}):
        response = api.post("/sandbox/faults", json=bad)
        assert response.status_code == 400 and "hold" in response.json()["error"], (bad, response.text)
    assert api.post("/sandbox/faults", json={"hold": True, "path": "refund"}).status_code == 200
    assert sandbox.state.faults() == [{"count": 1, "path": "refund", "hold": True}]
    assert api.delete("/sandbox/faults").json() == {"faults": []}
