"""Remind benchmark: `khalti remind --via sms` for N payers at a given gateway latency, against the ideal.

    python bench/remind.py --payers 5000 --latency-ms 100 --concurrency 32

Seeds N unpaid fees (each with its own payment link, so every text is different and cannot share a
request) in a fresh database, serves the sandbox's Sparrow SMS emulator with --latency-ms per request,
and runs the real `khalti remind` as a subprocess: start-up, the ledger commits (every message recorded
before it is sent), HTTP on loopback and all. The ideal is the gateway time alone with the same number
of requests in flight: ceil(requests / concurrency) x latency, where requests = N (texts that are exactly
the same would share a request of up to 100 numbers; with --same-text, they do).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from khalti_cli.clock import stamp
from khalti_cli.sandbox import start_sandbox
from khalti_cli.store import open_store


def seed(db_path: Path, n: int, base_url: str) -> None:
    store = open_store(db_path)
    at = stamp()
    rows = [
        (f"R-{i}", "Tuition", 150000, "initiated", f"Parent {i}", f"98{i:08d}", f"{base_url}/?pidx=P{i:08d}", at, at)
        for i in range(n)
    ]
    with store.write():
        store.conn.executemany(
            "INSERT INTO payments (order_id, name, amount_paisa, status, customer_name, customer_phone, "
            "payment_url, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            rows,
        )
    store.close()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--payers", type=int, default=5000)
    parser.add_argument("--latency-ms", type=int, default=100)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--same-text", action="store_true", help="a template with no per-payer placeholder")
    args = parser.parse_args()
    exe = shutil.which("khalti", path=str(Path(sys.executable).parent)) or "khalti"
    with tempfile.TemporaryDirectory() as tmp, start_sandbox(latency_ms=args.latency_ms) as server:
        db = Path(tmp) / "bench.db"
        seed(db, args.payers, server.url)
        command = [
            exe,
            "remind",
            "--via",
            "sms",
            "--lang",
            "en",
            "--concurrency",
            str(args.concurrency),
            "--format",
            "json",
        ]
        requests = args.payers
        if args.same_text:
            template = Path(tmp) / "same.txt"
            template.write_text("School fees are due this week. Thank you.", encoding="utf-8")
            command += ["--template", str(template)]
            requests = math.ceil(args.payers / 100)
        env = dict(
            os.environ,
            KHALTI_DB=str(db),
            KHALTI_SMS_URL=f"{server.url}/v2",
            KHALTI_SMS_TOKEN="bench",
            KHALTI_SMS_FROM="Bench",
            KHALTI_QUIET_HOURS="off",
        )
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        started = time.perf_counter()
        done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
        wall = time.perf_counter() - started
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
        received = len(httpx.get(f"{server.url}/sandbox/sms").json()["messages"])
    ideal = math.ceil(requests / args.concurrency) * args.latency_ms / 1000
    print(
        json.dumps(
            {
                "payers": args.payers,
                "latency_ms": args.latency_ms,
                "concurrency": args.concurrency,
                "requests": requests,
                "exit": done.returncode,
                "summary": json.loads(done.stdout) if done.stdout.strip() else done.stderr[-300:],
                "received": received,
                "seconds": round(wall, 2),
                "ideal_seconds": round(ideal, 2),
                "ratio": round(wall / ideal, 3) if ideal else None,
                "khalti_cpu_seconds": round(cpu, 2),
                "load_average": os.getloadavg()[0],
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
