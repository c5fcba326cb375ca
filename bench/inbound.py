"""What receiving inbound mail costs: ``POST /mockgun/inbound`` per second with a ``store()``
route and with a ``forward()`` to a local app, beside plain sends, on one mockgun.

    python bench/inbound.py [--rounds 3] [--seconds 3]

One ``mockgun serve``; two routes (``store()`` for store@, ``forward()`` to an aiohttp app on
loopback that answers 200 for forward@); wrk with 1 and 8 keep-alive connections,
interleaved rounds, the store cleared after each. An inbound message (4 KB: text with a
signature and a quote, a PDF) is parsed and matched in a worker process (a round trip each),
and a forward waits for the app's answer before ``/mockgun/inbound`` answers.
"""

from __future__ import annotations

import argparse
import os
import ssl
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from pathlib import Path

from handshakes import clear, machine, requests, serve_cmd, start

APP = """
from aiohttp import web
async def ok(request):
    await request.read()
    return web.Response(text="ok")
app = web.Application()
app.router.add_post("/in", ok)
web.run_app(app, host="127.0.0.1", port=int(__import__("sys").argv[1]), print=None)
"""


def _route(port: int, ca: Path, expression: str, action: str) -> None:
    body = urllib.parse.urlencode({"expression": expression, "action": action}).encode()
    req = urllib.request.Request(
        f"https://127.0.0.1:{port}/v3/routes",
        data=body,
        headers={"Authorization": "Basic YXBpOmtleS1iZW5jaA=="},
    )
    ctx = ssl.create_default_context(cafile=str(ca))
    urllib.request.urlopen(req, context=ctx, timeout=10).read()  # noqa: S310 - loopback


def _free_port() -> int:
    import socket  # noqa: PLC0415

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=int, default=3)
    args = parser.parse_args()
    print(f"Machine: {machine()}")
    app_port = _free_port()
    receiver = subprocess.Popen([sys.executable, "-c", APP, str(app_port)])
    kinds = ("send", "store", "forward")
    rates: dict[int, dict[str, list[float]]] = {c: {k: [] for k in kinds} for c in (1, 8)}
    with tempfile.TemporaryDirectory() as tmp:
        certs = Path(tmp) / "certs"
        server = start("mockgun", serve_cmd(certs, Path(tmp) / "log.jsonl"))
        ca = certs / "ca.pem"
        try:
            _route(server.port, ca, "match_recipient('store@.*')", "store()")
            _route(
                server.port,
                ca,
                "match_recipient('forward@.*')",
                f"forward('http://127.0.0.1:{app_port}/in')",
            )
            time.sleep(0.5)  # the receiver's start-up (it is not measured)
            for r in range(args.rounds):
                for connections in rates:
                    order = list(kinds) if r % 2 == 0 else list(reversed(kinds))
                    for kind in order:
                        script = "post.lua" if kind == "send" else "post_inbound.lua"
                        os.environ["BENCH_INBOUND_TO"] = f"{kind}@app.example.com"
                        rate, _ = requests(server.port, connections, args.seconds, script)
                        rates[connections][kind].append(rate)
                        clear(server.port, ca)
        finally:
            server.stop()
            receiver.kill()
    print(f"\n### inbound messages vs plain sends, {args.rounds} rounds of {args.seconds}s\n")
    print("| connections | sends/s | inbound store()/s | ratio | inbound forward()/s | ratio |")
    print("| --- | --- | --- | --- | --- | --- |")
    for connections, values in rates.items():
        send = statistics.median(values["send"])
        cells = []
        for kind in ("store", "forward"):
            ratios = [k / s for k, s in zip(values[kind], values["send"], strict=True)]
            cells += [
                f"{statistics.median(values[kind]):.0f}",
                f"**{statistics.median(ratios):.2f}x** ({min(ratios):.2f}-{max(ratios):.2f})",
            ]
        print(f"| {connections} | {send:.0f} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
