"""Reconcile benchmark: wall time against the ideal N x latency / concurrency, and peak memory.

    python bench/reconcile.py --links 2000 --latency-ms 100 --concurrency 20
    python bench/reconcile.py --links 100000 --latency-ms 0 --concurrency 20

Seeds N open links in an in-process sandbox (state.initiate, no HTTP) and N matching payments and links in
a fresh database (one bulk insert), then runs `khalti reconcile` as a subprocess, so the figures are the
real command's: start-up, HTTP on loopback, SQLite commits and all. Peak memory is the child's max RSS.
The one-at-a-time baseline (what the seed project and the peer libraries do: a plain loop of lookups)
is timed on a sample of links and scaled to N.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from khalti_cli.clock import stamp
from khalti_cli.gateway.client import KhaltiClient
from khalti_cli.sandbox import start_sandbox
from khalti_cli.store import open_store

KEY = "bench-key"


def seed(server: object, db_path: Path, n: int) -> list[str]:
    state = server.state  # type: ignore[attr-defined]
    pidxs = []
    payments, links = [], []
    at = stamp()
    for i in range(n):
        body = state.initiate(
            amount=150000,
            purchase_order_id=f"B-{i}",
            purchase_order_name="Bench fee",
            return_url="https://school.example.edu.np/paid",
            website_url="https://school.example.edu.np",
        )
        pidxs.append(body["pidx"])
        payments.append(
            {
                "id": i + 1,
                "order_id": f"B-{i}",
                "name": "Bench fee",
                "amount_paisa": 150000,
                "status": "initiated",
                "khalti_status": "Initiated",
                "pidx": body["pidx"],
                "payment_url": body["payment_url"],
                "created_at": at,
                "updated_at": at,
            }
        )
        links.append(
            {
                "id": i + 1,
                "payment_id": i + 1,
                "pidx": body["pidx"],
                "state": "open",
                "khalti_status": "Initiated",
                "amount_paisa": 150000,
                "payment_url": body["payment_url"],
                "created_at": at,
                "updated_at": at,
            }
        )
    # A third of the payers pay, a tenth cancel: reconcile has real changes to write.
    for i, pidx in enumerate(pidxs):
        if i % 3 == 0:
            state.complete(pidx)
        elif i % 10 == 1:
            state.cancel(pidx)
    store = open_store(db_path)
    with store.write():
        store.db.table("payments").insert_all(payments, batch_size=1000)
        store.db.table("links").insert_all(links, batch_size=1000)
    store.close()
    return pidxs


def _high_water_kb(pid: int) -> int:
    """The process's peak RSS so far (VmHWM). Not the child's ru_maxrss: a child forked from this big
    process (it holds the sandbox's N payments) is charged the parent's pages until it execs."""
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def one_at_a_time(url: str, pidxs: list[str], sample: int) -> float:
    """Seconds per lookup of a plain sequential loop (sync client, no concurrency)."""
    with KhaltiClient(url, KEY) as client:
        started = time.perf_counter()
        for pidx in pidxs[:sample]:
            client.lookup(pidx)
        return (time.perf_counter() - started) / sample


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--links", type=int, default=2000)
    parser.add_argument("--latency-ms", type=int, default=100)
    parser.add_argument("--concurrency", type=int, default=20)
    parser.add_argument("--sample", type=int, default=50, help="lookups timed for the sequential baseline")
    args = parser.parse_args()
    n, latency, conc = args.links, args.latency_ms, args.concurrency

    with tempfile.TemporaryDirectory() as tmp, start_sandbox(latency_ms=latency, key=KEY) as server:
        db_path = Path(tmp) / "bench.db"
        t0 = time.perf_counter()
        pidxs = seed(server, db_path, n)
        seeded = time.perf_counter() - t0
        env = dict(os.environ, KHALTI_DB=str(db_path), KHALTI_BASE_URL=server.url, KHALTI_SECRET_KEY=KEY)
        exe = Path(sys.executable).with_name("khalti")
        cmd = [str(exe), "-q", "reconcile", "--concurrency", str(conc), "--format", "json"]
        started = time.perf_counter()
        proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        peak_kb = 0
        while proc.poll() is None:
            peak_kb = max(peak_kb, _high_water_kb(proc.pid))
            time.sleep(0.05)
        wall = time.perf_counter() - started
        out, err = proc.communicate()
        peak_mb = peak_kb / 1024
        if proc.returncode not in (0, 5):
            sys.exit(f"reconcile failed ({proc.returncode}): {err}")
        summary = json.loads(out)
        per_lookup = one_at_a_time(server.url, pidxs, min(args.sample, n))

    ideal = n * latency / 1000 / conc
    sequential = per_lookup * n
    print(f"links {n}, latency {latency} ms, concurrency {conc} (seeded in {seeded:.1f} s)")
    print(
        f"reconcile: {wall:.2f} s wall ({summary['seconds']:.2f} s inside), "
        f"checked {summary['checked']}, changed {summary['changed']}, errors {summary['errors']}"
    )
    if ideal:
        print(f"ideal N x L / C: {ideal:.2f} s -> ratio {wall / ideal:.2f}x (goal <= 1.2x)")
    print(
        f"one-at-a-time loop: {sequential:.1f} s (measured {per_lookup * 1000:.1f} ms/lookup on "
        f"{min(args.sample, n)}) -> reconcile is {sequential / wall:.1f}x faster"
    )
    print(f"peak memory of the reconcile process: {peak_mb:.0f} MB (goal < 120 MB at N=100,000)")


if __name__ == "__main__":
    main()
