"""Start-up time: `khalti --version`, `khalti list` (opens the database) and `khalti --help` against a
bare `python -c pass`, median of N runs each, as ratios.

    python bench/startup.py [RUNS]     # goals: --version within 2x, --help and list within 4x of python -c pass
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def median_ms(cmd: list[str], env: dict[str, str], runs: int) -> float:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def main() -> None:
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 15
    khalti = str(Path(sys.executable).with_name("khalti"))
    with tempfile.TemporaryDirectory() as tmp:
        env = dict(os.environ, KHALTI_DB=str(Path(tmp) / "start.db"))
        subprocess.run([khalti, "list"], env=env, stdout=subprocess.DEVNULL, check=True)  # create + migrate once
        base = median_ms([sys.executable, "-c", "pass"], env, runs)
        print(f"python -c pass          {base:6.0f} ms")
        for label, args, goal in (
            ("khalti --version", ["--version"], 2),
            ("khalti --help", ["--help"], 4),
            ("khalti list", ["list"], 4),
        ):
            ms = median_ms([khalti, *args], env, runs)
            target = f" (goal <= {goal}x)" if goal else ""
            print(f"{label:22s}  {ms:6.0f} ms  {ms / base:4.1f}x{target}")


if __name__ == "__main__":
    main()
