"""What rendering a stored template costs a send: sends/s with ``template=`` against the same
send with a plain body, on one mockgun, side by side.

    python bench/templates.py [--rounds 5] [--seconds 3]

One ``mockgun serve --templates DIR`` with a small receipt template (an ``if``, an ``each``, a
rendered Subject); wrk with 1 and 16 keep-alive connections, interleaved rounds (plain,
templated; templated, plain; ...), the store cleared after each. The render runs in a worker
process of its own (bounded in time and memory), so each templated send also pays a round
trip to it.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
from pathlib import Path

from handshakes import clear, machine, requests, serve_cmd, start

TEMPLATE = """---
Subject: Receipt for {{name}}
---
<p>{{#if vip}}Dear VIP {{/if}}{{name}},</p>
<ul>{{#each items}}<li>item {{this}}</li>{{/each}}</ul>
<p>Thank you for your order.</p>
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--seconds", type=int, default=3)
    args = parser.parse_args()
    print(f"Machine: {machine()}")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "templates"
        folder.mkdir()
        (folder / "bench.hbs").write_text(TEMPLATE)
        certs = Path(tmp) / "certs"
        server = start(
            "mockgun", serve_cmd(certs, Path(tmp) / "log.jsonl", "--templates", str(folder))
        )
        rates: dict[int, dict[str, list[float]]] = {c: {"plain": [], "tpl": []} for c in (1, 16)}
        scripts = {"plain": "post.lua", "tpl": "post_template.lua"}
        try:
            for r in range(args.rounds):
                for connections in rates:
                    order = ["plain", "tpl"] if r % 2 == 0 else ["tpl", "plain"]
                    for key in order:
                        rate, _ = requests(server.port, connections, args.seconds, scripts[key])
                        rates[connections][key].append(rate)
                        clear(server.port, certs / "ca.pem")
        finally:
            server.stop()
    print(f"\n### sends with a template vs without, {args.rounds} rounds of {args.seconds}s\n")
    print("| connections | plain sends/s | templated sends/s | ratio, median (min-max) |")
    print("| --- | --- | --- | --- |")
    for connections, values in rates.items():
        ratios = [t / p for t, p in zip(values["tpl"], values["plain"], strict=True)]
        print(
            f"| {connections} | {statistics.median(values['plain']):.0f} | "
            f"{statistics.median(values['tpl']):.0f} | **{statistics.median(ratios):.2f}x** "
            f"({min(ratios):.2f}-{max(ratios):.2f}) |"
        )


if __name__ == "__main__":
    main()
