"""Import benchmark: `khalti import` of N rows next to `sqlite-utils insert --csv` of the same file, and
`khalti list --format jsonl` over them. Both are run as the installed commands, in the same run, on the
same machine, so start-up, parsing, checks, SQLite and output are all in the figures.

    python bench/import.py                 # 100,000 rows
    python bench/import.py --rows 20000 --repeat 3

Goals: import at most 1.5x sqlite-utils' time; list --format jsonl under 1 s. Also timed, for context:
`sqlite-utils insert --csv --no-detect-types` (sqlite-utils 4 detects column types by default; this stores
text as it is), and `khalti import --format jsonl` (the printed records made by SQLite).
The file has what a school's export has: quoted fields with commas and double quotes, Nepali names,
grouped amounts ("1,500.50"), an order id, email, phone and a reference per row. `khalti import` checks
every row (amount, name, order id, email, phone...) and writes a history event per payment;
`sqlite-utils insert --csv` stores the text as it is.
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

BIN = Path(sys.executable).parent
NAMES = ["राम बहादुर थापा", "Sita Sharma", "हरि प्रसाद अधिकारी", "Gita, Rai", 'Anil "Kaji" Shrestha', "सुनिता के.सी."]


def make_csv(path: Path, rows: int, with_order_id: bool) -> None:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        header = ["amount", "name", "customer_name", "customer_email", "customer_phone", "reference"]
        writer.writerow((["order_id"] if with_order_id else []) + header)
        for i in range(rows):
            rupees = 1000 + (i * 37) % 9000
            row = [
                f"{rupees // 1000},{rupees % 1000:03d}.50",
                "Grade 5 tuition, Mangsir 2082",
                NAMES[i % len(NAMES)],
                f"parent{i}@example.com",
                f"98{i:08d}",
                f"S-{i:06d}",
            ]
            writer.writerow(([f"FEE-2082-{i:06d}"] if with_order_id else []) + row)


def timed(cmd: list[str], env: dict[str, str]) -> tuple[float, float]:
    """(wall seconds, CPU seconds user+system) of one run of cmd, its output thrown away."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    proc = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env, text=True)
    elapsed = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        sys.exit(f"{' '.join(cmd)} failed ({proc.returncode}): {proc.stderr[-2000:]}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return elapsed, cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3, help="runs of each; the best is reported")
    parser.add_argument("--no-order-id", action="store_true", help="rows without order_id (khalti makes them)")
    args = parser.parse_args()

    env = {k: v for k, v in os.environ.items() if not k.startswith("KHALTI_")}
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        data = folder / "fees.csv"
        make_csv(data, args.rows, not args.no_order_id)
        size = data.stat().st_size
        python = sys.version.split()[0]
        print(f"{args.rows:,} rows, {size / 1e6:.1f} MB CSV; best of {args.repeat} run(s); python {python}")

        su_times: list[tuple[float, float]] = []
        text_times: list[tuple[float, float]] = []
        jsonl_times: list[tuple[float, float]] = []
        import_times: list[tuple[float, float]] = []
        list_times: list[tuple[float, float]] = []
        again_times: list[tuple[float, float]] = []
        for n in range(args.repeat):
            su_db, k_db = folder / f"su{n}.db", folder / f"k{n}.db"
            sqlite_utils = [str(BIN / "sqlite-utils"), "insert", str(su_db), "payments", str(data), "--csv"]
            su_times.append(timed(sqlite_utils, env))
            text_db = folder / f"text{n}.db"
            text_times.append(timed([*sqlite_utils[:2], str(text_db), *sqlite_utils[3:], "--no-detect-types"], env))
            khalti = [str(BIN / "khalti"), "--db", str(k_db), "-q"]
            import_times.append(timed([*khalti, "import", str(data), "--format", "tsv"], env))
            list_times.append(timed([*khalti, "list", "--format", "jsonl"], env))
            again_times.append(timed([*khalti, "import", str(data), "--format", "tsv"], env))
            jsonl_db = [str(BIN / "khalti"), "--db", str(folder / f"j{n}.db"), "-q"]
            jsonl_times.append(timed([*jsonl_db, "import", str(data), "--format", "jsonl"], env))

        (su, su_cpu), (imp, imp_cpu) = min(su_times), min(import_times)
        (lst, lst_cpu), (again, again_cpu) = min(list_times), min(again_times)
        (text, text_cpu), (jsonl, jsonl_cpu) = min(text_times), min(jsonl_times)
        print(f"{'':31}{'wall':>8}  {'cpu':>7}")
        print(f"sqlite-utils insert --csv      {su:7.2f}s  {su_cpu:6.2f}s")
        print(
            f"khalti import                  {imp:7.2f}s  {imp_cpu:6.2f}s   ratio {imp / su:.2f}x sqlite-utils wall, "
            f"{imp_cpu / su_cpu:.2f}x cpu (goal <= 1.5x)"
        )
        print(f"khalti import --format jsonl   {jsonl:7.2f}s  {jsonl_cpu:6.2f}s   ratio {jsonl / su:.2f}x sqlite-utils")
        print(f"khalti import again (no-op)    {again:7.2f}s  {again_cpu:6.2f}s   every row already there: skipped")
        print(f"khalti list --format jsonl     {lst:7.2f}s  {lst_cpu:6.2f}s   (goal < 1 s)")
        print(
            f"sqlite-utils --no-detect-types {text:6.2f}s  {text_cpu:6.2f}s   (text only, no checks): khalti import "
            f"is {imp / text:.2f}x its wall time, {jsonl / text:.2f}x with --format jsonl"
        )
        print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPU(s)")
        ok = imp <= 1.5 * su and lst < 1
        print("goals met" if ok else "GOALS NOT MET")


if __name__ == "__main__":
    main()
