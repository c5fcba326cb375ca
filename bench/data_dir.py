"""What ``--data-dir`` costs: sends/s and memory beside the in-memory server, and the start-up
time of a server that restores 100,000 messages.

    python bench/data_dir.py [--rounds 3] [--seconds 3] [--restore 100000]

Two ``mockgun serve`` side by side (one with ``--data-dir``), wrk with 16 keep-alive
connections, interleaved rounds, the stores cleared after each; RSS read at the end. Then the
``--data-dir`` server (``--max-messages 0``) is filled with ``--restore`` messages, stopped,
and started again: the time from the process start to its first answered health check.
"""

from __future__ import annotations

import argparse
import json
import ssl
import statistics
import tempfile
import time
import urllib.request
from pathlib import Path

from handshakes import clear, machine, requests, serve_cmd, start


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def count(port: int, ca: Path) -> int:
    ctx = ssl.create_default_context(cafile=str(ca))
    url = f"https://127.0.0.1:{port}/mockgun/messages?limit=0"
    with urllib.request.urlopen(url, context=ctx, timeout=30) as resp:
        return int(json.loads(resp.read())["total"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=int, default=3)
    parser.add_argument("--restore", type=int, default=100_000)
    args = parser.parse_args()
    print(f"Machine: {machine()}")
    with tempfile.TemporaryDirectory() as tmp:
        certs, data = Path(tmp) / "certs", Path(tmp) / "data"
        ca = certs / "ca.pem"
        memory = start("in memory", serve_cmd(certs, Path(tmp) / "a.jsonl"))
        kept = start(
            "--data-dir",
            serve_cmd(certs, Path(tmp) / "b.jsonl", "--data-dir", str(data), "--max-messages", "0"),
        )
        rates: dict[str, list[float]] = {"memory": [], "kept": []}
        try:
            for r in range(args.rounds):
                order = [("memory", memory), ("kept", kept)]
                for key, target in order if r % 2 == 0 else reversed(order):
                    rates[key].append(requests(target.port, 16, args.seconds)[0])
                    clear(target.port, ca)
            rss = {"memory": rss_mib(memory.proc.pid), "kept": rss_mib(kept.proc.pid)}
            memory.stop()
            # Fill the kept server, then time a restart that restores it all.
            while count(kept.port, ca) < args.restore:
                requests(kept.port, 16, 5)
            stored = count(kept.port, ca)
            kept.stop()
            size = sum(f.stat().st_size for f in data.rglob("*") if f.is_file())
            began = time.monotonic()
            again = start(
                "restored",
                serve_cmd(
                    certs, Path(tmp) / "c.jsonl", "--data-dir", str(data), "--max-messages", "0"
                ),
            )
            listening = time.monotonic() - began
            restored = count(again.port, ca)
            rss_restored = rss_mib(again.proc.pid)
            again.stop()
        finally:
            for target in (memory, kept):
                if target.proc.poll() is None:
                    target.stop()
    ratios = [k / m for k, m in zip(rates["kept"], rates["memory"], strict=True)]
    print(f"\n### sends/s with --data-dir vs in memory, 16 connections, {args.rounds} rounds\n")
    print("| | in memory | --data-dir | ratio, median (min-max) |")
    print("| --- | --- | --- | --- |")
    print(
        f"| sends/s | {statistics.median(rates['memory']):.0f} | "
        f"{statistics.median(rates['kept']):.0f} | **{statistics.median(ratios):.2f}x** "
        f"({min(ratios):.2f}-{max(ratios):.2f}) |"
    )
    print(f"| RSS after the rounds | {rss['memory']:.0f} MiB | {rss['kept']:.0f} MiB | |")
    print(
        f"\nRestart with {stored:,} stored messages ({size / 2**20:.0f} MiB on disk): listening "
        f"after **{listening:.1f} s**, {restored:,} messages back, RSS {rss_restored:.0f} MiB."
    )


if __name__ == "__main__":
    main()
