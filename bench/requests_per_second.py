"""Keep-alive POST /v3/{domain}/messages per second: mockgun vs a handler that only parses the form.

    python bench/requests_per_second.py [--rounds 7] [--seconds 3] [--loop asyncio]

wrk with 1, 16 and 64 connections (one thread), interleaved rounds (A B, B A, ...), loopback
only; reports medians and the median of per-round ratios. mockgun's store is cleared after
each measurement so that it does not grow across rounds.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from pathlib import Path

from handshakes import HERE, clear, machine, run_wrk, serve_cmd, start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--seconds", type=int, default=3)
    parser.add_argument("--loop", default="asyncio", choices=["asyncio", "uvloop"])
    parser.add_argument(
        "--script", default="post.lua", help="post.lua (a small send) or post_html.lua (100 KB)"
    )
    args = parser.parse_args()
    print(f"Machine: {machine()}")
    with tempfile.TemporaryDirectory() as tmp:
        certs = Path(tmp) / "certs"
        mockgun = start(
            f"mockgun ({args.loop})",
            serve_cmd(certs, Path(tmp) / "log.jsonl", "--event-loop", args.loop),
        )
        baseline = start(
            f"parse-only handler ({args.loop})",
            [sys.executable, str(HERE / "parse_only_server.py"), str(certs), args.loop],
        )
        rates: dict[int, dict[str, list[float]]] = {c: {"a": [], "b": []} for c in (1, 16, 64)}
        p99: dict[int, dict[str, list[float]]] = {c: {"a": [], "b": []} for c in (1, 16, 64)}
        try:
            for r in range(args.rounds):
                for connections in rates:
                    order = [("a", mockgun), ("b", baseline)]
                    for key, target in order if r % 2 == 0 else reversed(order):
                        result = run_wrk(target.port, connections, args.seconds, args.script)
                        rates[connections][key].append(result.rate)
                        p99[connections][key].append(result.p99_ms)
                        if target is mockgun:
                            clear(target.port, certs / "ca.pem")
        finally:
            mockgun.stop()
            baseline.stop()
    print(f"\n### {mockgun.name} vs {baseline.name}, {args.rounds} rounds of {args.seconds}s\n")
    print(f"({args.script})\n")
    print(
        "| connections | mockgun req/s | parse-only req/s | ratio, median of rounds (min-max) "
        "| p99 mockgun | p99 parse-only | p99 ratio |"
    )
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for connections, values in rates.items():
        ratios = [a / b for a, b in zip(values["a"], values["b"], strict=True)]
        lat_a, lat_b = (
            statistics.median(p99[connections]["a"]),
            statistics.median(p99[connections]["b"]),
        )
        print(
            f"| {connections} | {statistics.median(values['a']):.0f} | "
            f"{statistics.median(values['b']):.0f} | **{statistics.median(ratios):.2f}x** "
            f"({min(ratios):.2f}-{max(ratios):.2f}) | {lat_a:.1f} ms | {lat_b:.1f} ms "
            f"| {lat_a / lat_b:.1f}x |"
        )


if __name__ == "__main__":
    main()
