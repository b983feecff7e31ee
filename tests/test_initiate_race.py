"""Two (or six) `initiate` of one payment at once make ONE live link, without --force: the status check and
the claim of the link are one write transaction (BEGIN IMMEDIATE), so every other run is refused with
exit 3 ("already has a live link", or "another khalti is making a link right now"). Real processes against
the sandbox with a slow initiate (the race window), and generated thread races on the service.

    python -m pytest -q -n 0 -s tests/test_initiate_race.py     (-s prints how many cases were tried)
"""

from __future__ import annotations

import os
import random
import sqlite3
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import TEST_KEY, Cli, khalti_exe
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from khalti_cli.config import load_settings
from khalti_cli.errors import InvalidInput
from khalti_cli.gateway.client import KhaltiClient
from khalti_cli.sandbox import SandboxServer, start_sandbox
from khalti_cli.services.payments import InitiateResult, initiate_many
from khalti_cli.store import open_store

TRIED: dict[str, int] = {}


@pytest.fixture(scope="module", autouse=True)
def report_counts() -> Iterator[None]:
    yield
    for name, n in TRIED.items():
        print(f"\n{name}: {n} generated cases")


@pytest.fixture
def slow_sandbox(monkeypatch: pytest.MonkeyPatch) -> Iterator[SandboxServer]:
    server = start_sandbox(key=TEST_KEY, latency_ms=1500)  # each initiate takes 1.5 s: the window of the race
    monkeypatch.setenv("KHALTI_BASE_URL", server.url)
    monkeypatch.setenv("KHALTI_SECRET_KEY", TEST_KEY)
    monkeypatch.setenv("KHALTI_WEBSITE_URL", "https://school.example.edu.np")
    monkeypatch.setenv("KHALTI_TIMEOUT", "10")
    try:
        yield server
    finally:
        server.shutdown()


def links_at_khalti(server: SandboxServer, order_id: str) -> int:
    return sum(p["purchase_order_id"] == order_id for p in server.state.all())


def live_links(db: Path, order_id: str) -> int:
    conn = sqlite3.connect(db)
    try:
        sql = (
            "SELECT count(*) FROM links l JOIN payments p ON p.id = l.payment_id "
            "WHERE p.order_id = ? AND l.state IN ('open', 'sending')"
        )
        return int(conn.execute(sql, [order_id]).fetchone()[0])
    finally:
        conn.close()


def test_initiates_at_once_in_real_processes_make_one_link(
    cli: Cli, slow_sandbox: SandboxServer, isolated: Path
) -> None:
    rng = random.Random(8)
    db = isolated / "khalti.db"
    for round_ in range(3):
        order_id = f"RACE-{round_}"
        assert cli("create", "--amount", "1500", "--name", "Fee", "--order-id", order_id).exit_code == 0
        n = rng.randint(2, 4)
        procs = []
        for _ in range(n):
            procs.append(
                subprocess.Popen(
                    [*khalti_exe(), "initiate", order_id],
                    stdout=subprocess.PIPE,
                    stderr=subprocess.PIPE,
                    text=True,
                    env=dict(os.environ),
                )
            )
            time.sleep(rng.uniform(0, 0.05))
        outcomes = [(p.wait(timeout=120), *p.communicate()) for p in procs]
        codes = sorted(code for code, _, _ in outcomes)
        assert codes == [0] + [3] * (n - 1), outcomes
        for code, out, err in outcomes:
            assert "Traceback" not in err
            if code == 3:
                assert "live link" in err or "right now" in err, err
            else:
                assert out.startswith("http")
        assert links_at_khalti(slow_sandbox, order_id) == 1
        assert live_links(db, order_id) == 1
    TRIED["initiate race: processes"] = 3


@settings(
    max_examples=20,
    deadline=None,
    derandomize=True,
    phases=(Phase.explicit, Phase.generate),
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(threads=st.integers(2, 6), latency_ms=st.sampled_from([0, 5, 30]), already=st.booleans())
def test_initiates_at_once_in_threads_make_one_link(
    cli: Cli, isolated: Path, threads: int, latency_ms: int, already: bool
) -> None:
    """Generated: 2-6 threads, each with its own database connection, initiate one payment at the same
    moment (a barrier); with `already`, the payment had a link that expired, so it is re-initiable."""
    TRIED["initiate race: threads"] = TRIED.get("initiate race: threads", 0) + 1
    server = start_sandbox(key=TEST_KEY, latency_ms=latency_ms)
    try:
        env = {
            "KHALTI_BASE_URL": server.url,
            "KHALTI_SECRET_KEY": TEST_KEY,
            "KHALTI_WEBSITE_URL": "https://school.example.edu.np",
            "KHALTI_DB": str(isolated / f"race-{threads}-{latency_ms}-{already}-{time.monotonic_ns()}.db"),
        }
        order_id = "T-1"
        assert cli("create", "--amount", "1500", "--name", "Fee", "--order-id", order_id, env=env).exit_code == 0
        if already:
            assert cli("initiate", order_id, env=env).exit_code == 0
            server.state.expire(server.state.all()[0]["pidx"])
            assert cli("lookup", order_id, env=env).exit_code == 0
        settings_ = load_settings(environ=env)
        barrier = threading.Barrier(threads)
        results: list[InitiateResult | BaseException] = []

        def one() -> None:
            store = open_store(settings_.db_path)
            client = KhaltiClient(settings_.base_url, TEST_KEY, timeout_ms=10_000)
            try:
                barrier.wait()
                results.extend(initiate_many(store, settings_, lambda: client, [order_id]))
            except BaseException as exc:
                results.append(exc)
            finally:
                client.close()
                store.close()

        workers = [threading.Thread(target=one) for _ in range(threads)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join(60)
        made = [r for r in results if isinstance(r, InitiateResult) and r.payment_url]
        refused = [r for r in results if not (isinstance(r, InitiateResult) and r.payment_url)]
        assert len(made) == 1, results
        for r in refused:
            error = r.error if isinstance(r, InitiateResult) else r
            assert isinstance(error, InvalidInput), results
        assert links_at_khalti(server, order_id) == 1 + int(already)
        assert live_links(Path(env["KHALTI_DB"]), order_id) == 1
    finally:
        server.shutdown()
