"""Bill benchmark: `khalti bill --initiate` for N payers against the sandbox with a fixed latency, next to the
ideal N x latency / concurrency (every link request waiting its latency, `concurrency` at a time, and no other
cost at all). The command is the installed one: start-up, checks, one transaction for the N payments,
then the links on --concurrency threads, each written before and after its request.

    python bench/bill.py                          # 5,000 payers, 100 ms, concurrency 20
    python bench/bill.py --payers 500 --concurrency 8

Goal: at most 1.3x the ideal.
"""

from __future__ import annotations

import argparse
import csv
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from khalti_cli.sandbox import start_sandbox

BIN = Path(sys.executable).parent
KEY = "test_secret_key_bench"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--payers", type=int, default=5000)
    parser.add_argument("--latency-ms", type=int, default=100)
    parser.add_argument("--concurrency", type=int, default=20)
    args = parser.parse_args()
    n, latency, conc = args.payers, args.latency_ms, args.concurrency
    with tempfile.TemporaryDirectory() as tmp, start_sandbox(latency_ms=latency, key=KEY) as server:
        folder = Path(tmp)
        env = {k: v for k, v in os.environ.items() if not k.startswith("KHALTI_")}
        env.update(
            KHALTI_DB=str(folder / "k.db"),
            KHALTI_BASE_URL=server.url,
            KHALTI_SECRET_KEY=KEY,
            KHALTI_WEBSITE_URL="https://school.example.edu.np",
        )
        payers = folder / "payers.csv"
        with payers.open("w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            writer.writerow(["reference", "name", "group"])
            writer.writerows([f"S{i:05d}", f"छात्र {i}", f"Grade {1 + i % 10}"] for i in range(n))
        subprocess.run([str(BIN / "khalti"), "-q", "payers", "import", str(payers)], env=env, check=True)
        cmd = [str(BIN / "khalti"), "-q", "bill", "--month", "2083-08", "--fee", "Tuition=4500"]
        cmd += ["--fee", "Transport=1200", "--initiate", "--concurrency", str(conc), "--format", "tsv"]
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        started = time.perf_counter()
        proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
        took = time.perf_counter() - started
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
        if proc.returncode != 0:
            sys.exit(f"bill failed ({proc.returncode}): {proc.stderr[-2000:]}")
        links = sum(1 for line in proc.stdout.splitlines()[1:] if "\tinitiated\t" in line)
        ideal = n * latency / 1000 / conc
        print(f"payers {n}, latency {latency} ms, concurrency {conc}: {links} links made")
        print(f"khalti bill --initiate  {took:7.2f} s   (its CPU: {cpu:.2f} s, {1000 * cpu / n:.1f} ms a link)")
        print(f"ideal N*latency/conc    {ideal:7.2f} s   ratio {took / ideal:.2f}x (goal <= 1.3x)")
        print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPU(s)")
        print("goal met" if took <= 1.3 * ideal and links == n else "GOAL NOT MET")


if __name__ == "__main__":
    main()
