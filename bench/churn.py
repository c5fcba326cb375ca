"""Connection churn: what many short TLS connections leave behind in the server's memory.

Side by side, interleaved by round: ``mockgun serve`` (own accept loop, handshake log,
per-connection deadline) and the same app behind a plain aiohttp ``TCPSite`` (the baseline,
``plain_server.py``). Each round opens N connections, ``CONCURRENCY`` at a time, each a full
TLS handshake, one ``GET /mockgun/health`` and a close; the servers' RSS is read before and
after. Run: ``python bench/churn.py --connections 20000``.

Before the per-connection deadline was cancelled on close, each closed connection stayed in
memory for the 30 s of its timer: 20,000 connections took mockgun from 70 MiB to 1 GiB.
"""

from __future__ import annotations

import argparse
import asyncio
import ssl
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from handshakes import Target, serve_cmd, start  # noqa: E402 - the bench's own helpers

from mockgun.certs import ensure_certs  # noqa: E402

CONCURRENCY = 32


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise SystemExit(f"no VmRSS for {pid}")


async def churn(port: int, ca: Path, connections: int) -> float:
    """Open ``connections`` short connections; returns the seconds it took."""
    ctx = ssl.create_default_context(cafile=str(ca))
    ctx.options |= ssl.OP_NO_TICKET  # a full handshake each time, no resumption
    left = iter(range(connections))

    async def worker() -> None:
        for _ in left:
            reader, writer = await asyncio.open_connection(
                "127.0.0.1", port, ssl=ctx, server_hostname="localhost"
            )
            writer.write(b"GET /mockgun/health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            await reader.read()
            writer.close()
            await writer.wait_closed()

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--connections", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=1)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        certs = Path(tmp) / "certs"
        ca = ensure_certs(certs).paths.ca_cert
        targets: list[Target] = [
            start(
                "mockgun",
                serve_cmd(certs, Path(tmp) / "h.jsonl", "--event-loop", "asyncio"),
            ),
            start(
                "plain TCPSite",
                [sys.executable, str(HERE / "plain_server.py"), str(certs), "asyncio"],
            ),
        ]
        try:
            baseline = {t.name: rss_mib(t.proc.pid) for t in targets}
            for r in range(args.rounds):
                order = targets if r % 2 == 0 else targets[::-1]
                for target in order:
                    seconds = asyncio.run(churn(target.port, ca, args.connections))
                    print(
                        f"round {r + 1} {target.name:<14} {args.connections} connections in "
                        f"{seconds:5.1f} s, RSS {rss_mib(target.proc.pid):6.1f} MiB"
                    )
            final = {t.name: rss_mib(t.proc.pid) for t in targets}
        finally:
            for target in targets:
                target.stop()
    for name in final:
        print(f"{name:<14} RSS {baseline[name]:6.1f} -> {final[name]:6.1f} MiB")
    mockgun, plain = final["mockgun"], final["plain TCPSite"]
    grown = (final["mockgun"] - baseline["mockgun"]) / max(
        final["plain TCPSite"] - baseline["plain TCPSite"], 0.1
    )
    print(f"final RSS ratio mockgun/plain: {mockgun / plain:.2f}x; growth ratio {grown:.2f}x")


if __name__ == "__main__":
    main()
