"""Start-up time: `khalti --version`, `khalti list` (opens the database) and `khalti --help` against a
bare `python -c pass`, median of N runs each, as ratios.

    python bench/startup.py [RUNS]     # goals: --version within 2x, --help and list within 4x of python -c pass

khalti's modules are compiled to bytecode first, as `pip install` does: a checkout installed with `pip
install -e` under PYTHONDONTWRITEBYTECODE=1 would otherwise recompile them from source on every run, which
is a cost no installed khalti pays (about 40 ms here).
"""

from __future__ import annotations

import compileall
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CASES = (  # label, arguments, goal (times python -c pass)
    ("khalti --version", ["--version"], 2),
    ("khalti --help", ["--help"], 4),
    ("khalti list", ["list"], 4),
)


def run_ms(cmd: list[str], env: dict[str, str]) -> float:
    started = time.perf_counter()
    subprocess.run(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
    return (time.perf_counter() - started) * 1000


def main() -> None:
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 15
    khalti = str(Path(sys.executable).with_name("khalti"))
    import khalti_cli

    compileall.compile_dir(str(Path(khalti_cli.__file__).parent), quiet=1)
    with tempfile.TemporaryDirectory() as tmp:
        env = dict(os.environ, KHALTI_DB=str(Path(tmp) / "start.db"))
        subprocess.run([khalti, "list"], env=env, stdout=subprocess.DEVNULL, check=True)  # create + migrate once
        # round robin: a burst of load on the machine slows every command of that round alike
        times: dict[str, list[float]] = {"base": [], **{label: [] for label, _a, _g in CASES}}
        for _ in range(runs):
            times["base"].append(run_ms([sys.executable, "-c", "pass"], env))
            for label, args, _goal in CASES:
                times[label].append(run_ms([khalti, *args], env))
        base = statistics.median(times["base"])
        print(f"python -c pass          {base:6.0f} ms")
        for label, _args, goal in CASES:
            ms = statistics.median(times[label])
            print(f"{label:22s}  {ms:6.0f} ms  {ms / base:4.1f}x (goal <= {goal}x)")


if __name__ == "__main__":
    main()
