"""What the suppression check costs a send: sends/s with empty suppression lists, and with
100,000 bounces (and 100,000 unsubscribes) on the sending domain, on one mockgun.

    python bench/suppressions.py [--rounds 3] [--seconds 3] [--entries 100000]

The check is a dictionary lookup per recipient: the rate should not change with the lists'
size. wrk, keep-alive, 1 and 16 connections; the store is cleared after each measurement.
"""

from __future__ import annotations

import argparse
import json
import ssl
import statistics
import tempfile
import urllib.request
from pathlib import Path

from handshakes import clear, machine, requests, serve_cmd, start

AUTH = "Basic YXBpOmtleS1iZW5jaA=="  # api:key-bench, as post.lua sends


def fill(port: int, ca: Path, kind: str, entries: int) -> None:
    """``entries`` addresses (none of them post.lua's recipient) in 1,000-record JSON posts."""
    ctx = ssl.create_default_context(cafile=str(ca))
    for start_at in range(0, entries, 1000):
        records = [{"address": f"user{n}@example.org"} for n in range(start_at, start_at + 1000)]
        req = urllib.request.Request(
            f"https://127.0.0.1:{port}/v3/example.com/{kind}",
            data=json.dumps(records).encode(),
            headers={"Content-Type": "application/json", "Authorization": AUTH},
            method="POST",
        )
        with urllib.request.urlopen(req, context=ctx, timeout=30) as resp:  # noqa: S310 - https
            resp.read()


def measure(port: int, ca: Path, rounds: int, seconds: int) -> dict[int, float]:
    rates: dict[int, list[float]] = {1: [], 16: []}
    for _ in range(rounds):
        for connections in rates:
            rates[connections].append(requests(port, connections, seconds)[0])
            clear(port, ca)
    return {c: statistics.median(v) for c, v in rates.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=int, default=3)
    parser.add_argument("--entries", type=int, default=100_000)
    args = parser.parse_args()
    print(f"Machine: {machine()}")
    with tempfile.TemporaryDirectory() as tmp:
        certs = Path(tmp) / "certs"
        server = start("mockgun", serve_cmd(certs, Path(tmp) / "log.jsonl"))
        ca = certs / "ca.pem"
        try:
            empty = measure(server.port, ca, args.rounds, args.seconds)
            for kind in ("bounces", "unsubscribes"):
                fill(server.port, ca, kind, args.entries)
            full = measure(server.port, ca, args.rounds, args.seconds)
        finally:
            server.stop()
    print(f"\n### sends/s, empty lists vs {args.entries:,} bounces and unsubscribes\n")
    print("| connections | empty lists | full lists | ratio |")
    print("| --- | --- | --- | --- |")
    for connections in empty:
        ratio = full[connections] / empty[connections]
        cells = f"{empty[connections]:.0f} | {full[connections]:.0f} | **{ratio:.2f}x**"
        print(f"| {connections} | {cells} |")


if __name__ == "__main__":
    main()
