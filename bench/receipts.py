"""Receipts benchmark: `khalti receipt --all-new` for N paid payments next to Pillow alone saving N blank
pages of the same size (1240 x 1748 RGB PNG at 300 dpi), in the same run on the same machine.

    python bench/receipts.py               # 1,000 receipts
    python bench/receipts.py --receipts 200

The payments are billed with `khalti bill` (two fee heads, Nepali names) and stored paid through the store's
one payment writer (which gives the receipt numbers), so the command reads what it reads in real use.
Goal: at most 3x the blank pages' time.
"""

from __future__ import annotations

import argparse
import csv
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from khalti_cli.store import open_store
from khalti_cli.store import queries as q

BIN = Path(sys.executable).parent
NAMES = ["राम बहादुर थापा", "Sita Sharma", "हरि प्रसाद अधिकारी", "Gita Rai", "सुनिता के.सी."]


def khalti(db: Path, *args: str) -> float:
    started = time.perf_counter()
    proc = subprocess.run([str(BIN / "khalti"), "--db", str(db), "-q", *args], capture_output=True, text=True)
    if proc.returncode != 0:
        sys.exit(f"khalti {' '.join(args)} failed ({proc.returncode}): {proc.stderr[-2000:]}")
    return time.perf_counter() - started


def seed(folder: Path, n: int) -> Path:
    db = folder / "k.db"
    payers = folder / "payers.csv"
    with payers.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["reference", "name", "group"])
        for i in range(n):
            writer.writerow([f"S{i:05d}", NAMES[i % len(NAMES)], f"Grade {1 + i % 10}"])
    khalti(db, "payers", "import", str(payers))
    khalti(db, "bill", "--month", "2083-08", "--fee", "Tuition=4500", "--fee", "Transport=1,200.50", "--format", "tsv")
    store = open_store(db)
    try:
        with store.write():
            for row in list(store.query("SELECT id, updated_at FROM payments")):
                q.update_payment(
                    store,
                    row["id"],
                    {"status": "completed", "transaction_id": f"T{row['id']:08d}", "updated_at": row["updated_at"]},
                )
    finally:
        store.close()
    return db


def blank_pages(folder: Path, n: int) -> float:
    from PIL import Image

    folder.mkdir()
    started = time.perf_counter()
    for i in range(n):
        Image.new("RGB", (1240, 1748), (255, 255, 255)).save(folder / f"{i}.png", format="PNG", dpi=(300, 300))
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--receipts", type=int, default=1000)
    args = parser.parse_args()
    n = args.receipts
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        db = seed(folder, n)
        blank = blank_pages(folder / "blank", n)
        took = khalti(db, "receipt", "--all-new", "--out", str(folder / "receipts"))
        written = len(list((folder / "receipts").glob("*.png")))
        print(f"{n} receipts ({written} PNG files written), python {sys.version.split()[0]}")
        print(f"Pillow, {n} blank pages saved    {blank:7.2f} s")
        print(f"khalti receipt --all-new         {took:7.2f} s   ratio {took / blank:.2f}x (goal <= 3x)")
        print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPU(s)")
        print("goal met" if took <= 3 * blank and written == n else "GOAL NOT MET")


if __name__ == "__main__":
    main()
