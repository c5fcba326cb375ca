"""A soak: hours of mixed traffic in minutes, and what it does to the server's memory.

Against one ``mockgun serve`` (messages capped at 500, events at 5,000, as a long-running
sidecar would be), a steady mix runs for ``--minutes`` (2 by default; ``--minutes 60`` for
the hour-long profile):

- sends (urlencoded, on keep-alive connections), a third with a 20 KB attachment;
- reads: the list, a message's detail, its ``.eml``, the events API;
- new TLS connections (a full handshake, one health check, a close);
- live-stream readers that connect, read a while and leave.

The server's RSS is sampled every 5 s. What it keeps by design is subtracted: the
in-memory handshake history (``handshake_log.in_memory_bytes`` in ``/mockgun/health``,
bounded at 64 MiB) grows with every handshake until its cap. The rest should be flat after
warm-up (the first quarter): the report gives its slope in MiB per hour.

Run: ``python bench/soak.py --minutes 2``.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import os
import ssl
import statistics
import sys
import tempfile
import time
from pathlib import Path

import aiohttp

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from churn import rss_mib  # noqa: E402 - the bench's own helpers
from handshakes import start  # noqa: E402

from mockgun.certs import ensure_certs  # noqa: E402

AUTH = {"Authorization": "Basic " + base64.b64encode(b"api:key-soak").decode()}
FORM = {"from": "a@example.com", "to": "b@example.com", "subject": "soak", "text": "hello"}


async def sender(session: aiohttp.ClientSession, base: str, stop: float) -> int:
    sent = 0
    while time.monotonic() < stop:
        data: aiohttp.FormData | dict[str, str] = FORM
        if sent % 3 == 0:
            form = aiohttp.FormData(FORM)
            form.add_field("attachment", os.urandom(20_000), filename="a.bin")
            data = form
        async with session.post(f"{base}/v3/example.com/messages", data=data, headers=AUTH) as r:
            await r.read()
        sent += 1
    return sent


async def reader(session: aiohttp.ClientSession, base: str, stop: float) -> int:
    reads = 0
    while time.monotonic() < stop:
        async with session.get(f"{base}/mockgun/messages?order=newest&limit=5") as r:
            items = (await r.json())["items"]
        newest = f"/mockgun/messages/{items[0]['id']}" if items else None
        for path in [newest, f"{newest}.eml"] if newest else []:
            async with session.get(f"{base}{path}") as r:
                await r.read()
        async with session.get(f"{base}/v3/example.com/events?limit=50", headers=AUTH) as r:
            await r.read()
        reads += 1
    return reads


async def handshaker(base: str, ctx: ssl.SSLContext, stop: float) -> int:
    made = 0
    while time.monotonic() < stop:
        async with (
            aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=ctx)) as fresh,
            fresh.get(f"{base}/mockgun/health") as r,
        ):
            await r.read()
        made += 1
    return made


async def streamer(session: aiohttp.ClientSession, base: str, stop: float) -> int:
    readers = 0
    while time.monotonic() < stop:
        async with session.get(f"{base}/mockgun/stream") as r:
            deadline = time.monotonic() + 2
            while time.monotonic() < deadline and await r.content.readany():
                pass
        readers += 1
    return readers


async def run(base: str, ca: Path, pid: int, minutes: float) -> None:
    ctx = ssl.create_default_context(cafile=str(ca))
    stop = time.monotonic() + minutes * 60
    samples: list[tuple[float, float, float]] = []
    opened: list[int] = []

    async def sample() -> None:
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=ctx)) as s:
            while time.monotonic() < stop:
                async with s.get(f"{base}/mockgun/health") as r:
                    health = await r.json()
                held = health["handshake_log"]["in_memory_bytes"] / 2**20
                opened.append(health["connections"]["open"])
                samples.append((time.monotonic(), rss_mib(pid), held))
                if len(samples) % 12 == 1:  # a line a minute, so that a long run shows progress
                    at, rss, _ = samples[-1]
                    minute = (at - samples[0][0]) / 60
                    print(
                        f"  {minute:5.1f} min: RSS {rss:.1f} MiB, history {held:.1f} MiB",
                        flush=True,
                    )
                await asyncio.sleep(5)  # the sampling period

    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=ctx, limit=8)) as s:
        counts = await asyncio.gather(
            sender(s, base, stop),
            sender(s, base, stop),
            reader(s, base, stop),
            handshaker(base, ctx, stop),
            streamer(s, base, stop),
            sample(),
        )
    print(
        f"sends {counts[0] + counts[1]}, read rounds {counts[2]}, new connections "
        f"{counts[3]}, stream readers {counts[4]}"
    )
    start_at = samples[0][0]
    warm = [s for s in samples if s[0] - start_at >= (stop - start_at) / 4]
    hours = [(t - start_at) / 3600 for t, _, _ in warm]
    unaccounted = [rss - held for _, rss, held in warm]
    slope = statistics.linear_regression(hours, unaccounted).slope if len(warm) > 2 else 0.0
    print("open connections every 5 s:", " ".join(map(str, opened)))
    print("RSS every 5 s:", " ".join(f"{rss:.0f}" for _, rss, _ in samples))
    print(
        f"RSS {samples[0][1]:.1f} -> {samples[-1][1]:.1f} MiB; handshake history "
        f"{samples[-1][2]:.1f} MiB (kept by design, up to 64 MiB)"
    )
    print(
        f"after warm-up, RSS less the history: {unaccounted[0]:.1f} -> {unaccounted[-1]:.1f} "
        f"MiB, slope {slope:+.1f} MiB/hour"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--minutes", type=float, default=2.0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        certs = Path(tmp) / "certs"
        ca = ensure_certs(certs).paths.ca_cert
        target = start(
            "mockgun",
            [
                *os.environ.get("SOAK_SERVER", f"{sys.executable} -m mockgun").split(),
                "serve",
                "--port",
                "0",
                "--certs-dir",
                str(certs),
                "--handshake-log",
                str(Path(tmp) / "h.jsonl"),
                "--max-messages",
                "500",
                "--max-events",
                "5000",
            ],
        )
        try:
            asyncio.run(run(f"https://localhost:{target.port}", ca, target.proc.pid, args.minutes))
        finally:
            target.stop()


if __name__ == "__main__":
    main()
