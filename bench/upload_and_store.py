"""Memory and time for big messages and many messages, measured against a real ``mockgun serve``.

    python bench/upload_and_store.py [--mib 25] [--messages 10000]

1. One attachment of ``--mib`` MiB: upload time, and the server's peak RSS above idle
   (``/proc/PID/status`` VmHWM after resetting it through ``/proc/PID/clear_refs``).
2. ``--messages`` small messages: the server's RSS after storing them, and the time of
   ``GET /mockgun/messages?to=...`` filtered to one recipient (median of 21 calls).
3. Start-up: from process start to the first successful TLS request, with and without
   existing certificates (median of 5 each).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import aiohttp
import requests

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from support import MockgunProcess, start_mockgun

sys.path.insert(0, str(Path(__file__).resolve().parent))
from handshakes import serve_cmd

FORM = {"from": "a@example.com", "subject": "bench", "text": "hello"}


def status_kib(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise KeyError(field)


def upload(server: MockgunProcess, mib: int) -> None:
    pid = server.proc.pid
    session = requests.Session()
    session.verify = str(server.ca_file)
    url = f"{server.base_url}/v3/example.com/messages"
    # Warm up: one small send, so that lazy imports and buffers are not counted.
    session.post(
        url, auth=("api", "k"), data={**FORM, "to": "w@example.com"}, verify=str(server.ca_file)
    )
    idle = status_kib(pid, "VmRSS")
    Path(f"/proc/{pid}/clear_refs").write_text("5")  # reset VmHWM to the current RSS
    payload = os.urandom(mib * 2**20)
    started = time.perf_counter()
    resp = session.post(
        url,
        auth=("api", "k"),
        data={**FORM, "to": "big@example.com"},
        files=[("attachment", ("big.bin", payload, "application/octet-stream"))],
        verify=str(server.ca_file),
        timeout=120,
    )
    elapsed = time.perf_counter() - started
    assert resp.status_code == 200, resp.text
    peak = status_kib(pid, "VmHWM")
    print(
        f"| {mib} MiB attachment | upload {elapsed:.2f} s | peak RSS above idle "
        f"{(peak - idle) / 1024:.0f} MiB = {(peak - idle) / 1024 / mib:.1f}x the message |"
    )


async def fill(server: MockgunProcess, count: int) -> None:
    ssl_ctx = __import__("ssl").create_default_context(cafile=str(server.ca_file))
    connector = aiohttp.TCPConnector(ssl=ssl_ctx, limit=16)
    auth = {"Authorization": "Basic YXBpOms="}  # api:k
    async with aiohttp.ClientSession(connector=connector) as session:
        sem = asyncio.Semaphore(16)

        async def one(n: int) -> None:
            async with sem:
                data = {**FORM, "to": f"user{n}@example.com"}
                url = f"{server.base_url}/v3/example.com/messages"
                async with session.post(url, data=data, headers=auth) as r:
                    assert r.status == 200

        await asyncio.gather(*(one(n) for n in range(count)))


def many(server: MockgunProcess, count: int) -> None:
    pid = server.proc.pid
    idle = status_kib(pid, "VmRSS")
    started = time.perf_counter()
    asyncio.run(fill(server, count))
    fill_time = time.perf_counter() - started
    rss = status_kib(pid, "VmRSS")
    session = requests.Session()
    url = f"{server.base_url}/mockgun/messages?to=user{count // 2}@example.com"
    times = []
    for _ in range(21):
        t = time.perf_counter()
        resp = session.get(url, verify=str(server.ca_file), timeout=30)
        times.append(time.perf_counter() - t)
        assert resp.status_code == 200 and resp.json()["total"] == 1
    print(
        f"| {count} messages | stored in {fill_time:.1f} s | RSS +{(rss - idle) / 1024:.0f} MiB "
        f"({(rss - idle) / count:.1f} KiB each) | filtered listing median "
        f"{statistics.median(times) * 1000:.1f} ms (client round trip) |"
    )


def startup(fresh: bool) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        certs = Path(tmp) / "certs"
        if not fresh:
            subprocess.run(
                [sys.executable, "-m", "mockgun", "certs", "--certs-dir", str(certs)],
                check=True,
                capture_output=True,
            )
        started = time.perf_counter()
        proc = subprocess.Popen(
            serve_cmd(certs, Path(tmp) / "log"),
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        assert proc.stdout is not None
        line = proc.stdout.readline()
        port = int(line.split("https://127.0.0.1:")[1].split()[0])
        resp = requests.get(
            f"https://127.0.0.1:{port}/mockgun/health", verify=str(certs / "ca.pem"), timeout=10
        )
        elapsed = time.perf_counter() - started
        assert resp.status_code == 200
        proc.terminate()
        proc.wait()
        return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mib", type=int, default=25)
    parser.add_argument("--messages", type=int, default=10_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        certs = Path(tmp) / "certs"
        server = start_mockgun(Path(tmp), certs, "--max-message-size", f"{args.mib + 1}MiB")
        try:
            upload(server, args.mib)
            many(server, args.messages)
        finally:
            server.stop()
    with_certs = statistics.median(startup(fresh=False) for _ in range(5))
    without = statistics.median(startup(fresh=True) for _ in range(5))
    print(
        f"| start-up to first TLS request | {with_certs:.2f} s with certificates | "
        f"{without:.2f} s without (generated) |"
    )


if __name__ == "__main__":
    main()
