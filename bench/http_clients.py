"""Why reconcile uses threads: httpx's AsyncClient against a thread pool sharing one sync Client.

    python bench/http_clients.py --requests 3000 --concurrency 20

Starts `khalti sandbox` as a separate process, then sends the same N lookups (of an unknown pidx: the
answer is a small 404 body) both ways, C in flight, and prints wall time and this process's CPU time per
request. Reconcile is CPU-bound on this side, so CPU per request is the figure that matters.
"""

from __future__ import annotations

import argparse
import asyncio
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

HEADERS = {"Authorization": "Key bench"}
PATH = "/api/v2/epayment/lookup/"
BODY = b'{"pidx": "benchbenchbenchbenchbe"}'


def threads(url: str, n: int, c: int) -> None:
    limits = httpx.Limits(max_connections=c, max_keepalive_connections=c)
    with httpx.Client(base_url=url, headers=HEADERS, limits=limits) as client, ThreadPoolExecutor(c) as pool:
        list(pool.map(lambda _: client.post(PATH, content=BODY), range(n)))


async def with_asyncio(url: str, n: int, c: int) -> None:
    limits = httpx.Limits(max_connections=c, max_keepalive_connections=c)
    async with httpx.AsyncClient(base_url=url, headers=HEADERS, limits=limits) as client:
        todo = iter(range(n))

        async def worker() -> None:
            for _ in todo:
                await client.post(PATH, content=BODY)

        await asyncio.gather(*(worker() for _ in range(c)))


def measure(label: str, run: object, n: int) -> None:
    wall, cpu = time.perf_counter(), time.process_time()
    run()  # type: ignore[operator]
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    print(f"{label:32s} wall {wall:6.2f} s   cpu {cpu * 1000 / n:5.2f} ms/request")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--concurrency", type=int, default=20)
    args = parser.parse_args()
    khalti = str(Path(sys.executable).with_name("khalti"))
    server = subprocess.Popen(
        [khalti, "sandbox", "--port", "0"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True
    )
    try:
        assert server.stdout is not None
        url = server.stdout.readline().strip()
        # The request log follows on stdout: drain it, or the sandbox blocks once the pipe is full.
        threading.Thread(target=server.stdout.read, daemon=True).start()
        n, c = args.requests, args.concurrency
        threads(url, 100, c)  # warm up both paths (imports, connections)
        asyncio.run(with_asyncio(url, 100, c))
        measure(f"threads + sync Client (C={c})", lambda: threads(url, n, c), n)
        measure(f"asyncio + AsyncClient (C={c})", lambda: asyncio.run(with_asyncio(url, n, c)), n)
    finally:
        server.terminate()
        server.wait()


if __name__ == "__main__":
    main()
