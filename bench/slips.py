"""Fee slips: `khalti slips` for N payments against the floor of Pillow saving N blank A6 PNGs, both in
this run (the machine's speed cancels out of the ratio).

    python bench/slips.py [N]        # default 1000; goal: slips <= 3x the blank-PNG floor
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from PIL import Image

from khalti_cli.services.slips import HEIGHT, WIDTH


def main() -> None:
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 1000
    khalti = str(Path(sys.executable).with_name("khalti"))
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        env = dict(os.environ, KHALTI_DB=str(root / "bench.db"))
        rows = ["order_id,amount,name,customer_name,reference"]
        names = ["राम बहादुर थापा", "सीता कुमारी शर्मा", "Hari Bahadur K.C.", "गीता गिरी"]
        for i in range(count):
            rows.append(f'B-{i:05d},{1500 + i},"कक्षा {i % 10 + 1} शुल्क, मंसिर",{names[i % 4]},S-{i}')
        (root / "fees.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")
        subprocess.run([khalti, "import", "fees.csv"], cwd=root, env=env, check=True, stdout=subprocess.DEVNULL)
        import sqlite3

        with sqlite3.connect(root / "bench.db") as conn:  # as if initiated: a live link each
            conn.execute(
                "UPDATE payments SET status = 'initiated', khalti_status = 'Initiated', "
                "payment_url = 'https://pay.khalti.com/?pidx=' || substr(hex(randomblob(11)), 1, 22), "
                "expires_at = strftime('%Y-%m-%dT%H:%M:%f+00:00', 'now', '+1 day')"
            )
        ids = "".join(f"B-{i:05d}\n" for i in range(count))

        blank_dir = root / "blank"
        blank_dir.mkdir()
        started = time.perf_counter()
        for i in range(count):
            Image.new("RGB", (WIDTH, HEIGHT), (255, 255, 255)).save(blank_dir / f"{i}.png", format="PNG")
        floor = time.perf_counter() - started

        started = time.perf_counter()
        subprocess.run(
            [khalti, "slips", "-", "--out", "slips"], input=ids, text=True, cwd=root, env=env, check=True,
            stdout=subprocess.DEVNULL,
        )  # fmt: skip
        slips = time.perf_counter() - started
        made = len(list((root / "slips").glob("*.png")))
        size = sum(p.stat().st_size for p in (root / "slips").glob("*.png")) / max(made, 1)
    print(f"{count} blank A6 PNGs saved by Pillow   {floor:7.2f} s")
    cpus = os.cpu_count()
    print(f"khalti slips for {made} payments       {slips:7.2f} s  ({size / 1024:.0f} KiB a slip, {cpus} CPUs)")
    print(f"ratio                                 {slips / floor:7.2f}x (goal <= 3x)")


if __name__ == "__main__":
    main()
