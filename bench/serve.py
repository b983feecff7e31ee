"""Pay page benchmark: pay-page GETs against a hello-world route of the same server, with Debian's `wrk` at
50 concurrent connections; then again while `khalti reconcile` of 2,000 links writes to the same database.

    python bench/serve.py                       # 8 s per measurement, 50 connections
    python bench/serve.py --seconds 10 --connections 50 --links 2000

Not a test (no thresholds): it prints the figures and whether the goal held (pay page p99 <= 2x the
hello-world p99, no errors, no "database is locked"). The pay page runs as its own process (uvicorn, as
`khalti serve` runs it) with GET /hello added; the sandbox answers reconcile's lookups with --latency-ms so
that reconcile writes through the whole measurement. The machine's other load shows in the figures: run it
on a quiet machine, once.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from reconcile import KEY, seed

from khalti_cli.sandbox import start_sandbox
from khalti_cli.store import open_store

SERVER = """
import sys
from khalti_cli.config import load_settings
from khalti_cli.web.app import create_app
from khalti_cli.web.server import Running, bind, log_to, address
log_to(sys.stderr)
sock = bind("127.0.0.1", 0)
print(address(sock), flush=True)
running = Running(create_app(load_settings(), hello=True), sock=sock)
sys.stdin.read()  # until the benchmark closes our stdin
running.stop()
"""


def wrk(url: str, seconds: int, connections: int) -> dict[str, float]:
    out = subprocess.run(
        ["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--latency", "--timeout", "10s", url],
        capture_output=True,
        text=True,
        check=True,
    ).stdout

    def ms(label: str) -> float:
        found = re.search(rf"^\s*{label}\s+([\d.]+)(us|ms|s)\s*$", out, re.M)
        assert found, out
        value, unit = float(found.group(1)), found.group(2)
        return value / 1000 if unit == "us" else value * 1000 if unit == "s" else value

    requests = re.search(r"(\d+) requests in", out)
    rate = re.search(r"Requests/sec:\s+([\d.]+)", out)
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    socket = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    return {
        "p50": ms("50%"),
        "p99": ms("99%"),
        "requests": float(requests.group(1)) if requests else 0,
        "rps": float(rate.group(1)) if rate else 0,
        "errors": float(non2xx.group(1) if non2xx else 0) + (sum(map(int, socket.groups())) if socket else 0),
    }


def line(name: str, r: dict[str, float]) -> str:
    return (
        f"{name:<34} p50 {r['p50']:7.2f} ms  p99 {r['p99']:7.2f} ms  {r['rps']:7.0f} req/s  "
        f"{int(r['requests'])} requests, {int(r['errors'])} errors"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=int, default=8)
    parser.add_argument("--connections", type=int, default=50)
    parser.add_argument("--links", type=int, default=2000)
    parser.add_argument("--latency-ms", type=int, default=100, help="the sandbox's delay per lookup")
    args = parser.parse_args()
    if not shutil.which("wrk"):
        sys.exit("needs wrk: apt-get install wrk")

    with tempfile.TemporaryDirectory() as tmp, start_sandbox(latency_ms=args.latency_ms, key=KEY) as sandbox:
        db_path = Path(tmp) / "bench.db"
        seed(sandbox, db_path, args.links)
        store = open_store(db_path)
        with store.write():  # every payment has its pay page token, as after `khalti slips`
            store.conn.execute("UPDATE payments SET pay_token = 'bench-token-' || printf('%020d', id)")
        store.close()
        env = dict(
            os.environ,
            KHALTI_DB=str(db_path),
            KHALTI_BASE_URL=sandbox.url,
            KHALTI_SECRET_KEY=KEY,
            KHALTI_WEBSITE_URL="https://school.example.edu.np",
            KHALTI_PUBLIC_URL="https://fees.school.example.edu.np",
            KHALTI_SCHOOL_NAME="Shree Janapriya Secondary School",
        )
        log_path = Path(tmp) / "serve.log"  # the access log: a file, as journald would take it (a pipe fills)
        log_file = log_path.open("w")
        server = subprocess.Popen(
            [sys.executable, "-c", SERVER], env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=log_file, text=True,
        )  # fmt: skip
        assert server.stdout is not None and server.stdin is not None
        base = server.stdout.readline().strip()
        pay = f"{base}/pay/bench-token-{1000:020d}"
        hello = f"{base}/hello"
        try:
            wrk(pay, 2, args.connections)  # warm-up: threads, connections, page cache
            results = {"hello-world, idle": wrk(hello, args.seconds, args.connections)}
            results["pay page, idle"] = wrk(pay, args.seconds, args.connections)

            exe = Path(sys.executable).with_name("khalti")
            started = time.perf_counter()
            reconcile = subprocess.Popen(
                [str(exe), "-q", "reconcile", "--concurrency", "10", "--format", "json"],
                env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            )  # fmt: skip
            results["pay page, during reconcile"] = wrk(pay, args.seconds, args.connections)
            results["hello-world, during reconcile"] = wrk(hello, args.seconds, args.connections)
            still_running = reconcile.poll() is None
            out, err = reconcile.communicate()
            took = time.perf_counter() - started
        finally:
            server.stdin.close()
            server.wait(timeout=30)
            log_file.close()
        log = log_path.read_text()

    cpus = os.cpu_count()
    print(f"wrk -t2 -c{args.connections} -d{args.seconds}s, one `khalti serve` process (uvicorn), {cpus} CPUs")
    for name, r in results.items():
        print(line(name, r))
    print(
        f"reconcile of {args.links} links: exit {reconcile.returncode}, {took:.1f} s "
        f"({'covered both runs' if still_running else 'ended before the second run ended'}); {out.strip()}"
    )
    locked = len(re.findall(r"locked|busy", log, re.I))
    logged = log.count('"GET /pay/*** "') + log.count('"GET /pay/***"')
    errors = sum(int(r["errors"]) for r in results.values())
    print(f"server log: {logged} pay page GETs logged (token redacted), {locked} 'locked'/'busy' lines")
    print(f"errors in all runs: {errors}")
    for phase in ("idle", "during reconcile"):
        ratio = results[f"pay page, {phase}"]["p99"] / results[f"hello-world, {phase}"]["p99"]
        print(f"pay page p99 / hello-world p99, {phase}: {ratio:.2f} (goal <= 2)")
    if err.strip():
        print("reconcile stderr:", err.strip()[:500])


if __name__ == "__main__":
    main()
