"""The sandbox as a server: concurrency, keep-alive, quiet disconnects, its log, start and stop."""

from __future__ import annotations

import io
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest
from conftest_sandbox_helpers import DOCS_SAMPLE_BODY, INITIATE, KEY, LOOKUP, api_client, initiate, lookup

import khalti_cli
from khalti_cli.sandbox import start_sandbox


def _lookups_in_parallel(url: str, pidx: str, clients: int) -> tuple[float, list[int]]:
    codes: list[int] = []
    lock = threading.Lock()
    barrier = threading.Barrier(clients)

    def one() -> None:
        with api_client(url) as client:
            barrier.wait()
            code = lookup(client, pidx).status_code
        with lock:
            codes.append(code)

    threads = [threading.Thread(target=one) for _ in range(clients)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    return time.perf_counter() - started, codes


def test_twenty_concurrent_lookups_overlap() -> None:
    with start_sandbox(key=KEY, latency_ms=50) as server, api_client(server.url) as client:
        pidx = initiate(client)["pidx"]
        elapsed, codes = _lookups_in_parallel(server.url, pidx, 20)
    assert codes == [200] * 20
    assert elapsed < 20 * 0.050 / 2  # far less than half of doing them one after another


def test_many_clients_with_100ms_latency() -> None:
    with start_sandbox(key=KEY, latency_ms=100) as server, api_client(server.url) as client:
        pidx = initiate(client)["pidx"]
        elapsed, codes = _lookups_in_parallel(server.url, pidx, 30)
    assert codes == [200] * 30
    assert elapsed < 30 * 0.100 / 2


def test_keep_alive_and_content_length_on_every_answer() -> None:
    with start_sandbox(key=KEY) as server, api_client(server.url) as client:
        pidx = initiate(client)["pidx"]
        client.post("/sandbox/faults", json={"status": 503})
        answers = [
            client.post(INITIATE, json=DOCS_SAMPLE_BODY),  # the 503 fault
            client.post(LOOKUP.rstrip("/"), json={"pidx": pidx}),
            client.post(LOOKUP, json={"pidx": "unknown"}),
            client.get(INITIATE),
            client.get(f"/?pidx={pidx}"),
            client.post("/cancel", data={"pidx": pidx}),
            client.get("/nowhere"),
            client.get("/sandbox/payments"),
        ]
        assert [a.status_code for a in answers] == [503, 200, 404, 405, 200, 302, 404, 200]
        for answer in answers:
            assert int(answer.headers["content-length"]) == len(answer.content)
            assert answer.headers.get("connection") != "close"
            assert answer.http_version == "HTTP/1.1"


def test_chunked_request_body() -> None:
    with start_sandbox(key=KEY) as server, api_client(server.url) as client:
        response = client.post(LOOKUP, content=iter([b'{"pidx":', b' "HT6o6PEZRWFJ5ygavzHWd5"}']))
        assert response.status_code == 404
        assert response.json() == {"detail": "Not found.", "error_key": "validation_error"}


def test_log_has_one_line_per_request_and_never_the_key() -> None:
    log = io.StringIO()
    with start_sandbox(key=KEY, log=log) as server:
        with api_client(server.url) as client:
            pidx = initiate(client)["pidx"]
            lookup(client, pidx)
            client.post(LOOKUP, json={"pidx": pidx}, headers={"Authorization": f"Key {KEY}x"})
            client.get(f"/?pidx={pidx}")
        with api_client(server.url, keyword="key") as client:
            lookup(client, pidx)
    lines = log.getvalue().splitlines()
    assert len(lines) == 5
    assert lines[0].startswith("POST /api/v2/epayment/initiate/ 200 ") and lines[0].endswith("ms")
    assert lines[2].startswith("POST /api/v2/epayment/lookup/ 401 ")
    assert lines[3].startswith("GET / 200 ")
    assert KEY not in log.getvalue()
    assert "Authorization" not in log.getvalue()


def test_quiet_when_clients_hang_up(capfd: pytest.CaptureFixture[str]) -> None:
    with start_sandbox(key=KEY, latency_ms=100) as server:
        host, port = server.url.removeprefix("http://").split(":")
        for payload in (
            b'POST /api/v2/epayment/lookup/ HTTP/1.1\r\nHost: x\r\nContent-Length: 11\r\n\r\n{"pidx":1}\n',
            b"POST /api/v2/epayment/lookup/ HTTP/1.1\r\nHost: x\r\nContent-Length: 50\r\n\r\n{",  # short body
            b"GET / HTTP/1.1\r\nHo",  # half a request
        ):
            raw = socket.create_connection((host, int(port)))
            raw.sendall(payload)
            # RST instead of FIN, so the server's write fails with ConnectionReset / BrokenPipe.
            raw.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
            raw.close()
        time.sleep(0.3)
        with api_client(server.url) as client:  # still serving
            assert client.get("/").status_code == 200
    assert capfd.readouterr().err == ""


def test_shutdown_is_idempotent_and_closes_the_socket() -> None:
    server = start_sandbox()
    with api_client(server.url) as client:
        assert client.get("/").status_code == 200
        server.shutdown()
        server.shutdown()
        with pytest.raises(httpx.TransportError):
            client.get("/")
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", int(server.url.rsplit(":", 1)[1])), timeout=1).close()


def test_wildcard_bind_uses_the_callers_host_for_payment_urls() -> None:
    with start_sandbox(host="0.0.0.0") as server:
        port = server.url.rsplit(":", 1)[1]
        assert server.url == f"http://127.0.0.1:{port}"
        with api_client(f"http://localhost:{port}") as client:
            assert initiate(client)["payment_url"].startswith(f"http://localhost:{port}/?pidx=")


def test_serve_blocks_until_interrupted(tmp_path: Path) -> None:
    script = (
        "import sys\n"
        "from khalti_cli.sandbox import serve\n"
        "serve('127.0.0.1', 0, latency_ms=0, ttl=1800, key='k', log=sys.stdout,\n"
        "      ready=lambda url: print(url, flush=True))\n"
        "print('stopped', flush=True)\n"
    )
    root = str(Path(khalti_cli.__file__).resolve().parent.parent)
    env = {**os.environ, "PYTHONPATH": root + os.pathsep + os.environ.get("PYTHONPATH", "")}
    proc = subprocess.Popen(
        [sys.executable, "-c", script], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=tmp_path
    )
    try:
        assert proc.stdout is not None
        url = proc.stdout.readline().strip()
        assert url.startswith("http://127.0.0.1:")
        with api_client(url, key="k") as client:
            assert client.post(LOOKUP, json={"pidx": "x"}).status_code == 404
        # The log line is written just after the answer; wait for it before interrupting.
        assert proc.stdout.readline().startswith("POST /api/v2/epayment/lookup/ 404 ")
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=10)
    finally:
        proc.kill()
    assert proc.returncode == 0
    assert out == "stopped\n"  # serve() returned normally after Ctrl-C
    assert err == ""
